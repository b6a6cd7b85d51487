"""NET004 blackhole-route."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.inventory.model import Route, RouteTable
from preflight.rules import _net
from preflight.semantics import remedies as rm
from preflight.semantics.routes import DEAD_NAT_STATES, Topology


@rule(
    id="NET004",
    name="blackhole-route",
    severity="medium",
    category="launch-blocker",
    scope="subnet",
    summary="A route's target was deleted or detached, so the route drops traffic (blackhole)",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html#route-table-routes",),
    needs={"route_tables", "internet_gateways", "egress_only_internet_gateways", "nat_gateways"},
    fixer="route-replace-blackhole",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reports each route table (the finding's resource) holding routes whose state is `blackhole`.
    The state is judged from the target itself, as EC2 does: a NAT gateway that is deleted, deleting
    or failed (or gone), an internet gateway that is gone or not attached to the table's VPC, an
    egress-only gateway that is gone. (moto always reports `active`; AWS's own `blackhole` state is
    honoured too.)

    Why is this bad?
    Subnets using the table lose connectivity to the route's destination — for 0.0.0.0/0 via a
    deleted NAT gateway, private instances can no longer download packages or reach AWS APIs, so
    bootstrapping fails. Longest prefix match still selects a blackhole route: the traffic is
    dropped, not sent by a less specific route.

    Example:
    rtb-1 has 0.0.0.0/0 -> nat-1, and nat-1 was deleted. Fix: point it at a live NAT gateway,
    `aws ec2 replace-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-2`,
    or remove it with `aws ec2 delete-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0`.

    Fix safety:
    Unsafe (applied only with `--unsafe-fixes`): a replaced route has no automatic undo, since its
    old target is gone. Replacing with a NAT gateway in another zone adds cross-zone traffic; deleting a default route
    leaves the subnets without internet access rather than with a broken one.
    """
    t = _net.topo(ctx)
    region = ctx.inventory.region
    for table in ctx.inventory.route_tables:
        dead = [r for r in table.routes if r.target_kind != "local" and t.route_state(r, table.vpc_id) == "blackhole"]
        if not dead:
            continue
        commands: list[str] = []
        notes: list[str] = []
        why: list[str] = []
        fixers: set[str | None] = set()
        for route in dead:
            why.append(f"{route.destination} -> {route.target_id or '?'} ({_reason(t, route, table)})")
            remedy = rm.blackhole_remedy(t, region, table, route)
            fixers.add(remedy.fixer)
            commands += remedy.commands()
            notes.append(remedy.description)
        subnets = [s.id for s in t.subnets_using(table)]
        used = (f"used by {', '.join(subnets[:5])}" + (f" and {len(subnets) - 5} more" if len(subnets) > 5 else "")
                if subnets else "not used by any subnet")
        yield ctx.fail(
            table.id,
            f"Route table {_net.label(table)} in {table.vpc_id} has {len(dead)} blackhole route(s): "
            f"{'; '.join(why)}. Traffic to those destinations is dropped (the table is {used}).",
            path=[table.id, *dict.fromkeys(r.target_id for r in dead if r.target_id), *subnets[:5]],
            fix=ctx.fix(*commands, description="; ".join(notes), fixer=_one_fixer(fixers)),
            details={"routes": [{"destination": r.destination, "target": r.target_id, "target_kind": r.target_kind}
                                for r in dead], "subnets": subnets},
        )


def _one_fixer(fixers: set[str | None]) -> str | None:
    """The fixer to advertise: only one that would repair every dead route of the table. A route
    with no live target to point at is printed for a human and refused by fixers, so advertising
    `preflight fix` for it would promise a change that never comes."""
    return next(iter(fixers)) if len(fixers) == 1 else None


def _reason(t: Topology, route: Route, table: RouteTable) -> str:
    kind, tid = route.target_kind, route.target_id
    word = _net.TARGET_WORDS.get(kind, kind)
    if kind == "nat_gateway":
        nat = t.nats.get(tid)
        if nat is not None and nat.state in DEAD_NAT_STATES:
            return f"{word} is {nat.state}"
        return f"{word} no longer exists"
    if kind == "internet_gateway":
        igw = t.igws.get(tid)
        if igw is None:
            return f"{word} no longer exists"
        elsewhere = igw.attached_vpcs()
        return f"{word} is attached to {', '.join(elsewhere)}" if elsewhere else f"{word} is detached"
    if kind == "egress_only_igw" and tid not in t.eigws:
        return f"{word} no longer exists"
    return f"{word} is unavailable (EC2 reports the route as blackhole)"
