"""CMP006 dry-run-denied: RunInstances DryRun=True answered by moto, and by botocore's Stubber for
answers moto never gives (UnauthorizedOperation with an encoded message)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from preflight.collect import aws_compute as c
from preflight.collect.scenarios.compute import COMPUTE_PLAN
from preflight.inventory.model import Inventory
from tests.rules.cmp_support import READY_PLAN, REGION, as_plan, blockers, ready, run

ENCODED = ("You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/deployer is "
           "not authorized to perform: ec2:RunInstances. Encoded authorization failure message: AbC123xyz")


def test_dry_run_refused_by_moto_reports_code_and_message_verbatim() -> None:
    [f] = run("CMP006", blockers(), COMPUTE_PLAN)
    assert (f.rule, f.status, f.severity, f.resource) == ("CMP006", "FAIL", "high", "compute-profile")
    assert f.message == ("RunInstances (dry run) for the plan answered NoSuchEntity: "
                         "Instance profile compute-profile not found")
    assert f.details["code"] == "NoSuchEntity" and f.details["params"]["MinCount"] == 2
    assert f.fix is not None and f.fix.commands == (
        "aws ec2 run-instances --dry-run --image-id ami-0abcdef1234567890 --instance-type g4dn.xlarge --count 2 "
        "--key-name compute-key --iam-instance-profile Name=compute-profile "
        "--placement AvailabilityZone=eu-south-1a --region eu-south-1",)


def test_near_miss_dry_run_operation_is_no_finding() -> None:
    assert ready().extra["dry_run"]["code"] == "DryRunOperation"
    assert run("CMP006", ready(), READY_PLAN) == []


class StubSession:
    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def client(self, service: str, region: str) -> Any:
        return self.ec2


def test_unauthorized_operation_on_the_stubber() -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    plan = as_plan({"instance_type": "m5.large", "image": "ami-1", "subnets": ["subnet-1"],
                    "security_group": "sg-1", "spot": True, "count": 3,
                    "instance_profile": "arn:aws:iam::123456789012:instance-profile/app"})
    with Stubber(ec2) as stub:
        stub.add_client_error("run_instances", "UnauthorizedOperation", ENCODED, 403, expected_params={
            "DryRun": True, "ImageId": "ami-1", "InstanceType": "m5.large", "MinCount": 3, "MaxCount": 3,
            "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/app"},
            "SubnetId": "subnet-1", "SecurityGroupIds": ["sg-1"], "InstanceMarketOptions": {"MarketType": "spot"}})
        data = c.collect_dry_run(StubSession(ec2), REGION, plan)
        stub.assert_no_pending_responses()
    [f] = run("CMP006", Inventory(region=REGION, extra={"dry_run": data}), plan)
    assert f.resource == REGION
    assert f.message == f"RunInstances (dry run) for the plan answered UnauthorizedOperation: {ENCODED}"
    assert f.fix is not None
    assert f.fix.commands[0] == "aws sts decode-authorization-message --encoded-message ENCODED_MESSAGE"
    assert ("--subnet-id subnet-1 --security-group-ids sg-1 --instance-market-options MarketType=spot"
            in f.fix.commands[1])


def test_without_image_the_dry_run_is_skipped_and_unknown() -> None:
    data = c.collect_dry_run(None, REGION, as_plan({"instance_type": "m5.large"}))
    assert data == {"skipped": "the plan names no image"}
    [f] = run("CMP006", Inventory(region=REGION, extra={"dry_run": data}), {"instance_type": "m5.large"})
    assert f.status == "UNKNOWN" and "cannot dry-run the launch: the plan names no image" in f.message


def test_snapshot_without_a_dry_run_is_unknown() -> None:
    [f] = run("CMP006", Inventory(region=REGION), {"instance_type": "m5.large", "image": "ami-1"})
    assert f.status == "UNKNOWN" and "--dry-run-launch" in f.message
