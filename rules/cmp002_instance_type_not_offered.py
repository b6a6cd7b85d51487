"""CMP002 instance-type-not-offered."""

from __future__ import annotations

import re
from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import shell

_ZONE_ID = re.compile(r"^[a-z]{2,}[0-9]*-az[0-9]+$")  # eus1-az1: the same physical zone in every account


@rule(
    id="CMP002",
    name="instance-type-not-offered",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"offerings", "subnets"},
    summary="The instance type is not offered in the plan's zones or in the zone of a chosen subnet",
    references=("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-discovery.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reads DescribeInstanceTypeOfferings (location type availability-zone) for the plan's instance
    type and checks every zone the plan names, and the zone of every subnet it names. When the
    plan names neither, checks that some zone of the region offers the type at all.

    Why is this bad?
    The launch fails with `Unsupported: Your requested instance type is not supported in your
    requested Availability Zone` — typical for GPU types and subnets created in the "a" zone.

    Example:
    g4dn.xlarge in eu-south-1a, where only eu-south-1b and eu-south-1c offer it.

    Fix: pick a zone (or a subnet in a zone) that offers the type: aws ec2
    describe-instance-type-offerings --location-type availability-zone --filters
    Name=instance-type,Values=TYPE --region R.

    Fix safety:
    No automatic fix: the finding lists the zones that offer the type and, where one exists, a
    subnet of the same VPC in such a zone.
    """
    plan = ctx.plan
    if plan is None or not plan.instance_type:
        return
    itype, region = plan.instance_type, ctx.region
    data = ctx.inventory.extra.get("offerings") or {}
    if "zones" not in data:
        yield ctx.unknown(itype, f"cannot check where {itype} is offered in {region}: this inventory has no "
                                 "offering data (not in this snapshot: check the account live with --plan)")
        return
    offered = set(data["zones"])
    listing = ", ".join(sorted(offered))
    cmd = shell("aws", "ec2", "describe-instance-type-offerings", "--location-type", "availability-zone",
                "--filters", f"Name=instance-type,Values={itype}", "--region", region)
    if not offered:
        yield ctx.fail(itype, f"{itype} is not offered in any availability zone of {region} (or the type name is "
                              "wrong), so RunInstances would fail; pick another region or instance type",
                       details={"offered_zones": []}, fix=ctx.fix(cmd, description="find where the type is offered"))
        return
    for zone in plan.zones:
        if zone not in offered and _ZONE_ID.match(zone):
            yield ctx.unknown(zone, f"{zone} is an availability zone ID; offerings are listed by zone name "
                                    f"({listing} offer {itype}): name the zone in the plan to check it")
        elif zone not in offered:
            yield ctx.fail(zone, f"{itype} is not offered in {zone}, which the plan names: RunInstances would fail "
                                 f"with Unsupported. Zones of {region} that offer it: {listing}",
                           path=(itype, zone), details={"offered_zones": sorted(offered)},
                           fix=ctx.fix(cmd, description=f"set zones to one of {listing} in the plan"))
    subnets = ctx.inventory.index("subnets")
    for sid in plan.subnets:
        subnet = subnets.get(sid)
        if subnet is None or not subnet.availability_zone or subnet.availability_zone in offered:
            continue
        alternatives = sorted(s.id + f" ({s.availability_zone})" for s in ctx.inventory.subnets
                              if s.vpc_id == subnet.vpc_id and s.availability_zone in offered)
        alt = f"; subnets of {subnet.vpc_id} in such zones: {', '.join(alternatives)}" if alternatives else ""
        yield ctx.fail(sid, f"subnet {sid} is in {subnet.availability_zone}, where {itype} is not offered: "
                            f"RunInstances would fail with Unsupported. Zones of {region} that offer it: "
                            f"{listing}{alt}",
                       path=(itype, sid, subnet.availability_zone),
                       details={"offered_zones": sorted(offered), "alternatives": alternatives},
                       fix=ctx.fix(cmd, description="use a subnet in a zone that offers the type"))
