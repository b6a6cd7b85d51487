"""NET001 no-usable-subnet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule
from preflight.rules import _net
from preflight.semantics import remedies as rm
from preflight.semantics.routes import Reachability, Topology

MAX_LISTED = 10
NO_REASON = "not reachable from the internet"


@rule(
    id="NET001",
    name="no-usable-subnet",
    severity="high",
    category="launch-blocker",
    scope="region",
    summary="No subnet can host an instance reachable from the internet",
    references=(
        "https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html",
        "https://docs.aws.amazon.com/vpc/latest/userguide/modify-subnets.html",
    ),
    needs={"vpcs", "subnets", "route_tables", "internet_gateways"},
    fixer="subnet-make-public",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Looks for at least one subnet, in the region or in the VPC/subnets the plan names, where a new
    instance would be reachable from the internet: the subnet's effective route table (its explicit
    association, else the VPC's main table) has an active 0.0.0.0/0 route to an internet gateway
    attached to the subnet's VPC, and the instance gets a public IP (the subnet maps public IPs on
    launch, or the plan sets `public_ip: true`). A subnet with an active ::/0 route to an attached
    internet gateway that assigns IPv6 addresses on creation also qualifies; an egress-only gateway
    does not (it is outbound only). When no subnet qualifies, it reports once, on the VPC of the
    closest candidate (the region name when there is no VPC), listing every candidate subnet with
    the first reason it was rejected. A plan with `public_ip: false` wants no reachable instance, so
    the rule stays silent.

    Why is this bad?
    Tools that launch clusters (SkyPilot, Ray, preflight launch) pick such a subnet; without one they
    stop with "No usable subnets found" and no hint of which route or attribute is missing.

    Example:
    The default VPC of eu-south-1 was deleted; vpc-1 has igw-1 attached, but subnet-1's route table
    rtb-1 has no 0.0.0.0/0 route and subnet-1 does not map public IPs on launch. Fix:
    `aws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 --gateway-id igw-1`
    and `aws ec2 modify-subnet-attribute --subnet-id subnet-1 --map-public-ip-on-launch`.

    Fix safety:
    Sometimes unsafe: with one candidate the fix is safe; with several, picking the closest is a
    choice made for you, applied only with `--unsafe-fixes`. The fix works on the closest candidate
    only. A main route table shared with other subnets is
    not changed: the subnet gets its own route table (copying the main table's other routes), so the
    other subnets do not become internet-routed. Mapping public IPs only affects instances launched
    later.
    """
    if _net.plan_public_ip(ctx) is False:
        return
    t = _net.topo(ctx)
    inv = ctx.inventory
    region = inv.region
    named, plan_vpc = _net.plan_subnets(ctx), _net.plan_vpc(ctx)
    vpcs = {v.id: v for v in inv.vpcs}

    if plan_vpc and plan_vpc not in vpcs and not named:
        yield ctx.fail(
            plan_vpc,
            f"The plan's VPC {plan_vpc} does not exist in {region}, so no subnet there can host the launch. "
            f"Existing VPCs: {', '.join(sorted(vpcs)) or 'none'}.",
            path=[plan_vpc],
            details={"candidates": []},
        )
        return

    prof, sel = _net.profile(ctx), _net.selection(ctx)
    lead = ""  # the launcher's own words, when it has a selection of its own
    if sel is not None:
        if sel.error and sel.default_vpc_only and not sel.subnets and not any(
                s.vpc_id in {v.id for v in inv.vpcs if v.is_default} for s in inv.subnets):
            return  # no default VPC (or no subnet in it): NET006 says it in the launcher's words
        if sel.ok:
            picked = [t.subnets[x] for x in sel.subnets if x in t.subnets]
            if sel.lands_in:
                # The launcher uses its first pick(s) as long as RunInstances succeeds there, so
                # each of those must be reachable, not just one of the picked subnets.
                lands = [t.subnets[x] for x in sel.lands_in if x in t.subnets]
                picked = [s for s in lands
                          if not _reach().internet_usable(inv, s.id, _net.launch_public_ip(ctx, s), t)]
                if not picked:
                    return
            elif any(_reach().internet_usable(inv, s.id, _net.launch_public_ip(ctx, s), t) for s in picked):
                return
            first = picked[0]
            named, candidates = tuple(s.id for s in picked), picked
            missing: list[str] = []
            first_reach = t.public_reachability(first.id, _net.launch_public_ip(ctx, first))
            problem = _net.route_problem(t, first_reach) if first_reach is not None else ""
            lead = prof.will_pick(first.id, first.availability_zone, problem) + f" ({prof.why_stricter()})"
        else:
            scope = sel.vpc or _net.scope_vpc(ctx)
            named, missing = (), []
            candidates = [s for s in inv.subnets if not scope or s.vpc_id == scope]
            lead = prof.will_stop(sel.error, sel.why)
            if not candidates:
                yield ctx.fail(scope or region, lead + ".", path=[scope or region],
                               details={"candidates": [], "launcher": prof.name, "blocks_launch": True})
                return
            plan_vpc = scope
    elif named:
        missing = [sid for sid in named if sid not in t.subnets]
        candidates = [t.subnets[sid] for sid in named if sid in t.subnets]
    else:
        missing = []
        candidates = [s for s in inv.subnets if not plan_vpc or s.vpc_id == plan_vpc]

    rejected: list[tuple[tuple[int, ...], Any, Reachability | None, list[str]]] = []
    codes: dict[str, list[str]] = {}  # the `preflight path` codes of each rejected subnet, in path order
    for s in candidates:
        reach = t.public_reachability(s.id, _net.launch_public_ip(ctx, s))
        # Usable or not is `preflight path`'s answer (one engine), so the two never disagree.
        usable = _reach().internet_usable(inv, s.id, _net.launch_public_ip(ctx, s), t)
        if reach is not None and usable and s.state in ("available", "") and not (plan_vpc and s.vpc_id != plan_vpc):
            return  # one usable subnet is enough
        blockers = _reach().internet_blockers(inv, s.id, _net.launch_public_ip(ctx, s), 4, t)
        codes[s.id] = [h.code for h in blockers]
        planned = bool(getattr(ctx.plan, "given", ()))
        reasons = _reasons(t, reach, plan_vpc, planned) if reach is not None else ["not found"]
        if reasons == [NO_REASON] and blockers:
            reasons = [blockers[0].detail]
        rejected.append((_rank(reach, plan_vpc), s, reach, reasons))
    rejected.sort(key=lambda x: (x[0], x[1].id))

    scope = (f"VPC {plan_vpc}" if plan_vpc and not named
             else ("the plan's subnets" if named and sel is None else ("the picked subnets" if named else region)))
    lines = [f"{_net.label(s)} in {s.vpc_id}: {_first_and_more(reasons)}" for _, s, _, reasons in rejected]
    lines += [f"{sid}: named by the plan but not found in {region}" for sid in missing]
    details: dict[str, Any] = {
        "candidates": [{"subnet": s.id, "vpc": s.vpc_id, "reasons": reasons, "codes": codes.get(s.id, [])}
                       for _, s, _, reasons in rejected]
        + [{"subnet": sid, "vpc": "", "reasons": ["not found"]} for sid in missing],
    }

    if not rejected:
        yield from _no_candidates(ctx, t, vpcs, plan_vpc, missing, lines, details)
        return

    _, best, reach, _ = rejected[0]
    assert reach is not None
    commands, description = _commands(t, region, reach)
    path = [best.vpc_id, best.id]
    if reach.choice is not None:
        path.append(reach.choice.table.id)
    igw = _igw_in_play(t, reach)
    if igw:
        path.append(igw)
    if reach.ipv6_route is not None and reach.ipv6_route.target_id and reach.ipv6_verdict != "ok":
        path.append(reach.ipv6_route.target_id)
    listed = lines[:MAX_LISTED] + ([f"... and {len(lines) - MAX_LISTED} more"] if len(lines) > MAX_LISTED else [])
    n = len(lines)
    closest = "" if n == 1 else (
        f" The fix below is for the closest candidate, {best.id}"
        + (f" (route table {reach.choice.table.id}" + (f", internet gateway {igw})" if igw else ")")
           if reach.choice else "") + ".")
    head = (f"{lead}. " if lead else
            f"No subnet in {scope} can host an instance reachable from the internet, so a launcher would stop with "
            f"'No usable subnets found'. ")
    if lead and sel is not None and sel.ok and n == 1:
        message = head.rstrip()  # the launcher's one pick, its reason already said
    else:
        message = head + f"{n} candidate{'s' if n != 1 else ''} rejected: " + "; ".join(listed) + "." + closest
    if sel is not None:
        details.update(launcher=prof.name, blocks_launch=True)
    yield ctx.fail(best.vpc_id, message, path=path, details=details,
                   fix=ctx.fix(*commands, description=description))


