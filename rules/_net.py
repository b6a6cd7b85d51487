"""Helpers shared by the NET rules: plan scope, labels, and the AWS CLI commands of their fixes.

Not a rule module (no `@rule`), so importing it registers nothing. The route and NACL semantics
themselves live in preflight.semantics (one truth, shared with `path` and `launch`).
"""

from __future__ import annotations

import ipaddress
import weakref
from typing import Any

from preflight.inventory.model import InternetGateway, Route, Subnet
from preflight.semantics.routes import Reachability, Topology

TARGET_WORDS = {
    "internet_gateway": "internet gateway",
    "egress_only_igw": "egress-only internet gateway",
    "nat_gateway": "NAT gateway",
    "transit_gateway": "transit gateway",
    "vpc_peering": "VPC peering connection",
    "instance": "instance",
    "network_interface": "network interface",
    "vpc_endpoint": "VPC endpoint",
    "virtual_private_gateway": "virtual private gateway",
    "local": "the VPC itself",
}


def topo(ctx: Any) -> Topology:
    """The run's one Topology (the graph's, when one was given), or one cached on the context."""
    graph = getattr(ctx, "built_graph", None)
    found = graph.graph.get("topology") if graph is not None else None
    if found is not None and found.inventory is ctx.inventory:
        return found
    return ctx.cached("topology", lambda: Topology(ctx.inventory))


# --- plan --------------------------------------------------------------------------------------

def plan_get(ctx: Any, name: str, default: Any = None) -> Any:
    value = getattr(ctx.plan, name, None) if ctx.plan is not None else None
    return default if value is None else value


def _by_name(resources: Any, ref: str, prefix: str) -> str:
    """A plan may name a VPC or subnet by id or by its Name tag: the id when one resource has that
    Name (the runner refuses an ambiguous name before the rules run), else `ref` unchanged."""
    if not ref or ref.startswith(prefix):
        return ref
    found = [r.id for r in resources if r.name == ref]
    return found[0] if len(found) == 1 else ref


def plan_subnets(ctx: Any) -> tuple[str, ...]:
    return tuple(_by_name(ctx.inventory.subnets, s, "subnet-") for s in plan_get(ctx, "subnets", ()) or ())


def plan_vpc(ctx: Any) -> str:
    return _by_name(ctx.inventory.vpcs, plan_get(ctx, "vpc", "") or "", "vpc-")


def plan_public_ip(ctx: Any) -> bool | None:
    value = getattr(ctx.plan, "public_ip", None) if ctx.plan is not None else None
    return value if isinstance(value, bool) else None


def profile(ctx: Any) -> Any:
    """The launcher profile of the plan (preflight's own when the plan names none)."""
    from preflight.launchers import profile_of

    return profile_of(ctx.plan)


def selection(ctx: Any) -> Any:
    """The subnets the plan's launcher would pick in this inventory, or its error (None: the
    launcher has no selection of its own, so the plan's subnets/VPC or the region are in scope)."""
    if ctx.plan is None:
        return None
    return ctx.cached("launcher_selection", lambda: profile(ctx).select(ctx.inventory, ctx.plan))


def scope_vpc(ctx: Any) -> str:
    """The VPC the launch may land in: the plan's, else the default VPC when the launcher only
    uses that one (SkyPilot without aws.vpc_name, run-instances without a subnet), else ''."""
    vpc = plan_vpc(ctx)
    if vpc or ctx.plan is None or not profile(ctx).needs_default_vpc(ctx.plan):
        return vpc
    return next((v.id for v in ctx.inventory.vpcs if v.is_default), "")


def in_plan_scope(ctx: Any, subnet: Subnet) -> bool:
    """Is `subnet` where the plan's launch may land? (everything when the plan names none)"""
    named = plan_subnets(ctx)
    if named:
        return subnet.id in named
    vpc = scope_vpc(ctx)
    return not vpc or subnet.vpc_id == vpc


def launch_public_ip(ctx: Any, subnet: Subnet) -> bool | None:
    """True when the launch asks for a public IP for instances in `subnet` (the plan's
    `public_ip: true`, or a launcher that requests one itself), else None (the subnet decides)."""
    if ctx.plan is None or not in_plan_scope(ctx, subnet):
        return None
    if plan_public_ip(ctx) is True:
        return True
    return True if profile(ctx).requests_public_ip(ctx.plan) is True else None


