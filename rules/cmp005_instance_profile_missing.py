"""CMP005 instance-profile-missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import shell


def _principal_name(arn: str) -> tuple[str, str]:
    """('role'|'user', name) from an IAM principal ARN, for the fix command."""
    tail = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, rest = tail.partition("/")
    return kind, rest.rsplit("/", 1)[-1]


def local_pass_role(extra: dict[str, Any], role_arn: str, region: str) -> dict[str, Any] | None:
    """PassRole verdict from the caller's own policies (the `iam` extra, read for the IAM rules),
    evaluated locally for this exact role and service; None when those policies were not read."""
    data = extra.get("iam") or {}
    if data.get("kind") == "root":
        return {"decision": "allowed", "principal": data.get("principal", ""), "method": "root"}
    if data.get("method") != "local" or "policies" not in data:
        return None
    from preflight.permissions import parse_aws_policies
    from preflight.semantics import iam

    principal = data.get("principal", "")
    try:
        identity, boundary, scps = parse_aws_policies(data)
    except iam.PolicyError as exc:
        return {"decision": "unknown", "reason": f"malformed policy document: {exc}", "principal": principal}
    req = iam.Request("iam:PassRole", resource=role_arn, region=region, account=data.get("account", ""),
                      context={"iam:PassedToService": "ec2.amazonaws.com", "aws:RequestedRegion": region})
    v = iam.evaluate(req, identity, boundary, scps)
    refs = v.denied_by or v.allowed_by or v.undecided
    decision = {"ALLOW": "allowed", "DENY": "denied", "IMPLICIT_DENY": "denied"}.get(v.decision.value, "unknown")
    eval_decision = {"DENY": "explicitDeny", "IMPLICIT_DENY": "implicitDeny"}.get(v.decision.value, "")
    return {"decision": decision, "eval_decision": eval_decision, "principal": principal, "method": "local",
            "matched": [r.label() for r in refs], "reason": v.reason}


def pass_role_verdict(extra: dict[str, Any], simulated: dict[str, Any], role_arn: str, region: str) -> dict[str, Any]:
    """The simulator's definite answer, else the local evaluation's, else UNKNOWN with both reasons."""
    local = local_pass_role(extra, role_arn, region)
    for v in (simulated, local):
        if v and v.get("decision") in ("allowed", "denied"):
            return v
    reasons = [v.get("reason", "") for v in (local, simulated) if v and v.get("reason")]
    perms = [str(simulated["permission"])] if simulated.get("permission") else []
    return {"decision": "unknown", "reason": "; ".join(reasons) or "no verdict", "permission": ", ".join(perms),
            "principal": (local or {}).get("principal") or simulated.get("principal", "")}


@rule(
    id="CMP005",
    name="instance-profile-missing",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"instance_profiles"},
    summary="The plan's IAM instance profile does not exist, has no role, or the caller may not "
            "iam:PassRole its role",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reads the plan's instance profile (iam GetInstanceProfile) and reports it when it does not
    exist or holds no role; when it has a role, asks whether the caller may `iam:PassRole` that
    role to EC2: IAM's policy simulator when the caller may use it, else preflight's local policy
    evaluator on the caller's policies (read for the IAM rules). A verdict neither can give is
    UNKNOWN, never a pass.

    Why is this bad?
    Instances launched without their role cannot reach S3, ECR or anything else they were meant
    to use; EC2 refuses the launch outright when the profile is missing or the caller may not pass
    the role — after the launcher created its security groups and key pairs.

    Example:
    `instance_profile: compute-profile` that was never created in the account.

    Fix: aws iam create-instance-profile --instance-profile-name NAME; aws iam
    add-role-to-instance-profile --instance-profile-name NAME --role-name ROLE; grant iam:PassRole on
    the role.

    Fix safety:
    No automatic fix: creating IAM resources or widening a policy is a security decision. The
    finding gives the exact commands.
    """
    plan = ctx.plan
    if plan is None or not plan.instance_profile:
        return
    data = ctx.inventory.extra.get("instance_profiles") or {}
    name = data.get("name") or plan.instance_profile
    if "found" not in data:
        yield ctx.unknown(name, f"cannot check instance profile {name}: this inventory has no IAM data "
                                "(not in this snapshot: check the account live with --plan)")
        return
    if not data["found"]:
        yield ctx.fail(name, f"instance profile {name} does not exist in the account, so RunInstances would fail "
                             "with InvalidParameterValue (Invalid IAM Instance Profile name)",
                       fix=ctx.fix(shell("aws", "iam", "create-instance-profile", "--instance-profile-name", name),
                                   shell("aws", "iam", "add-role-to-instance-profile", "--instance-profile-name",
                                         name, "--role-name", "ROLE"),
                                   description="create the profile and put the instances' role in it"))
        return
    roles = data.get("roles") or []
    if not roles:
        yield ctx.fail(name, f"instance profile {name} ({data.get('arn', '')}) holds no role, so instances "
                             "launched with it get no credentials",
                       fix=ctx.fix(shell("aws", "iam", "add-role-to-instance-profile", "--instance-profile-name", name,
                                         "--role-name", "ROLE"), description="add the instances' role to the profile"))
        return
    role_arn = roles[0]["arn"]
    verdict = pass_role_verdict(ctx.inventory.extra, data.get("pass_role") or {}, role_arn, ctx.region)
    decision = verdict.get("decision", "unknown")
    principal = verdict.get("principal", "")
    if decision == "denied":
        kind, pname = _principal_name(principal)
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}]}, separators=(",", ":"))
        put = shell("aws", "iam", f"put-{kind}-policy", f"--{kind}-name", pname, "--policy-name",
                    f"pass-{roles[0]['name']}", "--policy-document", policy) if kind in ("role", "user") else ""
        source = {"simulate": "IAM policy simulator", "local": "your IAM policies, evaluated locally"}.get(
            verdict.get("method", ""), "")
        how = ", ".join(x for x in (verdict.get("eval_decision", ""), source) if x)
        how = f" ({how})" if how else ""
        yield ctx.fail(name, f"{principal or 'the caller'} may not iam:PassRole {role_arn}{how}, the role of "
                             f"instance profile {name}: RunInstances would fail with UnauthorizedOperation",
                       path=(principal, role_arn, name) if principal else (role_arn, name),
                       details={"role": role_arn, "principal": principal, "matched": verdict.get("matched", [])},
                       fix=ctx.fix(*([put] if put else []),
                                   description="allow iam:PassRole on the role, for EC2 only"))
    elif decision != "allowed":
        perm = verdict.get("permission") or "iam:SimulatePrincipalPolicy (or read access to your IAM policies)"
        why = verdict.get("reason") or "no verdict"
        yield ctx.unknown(name, f"cannot tell whether the caller may iam:PassRole {role_arn} (role of instance "
                                f"profile {name}): {why}; grant {perm} to check",
                          path=(role_arn, name), details={"role": role_arn, "permissions": [perm]})
