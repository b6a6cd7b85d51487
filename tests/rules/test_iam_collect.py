"""The `iam` extra collector against moto (users, groups, roles, boundaries, SCPs), its fallbacks,
IAM unreadable -> every IAM rule UNKNOWN (exit 3), and --simulate against a botocore Stubber."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from preflight import engine
from preflight.collect import aws, aws_iam
from preflight.collect.aws import AwsSession, Denied
from preflight.permissions import all_permissions
from preflight.settings import RunSettings
from tests.rules.iam_support import (  # noqa: F401  (_fresh_settings is an autouse fixture)
    _fresh_settings,
    allow,
    check,
    deny,
    doc,
    only,
)
from tests.rules.test_iam005_unused_permission import StubSession

REGION = "eu-south-1"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(tmp_path))


@pytest.fixture
def moto():
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def as_key(key):
    s = AwsSession(region=REGION)
    s.session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                              region_name=REGION)
    return s


def managed(iam, name, document):
    return iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]


def seed_user(iam):
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="inline-s3", PolicyDocument=json.dumps(doc(allow("s3:*"))))
    iam.attach_user_policy(UserName="dev", PolicyArn=managed(iam, "describe", doc(allow("ec2:Describe*"))))
    iam.create_group(GroupName="launchers")
    iam.add_user_to_group(GroupName="launchers", UserName="dev")
    iam.put_group_policy(GroupName="launchers", PolicyName="group-run",
                         PolicyDocument=json.dumps(doc(allow(["ec2:RunInstances", "ec2:CreateTags"]))))
    iam.attach_group_policy(GroupName="launchers",
                            PolicyArn=managed(iam, "no-terminate", doc({**deny("ec2:TerminateInstances"),
                                                                        "Sid": "KeepThem"}, allow("*"))))
    return iam.create_access_key(UserName="dev")["AccessKey"]


def test_user_policies_from_every_source(moto):
    inv = aws.collect(as_key(seed_user(moto)), REGION, needs={"iam"})
    data = inv.extra["iam"]
    assert data["principal"] == f"arn:aws:iam::{ACCOUNT}:user/dev" and data["kind"] == "user"
    assert sorted((p["name"], p["source"]) for p in data["policies"]) == [
        ("describe", "attached"), ("group-run", "group launchers"), ("inline-s3", "inline"),
        ("no-terminate", "group launchers")]
    assert "policies read with iam:GetAccountAuthorizationDetails" in data["notes"]
    assert data["verdicts"]["ec2:RunInstances"]["decision"] == "ALLOW"
    assert data["verdicts"]["ec2:TerminateInstances"]["decision"] == "DENY"
    f = only(check(inv), "IAM004")
    assert "ec2:TerminateInstances is allowed by no-terminate statement #2 but explicitly denied by no-terminate " \
           "statement KeepThem" in f.message


def test_per_principal_fallback_when_gaad_is_denied(moto, monkeypatch):
    def denied(*a, **k):
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}},
                                              "GetAccountAuthorizationDetails")

    monkeypatch.setattr(aws_iam, "_policies_via_gaad", denied)
    data = aws.collect(as_key(seed_user(moto)), REGION, needs={"iam"}).extra["iam"]
    assert "policies read with per-principal IAM reads" in data["notes"]
    assert len(data["policies"]) == 4 and data["verdicts"]["ec2:RunInstances"]["decision"] == "ALLOW"
    assert sorted((p["name"], p["source"]) for p in data["policies"]) == [
        ("describe", "attached"), ("group-run", "group launchers"), ("inline-s3", "inline"),
        ("no-terminate", "group launchers")]
    assert data["verdicts"]["ec2:TerminateInstances"]["decision"] == "DENY"


def test_iam_unreadable_makes_every_iam_rule_unknown_exit_3(moto, monkeypatch):
    def denied(*a, **k):
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "X")

    monkeypatch.setattr(aws_iam, "_policies_via_gaad", denied)
    monkeypatch.setattr(aws_iam, "_policies_per_principal", denied)
    inv = aws.collect(as_key(seed_user(moto)), REGION, needs={"iam", "iam_last_accessed"})
    assert [(u.resource_type, u.permission) for u in inv.unreadable if u.resource_type == "iam"] == [
        ("iam", "iam:GetAccountAuthorizationDetails")]
    rules = engine.select_rules(engine.load_rules(), ["IAM", "IAM005"])
    report = engine.run([inv], rules)
    assert sorted(f.rule for f in report.findings) == ["IAM001", "IAM002", "IAM003", "IAM004", "IAM005"]
    assert all(f.status == "UNKNOWN" and "iam:GetAccountAuthorizationDetails" in f.message for f in report.findings)
    assert report.exit_code() == 3


def test_role_with_boundary_via_assumed_role(moto):
    boundary = managed(moto, "only-s3", doc(allow("s3:*")))
    role = moto.create_role(RoleName="ci-launcher", AssumeRolePolicyDocument="{}",
                            PermissionsBoundary=boundary)["Role"]["Arn"]
    moto.attach_role_policy(RoleName="ci-launcher", PolicyArn=managed(moto, "admin", doc(allow("*"))))
    creds = boto3.client("sts", region_name=REGION).assume_role(RoleArn=role, RoleSessionName="build-42")["Credentials"]
    s = AwsSession(region=REGION)
    s.session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                              aws_session_token=creds["SessionToken"], region_name=REGION)
    inv = aws.collect(s, REGION, needs={"iam"})
    data = inv.extra["iam"]
    assert data["principal"] == f"arn:aws:iam::{ACCOUNT}:role/ci-launcher" and data["kind"] == "role"
    assert data["caller_arn"].endswith(":assumed-role/ci-launcher/build-42")
    assert data["boundary"]["name"] == "only-s3"
    found = check(inv, plan={"capabilities": ["compute", "storage"]})
    assert only(found, "IAM002").message.startswith("storage works, compute does not: missing ec2:RunInstances")
    assert "no statement in the permission boundary allows it" in only(found, "IAM004").message
    assert only(found, "IAM001").fix.commands[0].startswith("aws iam put-role-policy --role-name ci-launcher ")


def test_moto_default_identity_is_root_like_and_quiet(moto):
    inv = aws.collect(AwsSession(region=REGION), REGION, needs={"iam", "iam_last_accessed"})
    assert inv.extra["iam"]["kind"] == "root" and inv.extra["iam"]["method"] == "root"
    assert check(inv) == []


def test_scps_of_a_member_account(moto):
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    pid = org.create_policy(Content=json.dumps(doc({**deny("ec2:RunInstances"), "Sid": "NoLaunch"})),
                            Description="", Name="NoLaunch", Type="SERVICE_CONTROL_POLICY")
    pid = pid["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=pid, TargetId=member)
    levels, note = aws_iam.read_scps(AwsSession(region=REGION), REGION, member)
    assert [[p["name"] for p in level] for level in levels] == [["FullAWSAccess"], ["FullAWSAccess", "NoLaunch"]]
    mgmt, note = aws_iam.read_scps(AwsSession(region=REGION), REGION, ACCOUNT)
    assert mgmt is None and "management account" in note


def test_no_organization_means_no_scps(moto):
    levels, note = aws_iam.read_scps(AwsSession(region=REGION), REGION, ACCOUNT)
    assert levels is None and "not in an AWS Organization" in note


def test_federated_user_is_unknown():
    with StubSession("arn:aws:sts::123456789012:federated-user/bob") as s:
        data = aws_iam.collect_iam(s, "us-east-1", None)
    assert data["method"] == "unsupported"
    assert {v["decision"] for v in data["verdicts"].values()} == {"UNKNOWN"}


def test_simulate_uses_iam_policy_simulator():
    user = "arn:aws:iam::123456789012:user/sim"
    perms = all_permissions("aws")  # the catalogue's and every launcher profile's actions
    assert {"ec2:RunInstances", "iam:GetRole", "ec2:DeleteSecurityGroup"} <= set(perms)
    results = []
    for p in perms:
        r = {"EvalActionName": p, "EvalResourceName": "*", "EvalDecision": "allowed"}
        if p == "ec2:RunInstances":
            r.update(EvalDecision="explicitDeny",
                     MatchedStatements=[{"SourcePolicyId": "guardrail", "SourcePolicyType": "IAM Policy"}])
        elif p == "iam:PassRole":
            r["EvalDecision"] = "implicitDeny"
        elif p == "s3:CreateBucket":
            r["MissingContextValues"] = ["s3:LocationConstraint"]
        results.append(r)
    with StubSession(user, RunSettings(simulate=True)) as s:
        s.stubbers["iam"].add_response("simulate_principal_policy",
                                       {"EvaluationResults": results, "IsTruncated": False},
                                       {"PolicySourceArn": user, "ActionNames": perms, "MaxItems": 1000,
                                        "ContextEntries": [
                                           {"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["us-east-1"],
                                            "ContextKeyType": "string"}]})
        data = aws_iam.collect_iam(s, "us-east-1", None)
        s.stubbers["iam"].assert_no_pending_responses()
    v = data["verdicts"]
    assert data["method"] == "simulate"
    assert v["ec2:RunInstances"]["decision"] == "DENY"
    assert v["ec2:RunInstances"]["denied_by"][0]["policy"] == "guardrail"
    assert v["iam:PassRole"]["decision"] == "IMPLICIT_DENY"
    assert v["s3:CreateBucket"]["decision"] == "UNKNOWN" and "s3:LocationConstraint" in v["s3:CreateBucket"]["reason"]
    assert v["ec2:CreateTags"]["decision"] == "ALLOW"


def test_simulate_denied_names_the_permission():
    with StubSession("arn:aws:iam::123456789012:user/sim", RunSettings(simulate=True)) as s:
        s.stubbers["iam"].add_client_error("simulate_principal_policy", "AccessDenied", "no")
        with pytest.raises(Denied) as exc:
            aws_iam.collect_iam(s, "us-east-1", None)
    assert exc.value.permission == "iam:SimulatePrincipalPolicy"


def test_scenario_aws_no_run_instances():
    from preflight.collect.sandbox import get_scenario, sandbox
    from preflight.plan import plan_from_dict

    sc = get_scenario("aws-no-run-instances")
    with sandbox("aws-no-run-instances", REGION) as (session, seeder):
        inv = aws.collect(session, REGION, needs={"iam"})
    rules = engine.select_rules(engine.load_rules(), ["IAM"])
    found = engine.run([inv], rules, plan_from_dict(sc.plan)).findings
    assert {f.rule for f in found if f.status == "FAIL"} == set(sc.expect)
    assert only(found, "IAM001").resource == "arn:aws:iam::123456789012:user/launcher"
    assert only(found, "IAM001").details["missing"] == {"compute": ["ec2:RunInstances"]}


def test_expired_credentials_mid_read_are_a_credentials_error():
    from preflight.errors import CredentialsError

    with StubSession("arn:aws:iam::123456789012:user/dev") as s:
        s.stubbers["iam"].add_client_error("get_account_authorization_details", "ExpiredToken", "expired")
        with pytest.raises(CredentialsError) as exc:
            aws_iam.collect_iam(s, "us-east-1", None)
    assert "ExpiredToken" in str(exc.value) and "\n" not in str(exc.value)