# --- words -------------------------------------------------------------------------------------

def label(resource: Any) -> str:
    name = getattr(resource, "name", "")
    return f"{resource.id} ({name})" if name else resource.id


def target_words(route: Route) -> str:
    return f"{TARGET_WORDS.get(route.target_kind, route.target_kind)} {route.target_id}".strip()


def association_words(choice: Any) -> str:
    return "explicitly associated" if choice.association == "explicit" else "the VPC's main route table"


def route_problem(t: Topology, r: Reachability) -> str:
    """Why the subnet's IPv4 default route does not reach the internet (empty when it does)."""
    s = r.subnet
    if r.verdict == "ok":
        return ""
    if r.verdict == "no_route_table":
        return f"has no route table (no explicit association, and {s.vpc_id} has no main route table)"
    table = r.choice.table  # type: ignore[union-attr]
    where = f"its route table {table.id} ({association_words(r.choice)})"
    attached = t.igws_by_vpc.get(s.vpc_id, [])
    if r.verdict == "no_default_route":
        if attached:
            tail = f"; internet gateway {attached[0].id} is attached to {s.vpc_id} but no route uses it"
        else:
            tail = f"; and {s.vpc_id} has no internet gateway attached"
        main = t.main.get(s.vpc_id)
        if r.choice.association == "explicit" and main is not None:  # type: ignore[union-attr]
            mr = t.default_route(main)
            if (mr is not None and mr.target_kind == "internet_gateway"
                    and t.route_state(mr, s.vpc_id) == "active"):
                tail += (f"; the main route table {main.id} has one (to {mr.target_id}), but the explicit "
                         f"association overrides it")
        return f"{where} has no 0.0.0.0/0 route{tail}"
    route = r.route
    assert route is not None
    if r.verdict == "not_igw":
        return (f"{where} sends {route.destination} to {target_words(route)}, not to an internet gateway, "
                f"so the subnet is private")
    if r.verdict == "blackhole":
        return f"{where} sends {route.destination} to {route.target_id}, which no longer exists (blackhole route)"
    igw = t.igws.get(route.target_id)
    elsewhere = igw.attached_vpcs() if igw is not None else ()
    state = f"attached to {', '.join(elsewhere)} instead" if elsewhere else "detached from every VPC"
    return (f"{where} sends {route.destination} to internet gateway {route.target_id}, which is not attached to "
            f"{s.vpc_id} ({state}), so the route is a blackhole")


# --- AWS CLI commands ---------------------------------------------------------------------------

def cli(region: str, command: str, *args: str) -> str:
    return " ".join(("aws ec2", command, "--region", region, *args))


def create_route(region: str, table: str, igw: str, destination: str = "0.0.0.0/0") -> str:
    dest = "--destination-ipv6-cidr-block" if ":" in destination else "--destination-cidr-block"
    return cli(region, "create-route", "--route-table-id", table, dest, destination, "--gateway-id", igw)


def replace_route(region: str, table: str, igw: str, destination: str = "0.0.0.0/0") -> str:
    dest = "--destination-ipv6-cidr-block" if ":" in destination else "--destination-cidr-block"
    return cli(region, "replace-route", "--route-table-id", table, dest, destination, "--gateway-id", igw)


def delete_route(region: str, table: str, route: Route) -> str:
    if route.destination_cidr:
        dest = ("--destination-cidr-block", route.destination_cidr)
    elif route.destination_ipv6_cidr:
        dest = ("--destination-ipv6-cidr-block", route.destination_ipv6_cidr)
    else:
        dest = ("--destination-prefix-list-id", route.destination_prefix_list)
    return cli(region, "delete-route", "--route-table-id", table, *dest)


def map_public_ip(region: str, subnet: str) -> str:
    return cli(region, "modify-subnet-attribute", "--subnet-id", subnet, "--map-public-ip-on-launch")


def attach_igw(region: str, igw: str, vpc: str) -> str:
    return cli(region, "attach-internet-gateway", "--internet-gateway-id", igw, "--vpc-id", vpc)


def create_igw(region: str, var: str = "IGW") -> str:
    return (f"{var}=$(aws ec2 create-internet-gateway --region {region} "
            f"--query InternetGateway.InternetGatewayId --output text)")


