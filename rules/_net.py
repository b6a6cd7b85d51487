"""Helpers shared by the NET rules: plan scope, labels, and the printed form of their remedies.

Not a rule module (no `@rule`), so importing it registers nothing. The route and NACL semantics
themselves live in preflight.semantics (one truth, shared with `path` and `launch`).
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Iterator
from typing import Any

from preflight.engine import Context
from preflight.inventory.model import InternetGateway, Subnet
from preflight.semantics import remedies as rm
from preflight.semantics.routes import Reachability, Topology

TARGET_WORDS = rm.TARGET_WORDS
target_words = rm.target_words


def topo(ctx: Context) -> Topology:
    """The run's one Topology (the graph's, when one was given), or one cached on the context."""
    graph = getattr(ctx, "built_graph", None)
    found = graph.graph.get("topology") if graph is not None else None
    if found is not None and found.inventory is ctx.inventory:
        return found
    return ctx.cached("topology", lambda: Topology(ctx.inventory))


# --- plan --------------------------------------------------------------------------------------

def plan_get(ctx: Context, name: str, default: Any = None) -> Any:
    value = getattr(ctx.plan, name, None) if ctx.plan is not None else None
    return default if value is None else value


def _by_name(resources: Any, ref: str, prefix: str) -> str:
    """A plan may name a VPC or subnet by id or by its Name tag: the id when one resource has that
    Name (the runner refuses an ambiguous name before the rules run), else `ref` unchanged."""
    if not ref or ref.startswith(prefix):
        return ref
    found = [r.id for r in resources if r.name == ref]
    return found[0] if len(found) == 1 else ref


def plan_subnets(ctx: Context) -> tuple[str, ...]:
    return tuple(_by_name(ctx.inventory.subnets, s, "subnet-") for s in plan_get(ctx, "subnets", ()) or ())


def plan_vpc(ctx: Context) -> str:
    return _by_name(ctx.inventory.vpcs, plan_get(ctx, "vpc", "") or "", "vpc-")


def plan_public_ip(ctx: Context) -> bool | None:
    value = getattr(ctx.plan, "public_ip", None) if ctx.plan is not None else None
    return value if isinstance(value, bool) else None


def profile(ctx: Context) -> Any:
    """The launcher profile of the plan (preflight's own when the plan names none)."""
    from preflight.launchers import profile_of

    return profile_of(ctx.plan)


def selection(ctx: Context) -> Any:
    """The subnets the plan's launcher would pick in this inventory, or its error (None: the
    launcher has no selection of its own, so the plan's subnets/VPC or the region are in scope)."""
    if ctx.plan is None:
        return None
    return ctx.cached("launcher_selection", lambda: profile(ctx).select(ctx.inventory, ctx.plan))


def scope_vpc(ctx: Context) -> str:
    """The VPC the launch may land in: the plan's, else the default VPC when the launcher only
    uses that one (SkyPilot without aws.vpc_name, run-instances without a subnet), else ''."""
    vpc = plan_vpc(ctx)
    if vpc or ctx.plan is None or not profile(ctx).needs_default_vpc(ctx.plan):
        return vpc
    return next((v.id for v in ctx.inventory.vpcs if v.is_default), "")


def in_plan_scope(ctx: Context, subnet: Subnet) -> bool:
    """Is `subnet` where the plan's launch may land? (everything when the plan names none)"""
    named = plan_subnets(ctx)
    if named:
        return subnet.id in named
    vpc = scope_vpc(ctx)
    return not vpc or subnet.vpc_id == vpc


def launch_public_ip(ctx: Context, subnet: Subnet) -> bool | None:
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


# --- AWS CLI commands (rendered from preflight.semantics.remedies: the calls the fixers make) ----

def cli(region: str, operation: str, **params: Any) -> str:
    """One shell-quoted `aws ec2 OPERATION --region R ...` command (boto3 operation and params)."""
    return rm.ec2(operation, region, **params).cli()


def map_public_ip(region: str, subnet: str) -> str:
    return rm.map_public_ip(region, subnet).cli()


def loose_igws(t: Topology) -> list[InternetGateway]:
    """Internet gateways attached to no VPC, by id (memoised per topology)."""
    return _memo(t, "loose", lambda: rm.loose_igws(t))


_PER_TOPOLOGY: weakref.WeakKeyDictionary[Topology, dict[str, Any]] = weakref.WeakKeyDictionary()


def _memo(t: Topology, key: str, make: Any) -> Any:
    """Per-topology memo, so per-finding helpers stay linear over a whole run."""
    slot = _PER_TOPOLOGY.setdefault(t, {})
    if key not in slot:
        slot[key] = make()
    return slot[key]


def default_route_remedy(t: Topology, region: str, r: Reachability) -> rm.Remedy:
    """The remedy for a subnet without a usable default route (the fixers apply the same steps)."""
    return rm.default_route_remedy(t, region, r.subnet, r.choice, r.route, r.verdict)


def igw_routes(inventory: Any) -> list[tuple[str, str, str, str]]:
    """(table, vpc, destination, internet gateway) of every route to an internet gateway (see
    preflight.semantics.remedies.igw_routes)."""
    return rm.igw_routes(inventory)


def first_free_cidr(vpc_cidr: str, taken: list[str], prefix: int = 24) -> str:
    """The first /24 (or the block itself if smaller) of `vpc_cidr` overlapping no taken CIDR."""
    try:
        block = ipaddress.ip_network(vpc_cidr, strict=False)
    except ValueError:
        return "<cidr>"
    used: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for c in taken:
        try:
            used.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            continue
    size = max(prefix, block.prefixlen)
    candidates: Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network] = block.subnets(new_prefix=size)
    for i, candidate in enumerate(candidates):
        if i > 4096:
            break
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    return "<cidr>"
