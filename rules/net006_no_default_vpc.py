"""NET006 no-default-vpc."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule
from preflight.rules import _net
from preflight.semantics.remedies import shell


@rule(
    id="NET006",
    name="no-default-vpc",
    severity="info",
    category="launch-blocker",
    scope="region",
    # Only launchers that need the default VPC fail here; their profile says so (needs_default_vpc).
    blocks_launch=False,
    summary="The region has no default VPC, so tools that assume one will fail",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html",),
    needs={"vpcs"},
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reports the region (the finding's resource) when none of its VPCs is the default VPC. When the
    plan's launcher only uses the default VPC (SkyPilot without `aws.vpc_name`, run-instances
    without a subnet), a missing default VPC — or one with no subnet — stops the launch: the
    finding is then high, launch-blocking, in the launcher's words, and names the VPC to give it
    instead (e.g. `aws.vpc_name: app-vpc` for SkyPilot).

    Why is this bad?
    It is informational: custom VPCs work fine, but every tool that implicitly relies on the
    default VPC — launching without a subnet, default security groups by name — fails with errors
    such as "No default VPC for this user" or "No usable subnets found".

    Example:
    The default VPC of eu-south-1 was deleted. Fix: `aws ec2 create-default-vpc --region eu-south-1`,
    or pass the custom VPC and subnet to the launcher explicitly.

    Fix safety:
    Creating a default VPC adds a public subnet in every zone, an internet gateway and a default
    route; it does not touch existing VPCs.
    """
    inv = ctx.inventory
    region = inv.region
    default = next((v for v in inv.vpcs if v.is_default), None)
    prof = _net.profile(ctx)
    needed = ctx.plan is not None and prof.needs_default_vpc(ctx.plan)
    empty = default is not None and needed and not any(s.vpc_id == default.id for s in inv.subnets)
    if default is not None and not empty:
        return
    others = sorted(v.id for v in inv.vpcs)
    if needed:
        yield from _launcher_needs_default_vpc(ctx, prof, default, others)
        return
    yield ctx.fail(
        region,
        f"{region} has no default VPC"
        + (f" (VPCs: {', '.join(others[:5])}{' …' if len(others) > 5 else ''})" if others else " and no VPC at all")
        + ". Tools that launch into the default VPC when no subnet is given will fail here; create one or pass "
        "an explicit VPC and subnet.",
        path=[region, *others[:5]],
        fix=ctx.fix(shell("aws", "ec2", "create-default-vpc", "--region", region),
                    description="create a default VPC (public subnets in every zone, internet gateway, default route)"),
        details={"vpcs": others},
    )


def _launcher_needs_default_vpc(ctx: Context, prof: Any, default: Any, others: list[str]) -> Iterator[Finding]:
    """The plan's launcher only looks at the default VPC: its absence (or emptiness) stops the launch."""
    inv = ctx.inventory
    region = inv.region
    why = (f"{default.id} has no subnet" if default is not None else
           f"{region} has no default VPC" + (f" (VPCs: {', '.join(others[:5])})" if others else " and no VPC at all"))
    # The best VPC to name instead: one with a subnet the launcher could use, tagged with a Name.
    t = _net.topo(ctx)
    usable = [s for s in inv.subnets if t.public_reachability(s.id, True) is not None
              and t.public_reachability(s.id, True).verdict == "ok"]
    named = {v.id: v.name for v in inv.vpcs if v.name and not v.is_default}
    pick = next((s.vpc_id for s in usable if s.vpc_id in named), "") or next(iter(sorted(named)), "")
    hint = prof.setting_hint("aws.vpc_name", named[pick]) if pick else ""
    message = (prof.will_stop(f"The default VPC in {region} either does not exist or has no subnets.", why)
               + ", and no VPC is named for it. "
               + (f"Either {hint} (VPC {pick}), or create the default VPC." if hint
                  else "Create the default VPC, or name a VPC (tag it with a Name) for the launcher."))
    commands = [f"aws ec2 create-default-vpc --region {region}"] if default is None else []
    yield ctx.fail(
        default.id if default is not None else region, message, path=[region, *others[:5]], severity="high",
        fix=ctx.fix(*commands, description=(f"{hint}; or " if hint else "") + "create the default VPC"),
        details={"vpcs": others, "launcher": prof.name, "blocks_launch": True,
                 **({"vpc_name": named[pick], "vpc": pick} if pick else {})},
    )