_PER_TOPOLOGY: weakref.WeakKeyDictionary[Topology, dict[str, Any]] = weakref.WeakKeyDictionary()


def _memo(t: Topology, key: str, make: Any) -> Any:
    """Per-topology memo, so per-finding helpers stay linear over a whole run."""
    slot = _PER_TOPOLOGY.setdefault(t, {})
    if key not in slot:
        slot[key] = make()
    return slot[key]


def loose_igws(t: Topology) -> list[InternetGateway]:
    """Internet gateways attached to no VPC, by id."""
    return _memo(t, "loose", lambda: sorted((g for g in t.igws.values() if not g.attached_vpcs()),
                                            key=lambda g: g.id))


def igw_routes(inventory: Any) -> list[tuple[str, str, str, str]]:
    """(table, vpc, destination, internet gateway) of every route to an internet gateway: the
    inventory's tables, plus the other VPCs' routes a plan-scoped read recorded (collect.aws)."""
    rows = [(tb.id, tb.vpc_id, r.destination, r.target_id) for tb in inventory.route_tables
            for r in tb.routes if r.target_kind == "internet_gateway" and r.target_id]
    recorded = inventory.extra.get("scope", {}).get("igw_route_users", [])
    rows += [(str(a), str(b), str(c), str(d)) for a, b, c, d in recorded]
    return rows


def _igw_route_owners(t: Topology) -> dict[str, str]:
    """Internet gateway id -> VPC of a route table whose routes point at it."""
    return _memo(t, "igw_owners", lambda: {igw: vpc for _, vpc, _, igw in igw_routes(t.inventory)})


def usable_igw(t: Topology, region: str, vpc: str, prefer: str = "") -> tuple[str, list[str], str]:
    """(igw id or shell variable, commands to get it attached to `vpc`, how: "", "attach" or "create").

    Reuses the gateway already attached to `vpc`; else attaches a detached one — `prefer` first,
    else one that no other VPC's routes point at (that one belongs to them); else creates one.
    Mirrors preflight.fixers.igw_attach.igw_changes, so the CLI equivalent and `preflight fix` agree.
    """
    attached = t.igws_by_vpc.get(vpc, [])
    if attached:
        return attached[0].id, [], ""
    used = _igw_route_owners(t)
    loose = loose_igws(t)
    chosen = next((g for g in loose if g.id == prefer), None) or next(
        (g for g in loose if used.get(g.id, vpc) == vpc), None)
    if chosen is not None:
        return chosen.id, [attach_igw(region, chosen.id, vpc)], "attach"
    return "$IGW", [create_igw(region), attach_igw(region, "$IGW", vpc)], "create"


_TARGET_FLAGS = {
    "internet_gateway": "--gateway-id", "virtual_private_gateway": "--gateway-id", "vpc_endpoint": "--vpc-endpoint-id",
    "nat_gateway": "--nat-gateway-id", "transit_gateway": "--transit-gateway-id",
    "vpc_peering": "--vpc-peering-connection-id", "egress_only_igw": "--egress-only-internet-gateway-id",
    "network_interface": "--network-interface-id", "instance": "--instance-id",
    "carrier_gateway": "--carrier-gateway-id",
    "local_gateway": "--local-gateway-id", "core_network": "--core-network-arn",
}


def copy_route(region: str, table: str, route: Route) -> str | None:
    """create-route for `route` in another table (None when its target cannot be named on the CLI)."""
    flag = _TARGET_FLAGS.get(route.target_kind)
    if not flag or not route.target_id:
        return None
    if route.destination_cidr:
        dest = ("--destination-cidr-block", route.destination_cidr)
    elif route.destination_ipv6_cidr:
        dest = ("--destination-ipv6-cidr-block", route.destination_ipv6_cidr)
    else:
        dest = ("--destination-prefix-list-id", route.destination_prefix_list)
    return cli(region, "create-route", "--route-table-id", table, *dest, flag, route.target_id)


