"""`preflight iam-policy` grants every AWS call a collection makes: every botocore client made while
collecting a moto account gets a before-call hook that records `<signing name>:<operation>` (the IAM
action), and each recorded action must be in the generated read-only policy."""

from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from moto import mock_aws

from preflight import iam_policy
from preflight.collect import aws, aws_iam
from preflight.collect.aws import AwsSession

REGION = "eu-south-1"


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """IAM actions of every AWS call made while the test runs."""
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(tmp_path))  # no permission cache between runs
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    calls: set[str] = set()

    def record(model=None, **_):
        calls.add(f"{model.service_model.signing_name}:{model.name}")

    real = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        client = real(self, *args, **kwargs)
        client.meta.events.register("before-call", record, unique_id="test-iam-policy-recorder")
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    return calls


def read_actions() -> set[str]:
    return set(iam_policy.policy_document("check")["Statement"][0]["Action"])


def read_only_extras() -> set[str]:
    from preflight.collect import aws_compute  # noqa: F401  (registers the compute extras)

    return set(aws.EXTRA_COLLECTORS) - {"dry_run"}


def test_a_compute_plan_collection_calls_only_what_the_policy_grants(recorded):
    from preflight.collect.sandbox import get_scenario, sandbox
    from preflight.plan import plan_from_dict

    plan = plan_from_dict(get_scenario("compute-blockers").plan, "compute-blockers")
    with sandbox("compute-blockers", REGION, amis=True) as (session, _):
        recorded.clear()  # the seeding is not preflight's
        aws.collect(session, REGION, read_only_extras(), plan)
    # The plan names a type, image, key pair and profile: every compute extra really called AWS.
    assert {"ec2:DescribeInstanceTypeOfferings", "ec2:DescribeImages", "ec2:DescribeKeyPairs",
            "iam:GetInstanceProfile", "servicequotas:ListServiceQuotas", "ec2:DescribeSecurityGroupRules",
            "sts:GetCallerIdentity"} <= recorded
    assert recorded - read_actions() == set()


def _seed_user(iam) -> dict[str, str]:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*",
                                                              "Resource": "*"}]})
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="inline", PolicyDocument=doc)
    arn = iam.create_policy(PolicyName="managed", PolicyDocument=doc)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="dev", PolicyArn=arn)
    iam.create_group(GroupName="launchers")
    iam.add_user_to_group(GroupName="launchers", UserName="dev")
    iam.put_group_policy(GroupName="launchers", PolicyName="group-inline", PolicyDocument=doc)
    iam.attach_group_policy(GroupName="launchers", PolicyArn=arn)
    return iam.create_access_key(UserName="dev")["AccessKey"]


def _as(key: dict[str, str]) -> AwsSession:
    s = AwsSession(region=REGION)
    s.session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                              region_name=REGION)
    return s


@pytest.mark.parametrize("per_principal", [False, True], ids=["account-authorization-details", "per-principal"])
def test_an_iam_user_collection_calls_only_what_the_policy_grants(recorded, monkeypatch, per_principal):
    if per_principal:  # the fallback the collector takes when GetAccountAuthorizationDetails is denied
        monkeypatch.setattr(aws_iam, "_policies_via_gaad", lambda *a: (_ for _ in ()).throw(
            botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "X")))
    with mock_aws():
        key = _seed_user(boto3.client("iam", region_name=REGION))
        boto3.client("organizations", region_name=REGION).create_organization(FeatureSet="ALL")
        recorded.clear()
        inv = aws.collect(_as(key), REGION, {"iam", "iam_last_accessed"})
    # (moto answers GenerateServiceLastAccessedDetails with NotImplemented: the call is still made.)
    assert inv.extra["iam"]["kind"] == "user" and "iam" not in inv.unreadable_types()
    expected = {"iam:ListGroupsForUser", "iam:GetGroupPolicy", "iam:GetPolicyVersion"} if per_principal else \
        {"iam:GetAccountAuthorizationDetails"}
    assert expected | {"iam:GenerateServiceLastAccessedDetails", "organizations:DescribeOrganization"} <= recorded
    assert recorded - read_actions() == set()


def test_an_undeclared_call_is_caught(recorded, monkeypatch):
    """The near miss: a collector whose declaration lacks an action it calls fails the comparison."""
    from preflight.collect.sandbox import get_scenario, sandbox
    from preflight.plan import plan_from_dict

    read_only_extras()
    monkeypatch.setitem(aws.EXTRA_PERMISSIONS, "key_pairs", ())
    plan = plan_from_dict(get_scenario("compute-blockers").plan, "compute-blockers")
    with sandbox("compute-blockers", REGION) as (session, _):
        recorded.clear()
        aws.collect(session, REGION, {"key_pairs"}, plan)
    assert recorded - read_actions() == {"ec2:DescribeKeyPairs"}


def test_bad_purpose_is_a_one_line_error():
    from preflight.errors import PreflightError

    with pytest.raises(PreflightError,
                       match=r"--for: unknown purpose 'write' \(one of: check, fix, launch, ports-ledger\)"):
        iam_policy.policy_document("write")


def test_ports_ledger_policy_is_exactly_what_the_dynamodb_ledger_calls():
    """`iam-policy --for ports-ledger` (issue 18): the DynamoDB ledger's actions, from the same
    catalogue entry the ledger's own test keeps equal to its calls; nothing else."""
    from preflight.iam_policy import policy_document
    from preflight.ports_dynamodb import INIT_PERMISSIONS, PERMISSIONS

    doc = policy_document("ports-ledger")
    (statement,) = doc["Statement"]
    assert statement["Sid"] == "PreflightPortsLedger"
    assert set(statement["Action"]) == set(PERMISSIONS) | set(INIT_PERMISSIONS)
    assert "dynamodb:PutItem" not in json.dumps(policy_document("launch"))
