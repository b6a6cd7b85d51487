"""route-replace-blackhole: point a blackhole route at the obvious live target (NET004)."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.fixers import _netfix as nf
from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.semantics.routes import Topology

ID = "route-replace-blackhole"
PERMISSIONS = ("ec2:ReplaceRoute", "ec2:DescribeRouteTables")


@fixer(id=ID, fixes=("NET004",), permissions=PERMISSIONS,
       summary="Re-point a blackhole route at the VPC's internet gateway or its one live NAT gateway")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Replaces each blackhole route when the right target is obvious: a route to a gone or
    detached internet gateway goes to the internet gateway attached to the table's VPC; a route to
    a deleted NAT gateway goes to the VPC's only available NAT gateway. Anything else (no candidate,
    or several NAT gateways to choose from) is refused with the command to run by hand. The old
    target is dead, so EC2 would not accept it back: these changes have no automatic undo, and the
    journal records the old route.
    """
    t = Topology(ctx.inventory)
    region = ctx.region
    for f in findings:
        table = t.route_tables.get(f.resource)
        if table is None:
            continue
        for route in table.routes:
            if route.target_kind == "local" or t.route_state(route, table.vpc_id) != "blackhole":
                continue
            if route.destination_prefix_list:
                yield Refusal(ID, table.id, f"{route.destination} in {table.id} is a prefix-list route to a dead "
                                            f"target; replace or delete it by hand", ("NET004",))
                continue
            new: dict[str, str] = {}
            if route.target_kind == "internet_gateway":
                attached = t.igws_by_vpc.get(table.vpc_id, [])
                if len(attached) == 1 and attached[0].id != route.target_id:
                    new = {"GatewayId": attached[0].id}
                elif route.target_id in t.igws and not attached:
                    continue  # the gateway exists, detached: igw-attach is the repair
            elif route.target_kind == "nat_gateway":
                live = sorted(n.id for n in t.nats.values() if n.vpc_id == table.vpc_id and n.state == "available")
                if len(live) == 1:
                    new = {"NatGatewayId": live[0]}
            if not new:
                yield Refusal(ID, table.id, (
                    f"no obvious live target for {route.destination} -> {route.target_id} in {table.id}: "
                    f"replace it with `aws ec2 replace-route --route-table-id {table.id} "
                    f"--destination-cidr-block {route.destination} --nat-gateway-id NAT --region {region}` "
                    f"or delete it with `aws ec2 delete-route --route-table-id {table.id} "
                    f"--destination-cidr-block {route.destination} --region {region}`"), ("NET004",))
                continue
            target = next(iter(new.values()))
            old = {nf.TARGET_PARAM.get(route.target_kind, "GatewayId"): route.target_id}
            yield nf.replace_route(region, table.id, route.destination, new, old, False, ("NET004",), ID,
                                   description=f"point {route.destination} in {table.id} at {target} instead of "
                                               f"the dead {route.target_id}")