def _own_table(region: str, s: Subnet, igw: str, copy_from: Any = None, skip: Any = ()) -> list[str]:
    cmds = [(f"RTB=$(aws ec2 create-route-table --region {region} --vpc-id {s.vpc_id} "
             f"--query RouteTable.RouteTableId --output text)"),
            cli(region, "associate-route-table", "--route-table-id", "$RTB", "--subnet-id", s.id)]
    for route in copy_from.routes if copy_from is not None else ():
        if route.target_kind == "local" or route.destination_cidr == "0.0.0.0/0" or route in skip:
            continue  # (`skip`: the routes of a /0 split, which would shadow the new default route)
        cmd = copy_route(region, "$RTB", route)
        if cmd:
            cmds.append(cmd)
    cmds.append(create_route(region, "$RTB", igw))
    return cmds


def default_route_commands(t: Topology, region: str, r: Reachability) -> tuple[list[str], str | None, str]:
    """Commands that give the subnet an active 0.0.0.0/0 route to an attached internet gateway.

    Returns (commands, fixer hint, description). Like the route-add-default fixer, a main route
    table shared with other subnets is left alone: the subnet gets its own table (with the main
    table's other routes copied) so the other subnets do not become internet-routed.
    """
    s = r.subnet
    if r.verdict == "ok":
        return [], None, ""
    route = r.route
    prefer = route.target_id if route is not None and route.target_kind == "internet_gateway" else ""
    igw, cmds, how = usable_igw(t, region, s.vpc_id, prefer)
    got = {"attach": f"attach {igw} to {s.vpc_id}; ", "create": f"create an internet gateway for {s.vpc_id}; "}
    desc = got.get(how, "")
    if r.verdict == "igw_not_attached" and prefer and igw == prefer:
        # The route already points at a detached gateway: attaching it makes the route active.
        return cmds, "igw-attach", f"attach {igw} to {s.vpc_id}; the existing 0.0.0.0/0 route then works"
    if r.choice is None:
        return ([*cmds, *_own_table(region, s, igw)], "route-add-default",
                desc + f"give {s.id} its own route table with a default route to {igw}")
    table = r.choice.table
    sharing = [x.id for x in t.subnets_using(table) if x.id != s.id]
    shown = ", ".join(sharing[:5]) + (f" and {len(sharing) - 5} more" if len(sharing) > 5 else "")
    split = t.default_split(table)
    if r.choice.association == "main" and sharing and r.verdict != "not_igw":
        return ([*cmds, *_own_table(region, s, igw, table, split)], "route-add-default",
                desc + f"give {s.id} its own route table (a copy of the main table {table.id}'s other routes) "
                f"with 0.0.0.0/0 -> {igw}; the main table is also used by {len(sharing)} other subnet(s) ({shown}), "
                f"which stay as they are")
    if r.verdict == "no_default_route":
        cmds.append(create_route(region, table.id, igw))
        fixer: str | None = "route-add-default"
    elif split:
        # A /0 split decides instead of 0.0.0.0/0: repoint each of its routes that is not usable
        # (the fixers only handle 0.0.0.0/0 itself).
        bad = [x.destination for x in split
               if x.target_kind != "internet_gateway" or t.route_state(x, table.vpc_id) == "blackhole"]
        cmds += [replace_route(region, table.id, igw, d) for d in bad]
        fixer = None
    else:
        cmds.append(replace_route(region, table.id, igw))
        fixer = "route-replace-blackhole" if r.verdict in ("blackhole", "igw_not_attached") else None
    desc += f"route {' and '.join(x.destination for x in split) if split else '0.0.0.0/0'} from {table.id} to {igw}"
    if sharing:
        kind = "main route table" if r.choice.association == "main" else "route table"
        desc += f"; {table.id} is also the {kind} of {len(sharing)} other subnet(s) ({shown}), which get the route too"
    if r.verdict == "not_igw" and route is not None:
        desc += f"; this replaces the route to {target_words(route)}, so the subnet stops being private"
    return cmds, fixer, desc


def first_free_cidr(vpc_cidr: str, taken: list[str], prefix: int = 24) -> str:
    """The first /24 (or the block itself if smaller) of `vpc_cidr` overlapping no taken CIDR."""
    try:
        block = ipaddress.ip_network(vpc_cidr, strict=False)
    except ValueError:
        return "<cidr>"
    used = []
    for c in taken:
        try:
            used.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            continue
    size = max(prefix, block.prefixlen)
    for i, candidate in enumerate(block.subnets(new_prefix=size)):
        if i > 4096:
            break
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    return "<cidr>"
