"""NET006 no-default-vpc."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Finding, rule


@rule(
    id="NET006",
    name="no-default-vpc",
    severity="info",
    category="launch-blocker",
    scope="region",
    # Only launchers that need the default VPC fail here; their profile says so (needs_default_vpc).
    blocks_launch=False,
    summary="The region has no default VPC, so tools that assume one will fail",
    rationale=(
        "Many launchers and quick-start commands (run-instances without a subnet, some cluster tools) use the "
        "default VPC implicitly; without it they fail or need an explicit VPC and subnet."
    ),
    remediation="Create a default VPC (aws ec2 create-default-vpc), or give the launcher an explicit VPC/subnet",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html",),
    needs={"vpcs"},
)
def check(ctx: Any) -> Iterator[Finding]:
    """What it does:
    Reports the region (the finding's resource) when none of its VPCs is the default VPC.

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
    if any(v.is_default for v in inv.vpcs):
        return
    region = inv.region
    others = sorted(v.id for v in inv.vpcs)
    yield ctx.fail(
        region,
        f"{region} has no default VPC"
        + (f" (VPCs: {', '.join(others[:5])}{' …' if len(others) > 5 else ''})" if others else " and no VPC at all")
        + ". Tools that launch into the default VPC when no subnet is given will fail here; create one or pass "
        "an explicit VPC and subnet.",
        path=[region, *others[:5]],
        fix=ctx.fix(f"aws ec2 create-default-vpc --region {region}",
                    description="create a default VPC (public subnets in every zone, internet gateway, default route)"),
        details={"vpcs": others},
    )
