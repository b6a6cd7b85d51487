"""Permission scenarios: an AWS user that cannot launch, and a GCP account with storage only.

`aws-no-run-instances` runs as a moto IAM user (not moto's default identity, which may do
anything): the seeder creates the user and its access key and switches the sandbox session to
that key, so STS, the IAM collector and the rules see exactly what a real user would.

`gcp-storage-only` is a GCP scenario (`cloud="gcp"`): its seed function receives a
`preflight.collect.gcp.GcpWorld` — a loopback fake of the GCP APIs — instead of an AWS Seeder.
Check it with `preflight check --sandbox gcp-storage-only --cloud gcp`.
"""

from __future__ import annotations

import json
from typing import Any

from preflight.collect.sandbox import Seeder, scenario
from preflight.permissions import catalogue

LAUNCHER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadTheAccount", "Effect": "Allow", "Action": ["ec2:Describe*", "iam:GetInstanceProfile"],
         "Resource": "*"},
        {"Sid": "NetworkSetup", "Effect": "Allow",
         "Action": ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags"],
         "Resource": "*"},
        {"Sid": "Storage", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "PassInstanceRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Sid": "Lifecycle", "Effect": "Allow",
         "Action": ["ec2:StartInstances", "ec2:StopInstances", "ec2:TerminateInstances"], "Resource": "*"},
    ],
}


def become_user(s: Seeder, user: str, policy: dict[str, Any], policy_name: str = "launcher") -> dict[str, str]:
    """Create IAM user `user` with inline `policy`, give it an access key, and make the sandbox
    session act as that user from now on. Returns the key (moto's, fake)."""
    import boto3

    # A made-up identity: its verdicts must never enter (or be compared with) the real cache.
    s.session.settings = s.session.settings.without_cache()
    iam = s.session.client("iam", s.region)
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    aws_session = s.session
    aws_session.session = boto3.Session(aws_access_key_id=key["AccessKeyId"],
                                        aws_secret_access_key=key["SecretAccessKey"], region_name=s.region)
    aws_session._clients.clear()  # clients made so far carry the old credentials
    s.ids[user] = f"arn:aws:iam::{key.get('AccountId', '123456789012')}:user/{user}"
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


@scenario(
    "aws-no-run-instances",
    "A healthy network, but the launch user `launcher` may describe, tag, open ports, use S3 and pass "
    "roles — and not ec2:RunInstances",
    expect=("IAM001", "IAM002"),
    plan={"capabilities": ["compute", "network", "storage"]},
)
def aws_no_run_instances(s: Seeder) -> None:
    s.aws_like_default_vpc()
    become_user(s, "launcher", LAUNCHER_POLICY)


STORAGE_ONLY_ACCOUNT = "storage-only@demo-project.iam.gserviceaccount.com"
DEMO_PROJECT = "demo-project"


@scenario(
    "gcp-storage-only",
    "GCP (loopback fake): the service account can read and write Cloud Storage but holds no compute "
    "permission, as after the account switch in the incident. Use with --cloud gcp",
    expect=("IAM001", "IAM002"),
    plan={"project": DEMO_PROJECT, "capabilities": ["storage", "compute"]},
    cloud="gcp",
)
def gcp_storage_only(world: Any) -> None:
    world.add_project(DEMO_PROJECT)
    world.service_account(STORAGE_ONLY_ACCOUNT, grants=catalogue()["gcp"]["storage"].permissions)
