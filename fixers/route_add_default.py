"""route-add-default: give a public subnet 0.0.0.0/0 -> its VPC's attached internet gateway (NET002)."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.fixers import _netfix as nf
from preflight.fixers.igw_attach import igw_changes
from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.inventory.model import RouteTable, Subnet
from preflight.semantics.routes import IPV4_DEFAULT, Topology

ID = "route-add-default"
PERMISSIONS = ("ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute", "ec2:CreateRouteTable",
               "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:CreateTags",
               "ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
               "ec2:DeleteInternetGateway", "ec2:DescribeRouteTables", "ec2:DescribeInternetGateways")
MAX_LISTED = 5


def _listed(ids: list[str]) -> str:
    return ", ".join(ids[:MAX_LISTED]) + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


@fixer(id=ID, fixes=("NET002",), permissions=PERMISSIONS, safe=True,
       summary="Route 0.0.0.0/0 to the VPC's internet gateway in the subnet's own route table")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Adds 0.0.0.0/0 -> the VPC's attached internet gateway to the subnet's effective route table
    (attaching a detached gateway the routes point at, or creating one, when the VPC has none).

    When that table is the VPC's main route table and other subnets use it too, adding a default
    route would make every one of them internet-routed. Instead it creates a route table for this
    subnet alone — a new table has the VPC's local routes, and the main table's other routes are
    copied — adds the default route there and associates only this subnet; the other subnets keep
    the main table, unchanged. It says so in the plan. An explicit table shared with other subnets
    gets the route (they were meant to share it) and the plan names them.

    A default route to a NAT gateway (a private subnet that maps public IPs) is not replaced: that
    would turn a private subnet public; the refusal gives the command.
    """
    t = Topology(ctx.inventory)
    region = ctx.region
    for f in findings:
        subnet = t.subnets.get(f.resource)
        if subnet is None:
            continue
        choice, route, verdict = t.internet_route(subnet.id, 4)
        if verdict == "ok":
            continue
        rules = ("NET002",)
        if verdict == "not_igw" and route is not None:
            yield Refusal(ID, subnet.id, (
                f"{subnet.id}'s default route goes to {route.target_id} ({route.target_kind.replace('_', ' ')}), "
                f"so it is private by design; replacing it would expose it. If it really should be public: "
                f"`aws ec2 replace-route --route-table-id {choice.table.id if choice else 'RTB'} "
                f"--destination-cidr-block 0.0.0.0/0 --gateway-id IGW --region {region}`, or stop mapping public "
                f"IPs: `aws ec2 modify-subnet-attribute --subnet-id {subnet.id} --no-map-public-ip-on-launch "
                f"--region {region}`"), rules)
            continue
        prefer = route.target_id if route is not None and route.target_kind == "internet_gateway" else ""
        igw, changes = igw_changes(t, region, subnet.vpc_id, rules, ID, prefer)
        if verdict == "igw_not_attached" and igw == prefer:
            yield from changes  # attaching the gateway makes the existing route work
            continue
        yield from changes
        yield from route_changes(t, region, subnet, choice.table if choice else None,
                                 choice.association if choice else "", igw, verdict, route, rules, ID)


def route_changes(t: Topology, region: str, subnet: Subnet, table: RouteTable | None, association: str,
                  igw: str, verdict: str, route: object, rules: tuple[str, ...], fixer_id: str) -> Iterator[Change]:
    """The route changes (see `plan`); `fixer_id` names the fixer they are planned for."""
    refs = {nf.IGW: {"vpc": subnet.vpc_id}} if igw == nf.IGW else {}
    sharing = [s.id for s in t.subnets_using(table) if s.id != subnet.id] if table is not None else []
    if table is None or (association == "main" and sharing):
        why = (f"{table.id} is the main route table of {subnet.vpc_id}, also used by {len(sharing)} other "
               f"subnet(s) ({_listed(sharing)}), which would all become internet-routed"
               if table is not None else f"{subnet.id} has no route table")
        yield nf.create_route_table(region, subnet.vpc_id, subnet.id, rules, fixer_id,
                                    f"{why}: create a route table for {subnet.id} alone (it starts with the "
                                    f"VPC's local routes)")
        for r in (table.routes if table is not None else ()):
            if r.target_kind == "local" or r.destination in (IPV4_DEFAULT,) or not r.target_id:
                continue
            param = nf.TARGET_PARAM.get(r.target_kind)
            if param is None or t.route_state(r, subnet.vpc_id) == "blackhole":
                continue
            yield nf.create_route(region, nf.RTB, r.destination, {param: r.target_id}, rules, fixer_id,
                                  description=f"copy {r.destination} -> {r.target_id} from {table.id} "  # type: ignore[union-attr]
                                              f"to the new table, so {subnet.id} keeps that route",
                                  refs={nf.RTB: {"subnet": subnet.id}})
        yield nf.create_route(region, nf.RTB, IPV4_DEFAULT, {"GatewayId": igw}, rules, fixer_id,
                              description=f"route 0.0.0.0/0 to {igw} in the new table of {subnet.id}",
                              refs={nf.RTB: {"subnet": subnet.id}, **refs})
        yield nf.associate(region, nf.RTB, subnet.id, rules, fixer_id)
        return
    shared = (f"; careful: {table.id} is also the {'main ' if association == 'main' else ''}route table of "
              f"{_listed(sharing)}, which become internet-routed too" if sharing else "")
    if association == "main" and not sharing:
        shared = (f"; careful: {table.id} is the main route table of {subnet.vpc_id}, so subnets created later "
                  f"without a route table of their own are internet-routed too")
    unsafe = bool(sharing) or association == "main"
    if verdict == "no_default_route":
        yield nf.create_route(region, table.id, IPV4_DEFAULT, {"GatewayId": igw}, rules, fixer_id,
                              description=f"route 0.0.0.0/0 from {table.id} ({subnet.id}'s route table) to {igw}"
                                          f"{shared}", refs=refs, safe=not unsafe)
        return
    old_target = getattr(route, "target_id", "")
    old_kind = getattr(route, "target_kind", "")
    old = {nf.TARGET_PARAM.get(old_kind, "GatewayId"): old_target} if old_target else {}
    yield nf.replace_route(region, table.id, IPV4_DEFAULT, {"GatewayId": igw}, old, False, rules, fixer_id,
                           description=f"point 0.0.0.0/0 in {table.id} at {igw} instead of the dead "
                                       f"{old_target or 'target'}{shared}", safe=not unsafe)
