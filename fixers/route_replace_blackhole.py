"""route-replace-blackhole: point a blackhole route at the obvious live target (NET004)."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Finding
from preflight.fix import Change, FixContext, Refusal, fixer
from preflight.fixers import _netfix as nf
from preflight.semantics import remedies as rm
from preflight.semantics.routes import Topology

ID = "route-replace-blackhole"
PERMISSIONS = ("ec2:ReplaceRoute", "ec2:DescribeRouteTables")


@fixer(id=ID, fixes=("NET004",), permissions=PERMISSIONS, safety="unsafe",
       summary="Re-point a blackhole route at the VPC's internet gateway or its one live NAT gateway")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Replaces each blackhole route when the right target is obvious: a route to a gone or
    detached internet gateway goes to the internet gateway attached to the table's VPC; a route to
    a deleted NAT gateway goes to the VPC's only available NAT gateway. Anything else (no candidate,
    or several NAT gateways to choose from) is refused with the command to run by hand. The old
    target is dead, so EC2 would not accept it back: these changes have no automatic undo, and the
    journal records the old route.

    Fix safety:
    Unsafe. `preflight undo` cannot reverse it (the old target is gone), and the new target is a
    choice made for you: traffic of every subnet using the table starts to flow through that gateway
    (for a NAT gateway possibly in another availability zone, with cross-zone charges). Applied only
    with --unsafe-fixes.
    """
    t = Topology(ctx.inventory)
    for f in findings:
        table = t.route_tables.get(f.resource)
        if table is None:
            continue
        for route in table.routes:
            if route.target_kind == "local" or t.route_state(route, table.vpc_id) != "blackhole":
                continue
            remedy = rm.blackhole_remedy(t, ctx.region, table, route)
            if remedy.fixer == "igw-attach":
                continue  # the gateway exists, detached: igw-attach is the repair
            if remedy.fixer != ID:
                by_hand = "; ".join(f"`{c}`" for c in remedy.commands())
                yield Refusal(ID, table.id, f"{remedy.refusal}: {by_hand}" if by_hand else remedy.refusal, ("NET004",))
                continue
            yield from nf.changes(remedy.steps, ("NET004",), ID)
