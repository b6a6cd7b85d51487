"""IAM001 missing-permission: positive and near-miss cases on AWS and GCP."""

from __future__ import annotations

import pytest

from tests.rules.iam_support import (  # noqa: F401  (_fresh_settings is an autouse fixture)
    EMAIL,
    USER_ARN,
    _fresh_settings,
    allow,
    aws_inventory,
    check,
    deny,
    doc,
    everything_but,
    gcp_inventory,
    only,
    perms,
)

NO_RUN = doc(allow(["ec2:Describe*", "ec2:CreateTags", "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:StartInstances", "ec2:StopInstances", "ec2:TerminateInstances", "s3:*", "iam:PassRole",
                    "iam:GetInstanceProfile"]))


def test_aws_user_without_run_instances():
    f = only(check(aws_inventory(("launcher", NO_RUN)), "IAM001"), "IAM001")
    assert f.status == "FAIL" and f.resource == USER_ARN and f.severity == "high"
    assert "lacks 1 permission" in f.message and "compute: ec2:RunInstances" in f.message
    assert f.details["missing"] == {"compute": ["ec2:RunInstances"]}
    assert f.fix and f.fix.commands[0].startswith("aws iam put-user-policy --user-name alice ")
    # least privilege: RunInstances on the resources a launch here touches, not "*"
    assert '"Action":"ec2:RunInstances"' in f.fix.commands[0]
    assert '"arn:aws:ec2:eu-south-1:123456789012:instance/i-*"' in f.fix.commands[0]
    assert '"Resource":"*"' not in f.fix.commands[0]


def test_aws_near_miss_everything_granted():
    assert check(aws_inventory(("admin", doc(allow("*")))), "IAM001") == []


def test_aws_role_fix_uses_put_role_policy():
    f = only(check(aws_inventory(("p", doc(allow("ec2:*"))), kind="role", name="ci"), "IAM001"), "IAM001")
    assert f.resource.endswith(":role/ci")
    assert f.fix.commands[0].startswith("aws iam put-role-policy --role-name ci ")
    assert set(f.details["missing"]) == {"storage", "iam-pass-role"}


def test_plan_capabilities_limit_what_is_checked():
    inv = aws_inventory(("p", doc(allow(["ec2:*"]))))
    assert check(inv, "IAM001", plan={"capabilities": ["compute", "network"]}) == []
    f = only(check(inv, "IAM001", plan={"capabilities": ["compute", "storage"]}), "IAM001")
    assert list(f.details["missing"]) == ["storage"]


def test_explicit_deny_is_missing_and_points_to_iam004():
    inv = aws_inventory(("admin", doc(allow("*"))), ("guard", doc({**deny("ec2:RunInstances"), "Sid": "NoRun"})))
    f = only(check(inv, "IAM001"), "IAM001")
    assert "explicitly denied: ec2:RunInstances; see IAM004" in f.message


def test_undecidable_condition_is_unknown_never_pass():
    # Scoped to the instance, as AWS recommends: without a plan the instance type is not known.
    guard = deny("ec2:RunInstances", "arn:aws:ec2:*:*:instance/*",
                 Condition={"StringNotEquals": {"ec2:InstanceType": "t3.micro"}})
    inv = aws_inventory(("admin", doc(allow("*"))), ("guard", doc(guard)))
    f = only(check(inv, "IAM001"), "IAM001")
    assert f.status == "UNKNOWN" and f.resource == USER_ARN
    assert "ec2:RunInstances" in f.message and "ec2:InstanceType" in f.message
    # ... and decided once the plan fixes it
    assert check(inv, "IAM001", plan={"instance_type": "t3.micro", "capabilities": ["compute"]}) == []
    f = only(check(inv, "IAM001", plan={"instance_type": "g5.xlarge", "capabilities": ["compute"]}), "IAM001")
    assert f.status == "FAIL" and "ec2:RunInstances" in f.message


def test_instance_type_guard_on_every_resource_denies_every_launch():
    # AWS's documented pitfall: the subnet, image, group... requests of RunInstances carry no
    # ec2:InstanceType, so an unscoped StringNotEquals guard denies them all.
    guard = deny("ec2:RunInstances", Condition={"StringNotEquals": {"ec2:InstanceType": "t3.micro"}})
    inv = aws_inventory(("admin", doc(allow("*"))), ("guard", doc(guard)))
    f = only(check(inv, "IAM001", plan={"instance_type": "t3.micro", "capabilities": ["compute"]}), "IAM001")
    assert f.status == "FAIL" and "explicitly denied: ec2:RunInstances" in f.message
    v = f.details["verdicts"]["ec2:RunInstances"]
    assert v["decision"] == "DENY" and ":image/ami-*" in v["resource"]


def test_malformed_policy_document_is_unknown():
    inv = aws_inventory(("broken", {"Statement": [{"Effect": "Allow", "Resource": "*"}]}))
    f = only(check(inv, "IAM001"), "IAM001")
    assert f.status == "UNKNOWN"
    assert "malformed policy document" in f.message and "broken" in f.message


@pytest.mark.parametrize("document", [
    "{not json",  # not JSON at all
    {"Statement": [{"Effect": "Allow", "Action": 7, "Resource": "*"}]},  # a number as the action
    {"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": "yes"}]},
    {"Statement": "everything"},
    ["not", "an", "object"],
])
def test_malformed_policy_is_one_unknown_line_naming_it(document):
    inv = aws_inventory(("good", doc(allow("*"))), ("odd-types", document))
    f = only(check(inv, "IAM001", plan={"instance_type": "t3.medium"}), "IAM001")
    assert f.status == "UNKNOWN" and f.resource == USER_ARN
    assert "malformed policy document" in f.message and "policy odd-types" in f.message
    assert "\n" not in f.message


def test_root_is_never_missing_anything():
    inv = aws_inventory()
    inv.extra["iam"]["kind"] = "root"
    assert check(inv, "IAM") == []


def test_gcp_storage_only_lists_compute_permissions():
    inv = gcp_inventory(perms("gcp", "storage"))
    f = only(check(inv, "IAM001", plan={"capabilities": ["storage", "compute"]}), "IAM001")
    assert f.resource == EMAIL and f.region == "global"
    assert "compute: compute.firewalls.create" in f.message and "on project proj-1" in f.message
    assert f.fix.commands[0].startswith("gcloud iam roles create preflightLaunch --project=proj-1 "
                                        "--permissions=compute.firewalls.create,")
    assert f.fix.commands[1] == (f"gcloud projects add-iam-policy-binding proj-1 --member=serviceAccount:{EMAIL} "
                                 "--role=projects/proj-1/roles/preflightLaunch")


def test_gcp_near_miss_one_permission_short_and_full():
    f = only(check(gcp_inventory(everything_but("gcp", "compute.firewalls.create")), "IAM001"), "IAM001")
    assert f.details["missing"] == {"compute": ["compute.firewalls.create"]}
    assert check(gcp_inventory(everything_but("gcp")), "IAM001") == []


def test_no_permission_data_collected_means_no_finding():
    from preflight.inventory.model import Inventory

    assert check(Inventory(account="1", region="eu-south-1"), "IAM") == []