def _reasons(t: Topology, r: Reachability, plan_vpc: str, has_plan: bool) -> list[str]:
    s = r.subnet
    out: list[str] = []
    if s.state not in ("available", ""):
        out.append(f"is {s.state}, not available")
    if plan_vpc and s.vpc_id != plan_vpc:
        out.append(f"is in {s.vpc_id}, not in the plan's VPC {plan_vpc}")
    problem = _net.route_problem(t, r)
    if problem:
        out.append(problem)
    if not r.public_ip:
        out.append("does not map public IPs on launch (MapPublicIpOnLaunch is false)"
                   + (" and the plan does not ask for one" if has_plan else "")
                   + ", so instances get no public address")
    if r.ipv6_verdict == "not_igw" and r.ipv6_route is not None and r.ipv6_route.target_kind == "egress_only_igw":
        out.append(f"its ::/0 route goes to egress-only gateway {r.ipv6_route.target_id}, which carries "
                   f"outbound IPv6 only, never inbound")
    return out or [NO_REASON]


def _rank(r: Reachability | None, plan_vpc: str) -> tuple[int, ...]:
    """Closest candidate first: fewest problems; intentionally private subnets last."""
    return (9, 9) if r is None else r.candidate_rank(plan_vpc)


def _first_and_more(reasons: list[str]) -> str:
    if len(reasons) == 1:
        return reasons[0]
    return f"{reasons[0]} (also: {'; '.join(reasons[1:])})"


