"""CMP006 dry-run-denied (opt-in: `preflight check --dry-run-launch`)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule

OPT_IN_FLAG = "--dry-run-launch"


def _cli(params: dict[str, Any], region: str) -> str:
    """The AWS CLI equivalent of the dry run, so the user can repeat it."""
    parts = ["aws", "ec2", "run-instances", "--dry-run", "--image-id", str(params.get("ImageId", "")),
             "--instance-type", str(params.get("InstanceType", "")), "--count", str(params.get("MinCount", 1))]
    if "KeyName" in params:
        parts += ["--key-name", params["KeyName"]]
    prof = params.get("IamInstanceProfile") or {}
    for key, val in prof.items():
        parts += ["--iam-instance-profile", f"{key}={val}"]
    if "SubnetId" in params:
        parts += ["--subnet-id", params["SubnetId"]]
    if "Placement" in params:
        parts += ["--placement", f"AvailabilityZone={params['Placement']['AvailabilityZone']}"]
    if "SecurityGroupIds" in params:
        parts += ["--security-group-ids", *params["SecurityGroupIds"]]
    if "InstanceMarketOptions" in params:
        parts += ["--instance-market-options", "MarketType=spot"]
    return " ".join(shlex.quote(p) for p in [*parts, "--region", region])


def _resource(code: str, params: dict[str, Any], region: str) -> str:
    """The plan item AWS objected to, where the error code says which."""
    prof = params.get("IamInstanceProfile") or {}
    by_prefix = (("InvalidAMIID", params.get("ImageId")), ("InvalidKeyPair", params.get("KeyName")),
                 ("InvalidSubnet", params.get("SubnetId")),
                 ("InvalidGroup", (params.get("SecurityGroupIds") or [""])[0]),
                 ("NoSuchEntity", prof.get("Name") or prof.get("Arn")),
                 ("Unsupported", params.get("InstanceType")), ("InvalidInstanceType", params.get("InstanceType")),
                 ("VcpuLimitExceeded", params.get("InstanceType")))
    for prefix, value in by_prefix:
        if code.startswith(prefix) and value:
            return str(value)
    return region


@rule(
    id="CMP006",
    name="dry-run-denied",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"dry_run"},
    # RunInstances (DryRun=True) is a write-path call a user must ask for (--dry-run-launch).
    opt_in=True,
    summary="RunInstances with DryRun=True for the plan's exact parameters does not answer DryRunOperation",
    references=("https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    With `--dry-run-launch`, calls RunInstances with `DryRun=True` and the plan's image, type,
    count, key pair, instance profile, subnet or zone, security group and market, and reports any
    answer other than `DryRunOperation` with AWS's error code and message verbatim.

    Why is this bad?
    Whatever EC2 refuses in a dry run it refuses in the launch — including things the other rules
    cannot see from read-only data, such as SCPs and permission conditions.

    Example:
    `UnauthorizedOperation: You are not authorized to perform this operation. Encoded
    authorization failure message: …` when ec2:RunInstances is not granted.

    Fix: correct what AWS's answer names, then repeat with `aws ec2 run-instances --dry-run …`.

    Fix safety:
    A dry run launches nothing and costs nothing; it needs ec2:RunInstances (and whatever the
    launch itself needs), which is why it is opt-in.
    """
    plan = ctx.plan
    if plan is None:
        return
    data = ctx.inventory.extra.get("dry_run") or {}
    region = ctx.region
    if "skipped" in data:
        yield ctx.unknown(region, f"cannot dry-run the launch: {data['skipped']}")
        return
    if "ok" not in data:
        yield ctx.unknown(region, "cannot dry-run the launch: this inventory has no dry-run result (run "
                                  f"`preflight check {OPT_IN_FLAG}` against the account)")
        return
    if data["ok"]:
        return
    params = data.get("params") or {}
    code, message = data.get("code", ""), data.get("message", "")
    fix_cmds = [_cli(params, region)]
    if code == "UnauthorizedOperation" and "Encoded authorization failure message:" in message:
        fix_cmds.insert(0, "aws sts decode-authorization-message --encoded-message ENCODED_MESSAGE")
    yield ctx.fail(_resource(code, params, region),
                   f"RunInstances (dry run) for the plan answered {code}: {message}",
                   details={"code": code, "aws_message": message, "params": params},
                   fix=ctx.fix(*fix_cmds, description="fix what AWS names, then repeat the dry run"))
