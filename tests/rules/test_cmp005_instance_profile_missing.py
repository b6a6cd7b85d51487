"""CMP005 instance-profile-missing: profiles from moto IAM; the PassRole verdict from IAM's policy
simulator on botocore's Stubber (moto does not implement SimulatePrincipalPolicy)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from preflight.collect import aws_compute as c
from preflight.collect.aws import Denied
from preflight.collect.scenarios.compute import COMPUTE_PLAN
from preflight.inventory.model import Inventory, Unreadable
from tests.rules.cmp_support import READY_PLAN, REGION, as_plan, blockers, extras_in_moto, ready, run

ROLE = "arn:aws:iam::123456789012:role/app-role"
USER = "arn:aws:iam::123456789012:user/deployer"


def profile(**data: Any) -> Inventory:
    prof = {"name": "app", "found": True, "arn": "arn:aws:iam::123456789012:instance-profile/app",
            "roles": [{"name": "app-role", "arn": ROLE}], **data}
    return Inventory(region=REGION, extra={"instance_profiles": prof})


def test_missing_profile_in_moto() -> None:
    [f] = run("CMP005", blockers(), COMPUTE_PLAN)
    assert (f.rule, f.status, f.severity, f.resource) == ("CMP005", "FAIL", "high", "compute-profile")
    assert "instance profile compute-profile does not exist in the account" in f.message
    assert f.fix is not None
    assert f.fix.commands[0] == "aws iam create-instance-profile --instance-profile-name compute-profile"


def test_profile_without_a_role_in_moto() -> None:
    def seed(s: Any) -> None:
        s.session.client("iam", REGION).create_instance_profile(InstanceProfileName="empty")
    i = extras_in_moto(seed, {"instance_profile": "empty"}, "instance_profiles")
    [f] = run("CMP005", i, {"instance_profile": "empty"})
    assert f.resource == "empty" and "holds no role, so instances launched with it get no credentials" in f.message
    assert f.fix is not None and "add-role-to-instance-profile --instance-profile-name empty" in f.fix.commands[0]


def test_profile_named_by_arn() -> None:
    assert c.profile_name("arn:aws:iam::123456789012:instance-profile/team/app") == "app"
    assert c.profile_name("app") == "app"


def test_near_miss_existing_profile_with_a_role_in_moto() -> None:
    # moto's caller is its catch-all identity, which IAM does not limit (like the account root).
    assert ready().extra["instance_profiles"]["pass_role"]["method"] == "root"
    assert run("CMP005", ready(), READY_PLAN) == []


def test_pass_role_denied_and_allowed() -> None:
    [f] = run("CMP005", profile(pass_role={"decision": "denied", "eval_decision": "implicitDeny",
                                           "principal": USER}), {"instance_profile": "app"})
    assert f.status == "FAIL" and f.resource == "app" and f.path == (USER, ROLE, "app")
    assert f"{USER} may not iam:PassRole {ROLE} (implicitDeny)" in f.message
    assert f.fix is not None and f.fix.commands[0].startswith(
        "aws iam put-user-policy --user-name deployer --policy-name pass-app-role --policy-document ")
    assert '"iam:PassedToService":"ec2.amazonaws.com"' in f.fix.commands[0]
    assert run("CMP005", profile(pass_role={"decision": "allowed", "principal": USER}),
               {"instance_profile": "app"}) == []


class StubSession:
    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str, region: str) -> Any:
        return self.clients[service]


def _clients() -> tuple[Any, Any]:
    return boto3.client("iam", region_name=REGION), boto3.client("sts", region_name=REGION)


def test_simulator_verdicts_on_the_stubber() -> None:
    iam, sts = _clients()
    with Stubber(iam) as si, Stubber(sts) as ss:
        ss.add_response("get_caller_identity", {"Arn": "arn:aws:sts::123456789012:assumed-role/Ops/session-1",
                                                "Account": "123456789012", "UserId": "AROA:session-1"})
        si.add_response("get_role", {"Role": {"Path": "/team/", "RoleName": "Ops", "RoleId": "AROAEXAMPLE1234567",
                                              "Arn": "arn:aws:iam::123456789012:role/team/Ops",
                                              "CreateDate": "2024-01-01T00:00:00Z"}}, {"RoleName": "Ops"})
        si.add_response("simulate_principal_policy", {"EvaluationResults": [{
            "EvalActionName": "iam:PassRole", "EvalResourceName": ROLE, "EvalDecision": "explicitDeny",
            "MatchedStatements": [{"SourcePolicyId": "deny-pass"}]}]}, {
            "PolicySourceArn": "arn:aws:iam::123456789012:role/team/Ops", "ActionNames": ["iam:PassRole"],
            "ResourceArns": [ROLE], "ContextEntries": [{"ContextKeyName": "iam:PassedToService",
                                                        "ContextKeyValues": ["ec2.amazonaws.com"],
                                                        "ContextKeyType": "string"}]})
        verdict = c.simulate_pass_role(StubSession(iam=iam, sts=sts), REGION, ROLE)
        si.assert_no_pending_responses()
    assert verdict["decision"] == "denied" and verdict["matched"] == ["deny-pass"]
    assert verdict["principal"] == "arn:aws:iam::123456789012:role/team/Ops"
    [f] = run("CMP005", profile(pass_role=verdict), {"instance_profile": "app"})
    assert "aws iam put-role-policy --role-name Ops" in f.fix.commands[0]


def test_simulator_access_denied_is_unknown_naming_the_permission() -> None:
    iam, sts = _clients()
    with Stubber(iam) as si, Stubber(sts) as ss:
        ss.add_response("get_caller_identity", {"Arn": USER, "Account": "123456789012", "UserId": "AIDA"})
        si.add_client_error("simulate_principal_policy", "AccessDenied", "not authorized", 403)
        verdict = c.simulate_pass_role(StubSession(iam=iam, sts=sts), REGION, ROLE)
    assert verdict["decision"] == "unknown" and verdict["permission"] == "iam:SimulatePrincipalPolicy"
    [f] = run("CMP005", profile(pass_role=verdict), {"instance_profile": "app"})
    assert f.status == "UNKNOWN" and "grant iam:SimulatePrincipalPolicy" in f.message
    assert f.details["permissions"] == ["iam:SimulatePrincipalPolicy"]


def test_get_instance_profile_denied_names_the_permission() -> None:
    iam, _ = _clients()
    with Stubber(iam) as si:
        si.add_client_error("get_instance_profile", "AccessDenied", "not authorized", 403)
        with pytest.raises(Denied) as exc:
            c.collect_instance_profile(StubSession(iam=iam), REGION, as_plan({"instance_profile": "app"}))
    assert exc.value.permission == "iam:GetInstanceProfile"
    denied = Unreadable("instance_profiles", "AccessDenied", "iam:GetInstanceProfile")
    i = Inventory(region=REGION, unreadable=(denied,))
    [f] = run("CMP005", i, {"instance_profile": "app"})
    assert f.status == "UNKNOWN" and "grant iam:GetInstanceProfile" in f.message


class NoSimulator:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Arn": USER}

    def simulate_principal_policy(self, **_: Any) -> Any:
        raise NotImplementedError("The simulate_principal_policy action has not been implemented")


def test_simulator_not_implemented_is_unknown() -> None:
    fake = NoSimulator()
    verdict = c.simulate_pass_role(StubSession(iam=fake, sts=fake), REGION, ROLE)
    assert verdict == {"decision": "unknown", "reason": "the IAM policy simulator is not available here",
                       "permission": "iam:SimulatePrincipalPolicy"}
    [f] = run("CMP005", profile(pass_role=verdict), {"instance_profile": "app"})
    assert f.status == "UNKNOWN" and f.path == (ROLE, "app")
    assert f"cannot tell whether the caller may iam:PassRole {ROLE}" in f.message


# --- the local policy evaluator on the caller's policies (the `iam` extra of the IAM rules) -------------

def iam_extra(*statements: dict[str, Any], boundary: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "user", "principal": USER, "account": "123456789012", "method": "local",
            "policies": [{"name": "deployer-policy", "document": {"Version": "2012-10-17",
                                                                   "Statement": list(statements)}}],
            "boundary": boundary, "scps": None}


def with_iam(iam: dict[str, Any]) -> Inventory:
    i = profile(pass_role={"decision": "unknown", "reason": "the IAM policy simulator is not available here",
                           "permission": "iam:SimulatePrincipalPolicy"})
    return Inventory(region=REGION, extra={**i.extra, "iam": iam})


PASS_TO_EC2 = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE,
               "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}


@pytest.mark.parametrize(("statements", "status", "text"), [
    ([PASS_TO_EC2], None, ""),
    ([{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}], None, ""),
    ([{**PASS_TO_EC2, "Resource": "arn:aws:iam::123456789012:role/other"}], "FAIL",
     "(implicitDeny, your IAM policies, evaluated locally)"),
    ([{**PASS_TO_EC2, "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}],
     "FAIL", "(implicitDeny, your IAM policies, evaluated locally)"),
    ([PASS_TO_EC2, {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/app-*"}],
     "FAIL", "(explicitDeny, your IAM policies, evaluated locally)"),
    ([{**PASS_TO_EC2, "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}}], "UNKNOWN", "grant"),
])
def test_local_evaluation_of_pass_role(statements: list[dict[str, Any]], status: str | None, text: str) -> None:
    found = run("CMP005", with_iam(iam_extra(*statements)), {"instance_profile": "app"})
    if status is None:
        assert found == []
        return
    [f] = found
    assert f.status == status and f.resource == "app" and text in f.message
    if status == "FAIL":
        assert f"{USER} may not iam:PassRole {ROLE}" in f.message
        assert f.details["matched"] or "implicitDeny" in f.message


def test_simulator_answer_wins_over_local_evaluation() -> None:
    i = with_iam(iam_extra(PASS_TO_EC2))
    prof = {**i.extra["instance_profiles"], "pass_role": {"decision": "denied", "eval_decision": "explicitDeny",
                                                           "principal": USER, "matched": ["scp-deny"]}}
    [f] = run("CMP005", Inventory(region=REGION, extra={**i.extra, "instance_profiles": prof}),
              {"instance_profile": "app"})
    assert f.status == "FAIL" and f.details["matched"] == ["scp-deny"]
