"""subnet-map-public-ip: make a subnet that routes to an internet gateway hand out public IPs (NET005)."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.fixers import _netfix as nf
from preflight.semantics import remedies as rm

ID = "subnet-map-public-ip"
PERMISSIONS = ("ec2:ModifySubnetAttribute", "ec2:DescribeSubnets")


@fixer(id=ID, fixes=("NET005",), permissions=PERMISSIONS,
       summary="Turn on MapPublicIpOnLaunch for a subnet that routes to an internet gateway")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Sets MapPublicIpOnLaunch on the subnet, so instances launched from now on get a public IPv4
    address and can use the internet gateway its route table already points at. Running instances
    are not touched. Undo turns the attribute back off.

    Fix safety:
    Safe. The subnet's route table already sends 0.0.0.0/0 to an internet gateway (it is public by
    its routes); only instances launched from now on change, and `preflight undo` turns it back off.
    """
    subnets = {s.id: s for s in ctx.inventory.subnets}
    for f in findings:
        subnet = subnets.get(f.resource)
        if subnet is None or subnet.map_public_ip_on_launch:
            continue
        yield nf.change(rm.map_public_ip(ctx.region, subnet.id, f"make {subnet.id} map public IPv4 addresses on "
                                                                f"launch (instances launched from now on get one; "
                                                                f"running ones are unchanged)"), ("NET005",), ID)
