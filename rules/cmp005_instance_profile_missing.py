"""CMP005 instance-profile-missing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import preflight.collect.aws_compute  # noqa: F401  (registers the extra collectors this rule needs)
from preflight.engine import Context, Finding, rule


def _principal_name(arn: str) -> tuple[str, str]:
    """('role'|'user', name) from an IAM principal ARN, for the fix command."""
    tail = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, rest = tail.partition("/")
    return kind, rest.rsplit("/", 1)[-1]


@rule(
    id="CMP005",
    name="instance-profile-missing",
    severity="high",
    needs={"instance_profiles"},
    summary="The plan's IAM instance profile does not exist, has no role, or the caller may not "
            "iam:PassRole its role",
    rationale="RunInstances with an instance profile fails (InvalidParameterValue, or UnauthorizedOperation "
              "for iam:PassRole) when the profile is missing or empty, or the caller may not pass its role.",
    remediation="aws iam create-instance-profile --instance-profile-name NAME; aws iam add-role-to-instance-profile "
                "--instance-profile-name NAME --role-name ROLE; grant iam:PassRole on the role",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reads the plan's instance profile (iam GetInstanceProfile) and reports it when it does not
    exist or holds no role; when it has a role, asks whether the caller may `iam:PassRole` that
    role to EC2 (IAM's policy simulator). A verdict it cannot get is UNKNOWN, never a pass.

    Why is this bad?
    Instances launched without their role cannot reach S3, ECR or anything else they were meant
    to use; EC2 refuses the launch outright when the profile is missing or the caller may not pass
    the role — after the launcher created its security groups and key pairs.

    Example:
    `instance_profile: compute-profile` that was never created in the account.

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
                                "(take the snapshot with the plan, or check live)")
        return
    if not data["found"]:
        yield ctx.fail(name, f"instance profile {name} does not exist in the account, so RunInstances would fail "
                             "with InvalidParameterValue (Invalid IAM Instance Profile name)",
                       fix=ctx.fix(f"aws iam create-instance-profile --instance-profile-name {name}",
                                   f"aws iam add-role-to-instance-profile --instance-profile-name {name} "
                                   "--role-name ROLE",
                                   description="create the profile and put the instances' role in it"))
        return
    roles = data.get("roles") or []
    if not roles:
        yield ctx.fail(name, f"instance profile {name} ({data.get('arn', '')}) holds no role, so instances "
                             "launched with it get no credentials",
                       fix=ctx.fix(f"aws iam add-role-to-instance-profile --instance-profile-name {name} "
                                   "--role-name ROLE", description="add the instances' role to the profile"))
        return
    role_arn = roles[0]["arn"]
    verdict = data.get("pass_role") or {}
    decision = verdict.get("decision", "unknown")
    principal = verdict.get("principal", "")
    if decision == "denied":
        kind, pname = _principal_name(principal)
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}]}, separators=(",", ":"))
        put = (f"aws iam put-{kind}-policy --{kind}-name {pname} --policy-name pass-{roles[0]['name']} "
               f"--policy-document '{policy}'") if kind in ("role", "user") else ""
        how = f" ({verdict.get('eval_decision')})" if verdict.get("eval_decision") else ""
        yield ctx.fail(name, f"{principal or 'the caller'} may not iam:PassRole {role_arn}{how}, the role of "
                             f"instance profile {name}: RunInstances would fail with UnauthorizedOperation",
                       path=(principal, role_arn, name) if principal else (role_arn, name),
                       details={"role": role_arn, "principal": principal, "matched": verdict.get("matched", [])},
                       fix=ctx.fix(*([put] if put else []),
                                   description="allow iam:PassRole on the role, for EC2 only"))
    elif decision != "allowed":
        perm = verdict.get("permission") or "iam:SimulatePrincipalPolicy"
        why = verdict.get("reason") or "no verdict"
        yield ctx.unknown(name, f"cannot tell whether the caller may iam:PassRole {role_arn} (role of instance "
                                f"profile {name}): {why}; grant {perm} to check",
                          path=(role_arn, name), details={"role": role_arn, "permissions": [perm]})