def _igw_in_play(t: Topology, r: Reachability) -> str:
    attached = t.igws_by_vpc.get(r.subnet.vpc_id, [])
    if attached:
        return attached[0].id
    if r.route is not None and r.route.target_kind == "internet_gateway":
        return r.route.target_id
    loose = _net.loose_igws(t)
    return loose[0].id if loose else ""


def _commands(t: Topology, region: str, r: Reachability) -> tuple[list[str], str]:
    remedy = _net.default_route_remedy(t, region, r)
    commands, description = list(remedy.commands()), remedy.description
    parts = [description] if description else []
    if not r.public_ip:
        commands.append(_net.map_public_ip(region, r.subnet.id))
        parts.append(f"make {r.subnet.id} map public IPs on launch (only instances launched later get one)")
    return commands, "; ".join(parts)


def _no_candidates(ctx: Context, t: Topology, vpcs: dict[str, Any], plan_vpc: str, missing: list[str],
                   lines: list[str], details: dict[str, Any]) -> Iterator[Finding]:
    region = ctx.inventory.region
    if missing:
        vpc = plan_vpc or region
        yield ctx.fail(vpc, f"None of the plan's subnets exist in {region}: " + "; ".join(lines) + ".",
                       path=[vpc, *missing], details=details)
        return
    target = vpcs.get(plan_vpc) if plan_vpc else (sorted(vpcs.values(), key=lambda v: (not v.is_default, v.id))
                                                  or [None])[0]
    if target is None:
        yield ctx.fail(
            region,
            f"The region {region} has no VPC at all, so no instance can be launched there. Create the default "
            f"VPC (a public subnet in every zone, with an internet gateway and a default route).",
            path=[region], details=details,
            fix=ctx.fix(_net.cli(region, "create_default_vpc"), description="create the default VPC", fixer=None),
        )
        return
    cidr = _net.first_free_cidr(target.cidr_blocks[0] if target.cidr_blocks else "", [])
    igw, steps, _ = rm.igw_steps(t, region, target.id)
    new_subnet = rm.Step(rm.ec2("create_subnet", region, VpcId=target.id, CidrBlock=cidr),
                         f"create subnet {cidr}", target.id, produces=rm.SUBNET)
    steps = [*steps, new_subnet,
             rm.create_route_table(region, target.id, rm.SUBNET, "create its route table"),
             rm.create_route(region, rm.RTB, "0.0.0.0/0", {"GatewayId": igw}, description="default route"),
             rm.associate(region, rm.RTB, rm.SUBNET),
             rm.map_public_ip(region, rm.SUBNET)]
    cmds = rm.commands(steps)
    yield ctx.fail(
        target.id,
        f"VPC {target.id} has no subnet, so no instance can be launched in {region}"
        + (" (the plan names this VPC)" if plan_vpc else "") + ". Create a public subnet in it.",
        path=[target.id], details=details,
        fix=ctx.fix(*cmds, description=f"create a public subnet {cidr} in {target.id}", fixer=None),
    )


def _reach() -> Any:
    """The reachability engine, imported when a rejected or chosen subnet needs it (not at start-up)."""
    from preflight.semantics import reach

    return reach
