"""IAM004 explicit-deny: a deny statement, a boundary or an SCP blocks what a policy allows."""

from __future__ import annotations

from tests.rules.iam_support import (  # noqa: F401  (_fresh_settings is an autouse fixture)
    USER_ARN,
    _fresh_settings,
    allow,
    aws_inventory,
    check,
    deny,
    doc,
    gcp_inventory,
    only,
)


def test_deny_statement_is_named():
    inv = aws_inventory(("AdminAccess", doc(allow("*"))),
                        ("guardrail", doc({**deny(["ec2:RunInstances", "ec2:TerminateInstances"]), "Sid": "NoLaunch"})))
    f = only(check(inv, "IAM004"), "IAM004")
    assert f.status == "FAIL" and f.severity == "high" and f.resource == USER_ARN
    assert ("ec2:RunInstances is allowed by AdminAccess statement #1 but explicitly denied by guardrail statement "
            "NoLaunch") in f.message
    assert set(f.details["denied"]) == {"ec2:RunInstances", "ec2:TerminateInstances"}
    assert "Another Allow will not help" in f.message


def test_boundary_that_does_not_allow():
    inv = aws_inventory(("AdminAccess", doc(allow("*"))), boundary=doc(allow(["s3:*", "ec2:Describe*"])))
    f = only(check(inv, "IAM004", plan={"capabilities": ["compute"]}), "IAM004")
    assert "ec2:RunInstances is allowed by AdminAccess statement #1 but no statement in the permission boundary " \
           "allows it" in f.message


def test_boundary_explicit_deny():
    inv = aws_inventory(("AdminAccess", doc(allow("*"))),
                        boundary=doc(allow("*"), {**deny("iam:PassRole"), "Sid": "NoPass"}))
    f = only(check(inv, "IAM004"), "IAM004")
    assert "iam:PassRole is allowed by AdminAccess statement #1 but explicitly denied by permission boundary " \
           "boundary statement NoPass" in f.message


def test_scp_deny():
    scp = [{"name": "FullAWSAccess", "document": doc(allow("*"))},
           {"name": "region-guard", "document": doc({**deny("ec2:*"), "Sid": "OnlyOtherRegions"})}]
    inv = aws_inventory(("AdminAccess", doc(allow("*"))), scps=[scp])
    f = only(check(inv, "IAM004", plan={"capabilities": ["compute"]}), "IAM004")
    assert "explicitly denied by SCP region-guard statement OnlyOtherRegions" in f.message


def test_near_miss_denied_but_never_allowed_is_iam001_only():
    inv = aws_inventory(("ReadOnly", doc(allow("ec2:Describe*"), deny("ec2:RunInstances"))))
    assert check(inv, "IAM004") == []
    assert only(check(inv, "IAM001"), "IAM001").status == "FAIL"


def test_near_miss_deny_of_something_else():
    inv = aws_inventory(("AdminAccess", doc(allow("*"), deny("dynamodb:*"))))
    assert check(inv, "IAM004") == []


def test_gcp_has_no_explicit_deny_rule():
    assert check(gcp_inventory([]), "IAM004") == []
