"""IAM002 partial-cloud-access: the incident (storage yes, compute no) and its near misses."""

from __future__ import annotations

from tests.rules.iam_support import (  # noqa: F401  (_fresh_settings is an autouse fixture)
    EMAIL,
    USER_ARN,
    _fresh_settings,
    allow,
    aws_inventory,
    check,
    doc,
    everything_but,
    gcp_inventory,
    only,
    perms,
)


def test_the_incident_storage_works_compute_does_not():
    inv = gcp_inventory(perms("gcp", "storage"))
    f = only(check(inv, "IAM002", plan={"capabilities": ["storage", "compute"]}), "IAM002")
    assert f.status == "FAIL" and f.severity == "high" and f.resource == EMAIL
    assert f.message.startswith("storage works, compute does not: missing compute.firewalls.create, ")
    assert "a successful storage call proves nothing" in f.message
    assert f.details["works"] == ["storage"] and "compute.instances.create" in f.details["missing"]["compute"]


def test_several_failing_capabilities_are_each_named():
    inv = gcp_inventory(perms("gcp", "storage"))
    f = only(check(inv, "IAM002"), "IAM002")  # no plan: every capability
    assert f.message.startswith("storage works, compute, network and iam-pass-role do not: compute is missing "
                                "compute.firewalls.create")
    assert "iam-pass-role is missing iam.serviceAccounts.actAs" in f.message


def test_near_miss_nothing_works_is_not_partial():
    assert check(gcp_inventory([]), "IAM002") == []


def test_near_miss_everything_works():
    assert check(gcp_inventory(everything_but("gcp")), "IAM002") == []


def test_near_miss_single_capability_plan():
    assert check(gcp_inventory([]), "IAM002", plan={"capabilities": ["compute"]}) == []


def test_aws_partial_access():
    inv = aws_inventory(("p", doc(allow(["s3:*", "ec2:Describe*"]))))
    f = only(check(inv, "IAM002", plan={"capabilities": ["storage", "compute"]}), "IAM002")
    assert f.resource == USER_ARN
    assert f.message.startswith("storage works, compute does not: missing ec2:RunInstances, ec2:CreateTags, ")
