"""NET003 internet-gateway-not-attached."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.rules import _net
from preflight.semantics import remedies as rm


@rule(
    id="NET003",
    name="internet-gateway-not-attached",
    severity="high",
    category="launch-blocker",
    scope="vpc",
    summary="A route targets an internet gateway that is detached or attached to another VPC, "
            "or an internet gateway exists detached",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html",),
    needs={"vpcs", "route_tables", "internet_gateways"},
    fixer="igw-attach",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reports each internet gateway (the finding's resource) that (a) is the target of a route in a
    VPC it is not attached to, while it is attached to no VPC at all; (b) is the target of a route
    in a VPC while it is attached to another VPC; or (c) exists attached to no VPC and no route uses
    it. The route tables involved are in the evidence path.

    Why is this bad?
    Traffic routed to the gateway is dropped, so instances in the subnets using those route tables
    have no internet access — launches hang waiting for the instance to be reachable. An internet
    gateway carries traffic only for the one VPC it is attached to; a detached gateway is usually a
    half-finished setup.

    Example:
    rtb-1 in vpc-1 has 0.0.0.0/0 -> igw-1, and igw-1 was detached. Fix:
    `aws ec2 attach-internet-gateway --internet-gateway-id igw-1 --vpc-id vpc-1`.

    Fix safety:
    Attaching a detached gateway changes nothing until routes use it. When the gateway belongs to
    another VPC, the fix re-points the routes at this VPC's own gateway instead (creating one if
    needed) and leaves the other VPC untouched.
    """
    t = _net.topo(ctx)
    region = ctx.inventory.region
    users: dict[str, list[tuple[str, str, str]]] = {}  # igw -> [(table, vpc, destination)]
    for table, vpc, destination, igw_id in _net.igw_routes(ctx.inventory):
        users.setdefault(igw_id, []).append((table, vpc, destination))

    for igw in sorted(t.igws.values(), key=lambda g: g.id):
        attached = igw.attached_vpcs()
        wrong = [u for u in users.get(igw.id, []) if u[1] not in attached]
        if not attached and wrong:
            vpcs = sorted({u[1] for u in wrong})
            tables = sorted({u[0] for u in wrong})
            target = vpcs[0]
            others = f" (routes in {', '.join(vpcs[1:])} use it too; a gateway serves one VPC)" if len(vpcs) > 1 else ""
            yield ctx.fail(
                igw.id,
                f"Internet gateway {_net.label(igw)} is not attached to any VPC, but route table(s) "
                f"{', '.join(tables)} in {target} send traffic to it, so those routes are blackholes and their "
                f"subnets have no internet access{others}.",
                path=[igw.id, *tables, target],
                fix=ctx.fix(rm.attach_igw(region, igw.id, target).cli(),
                            description=f"attach {igw.id} to {target}; the existing routes then work"),
                details={"route_tables": tables, "vpcs": vpcs},
            )
        elif wrong:
            tables = sorted({u[0] for u in wrong})
            commands: list[str] = []
            fixes: list[str] = []
            for vpc in sorted({u[1] for u in wrong}):
                commands += rm.commands(rm.foreign_igw_steps(t, region, igw.id, vpc))
                own = t.igws_by_vpc[vpc][0].id if t.igws_by_vpc.get(vpc) else "its own gateway"
                fixes.append(f"route {vpc}'s tables to {own}")
            yield ctx.fail(
                igw.id,
                f"Internet gateway {_net.label(igw)} is attached to {', '.join(attached)}, but route table(s) "
                f"{', '.join(tables)} in another VPC send traffic to it; a gateway only serves its own VPC, so "
                f"those routes are blackholes.",
                path=[igw.id, *tables],
                fix=ctx.fix(*commands, description="; ".join(fixes) + f" (leaves {igw.id} where it is)"),
                details={"route_tables": tables, "attached_to": list(attached)},
            )
        elif not attached:
            bare = sorted(v.id for v in ctx.inventory.vpcs if not t.igws_by_vpc.get(v.id))
            if len(bare) == 1:
                fix = ctx.fix(rm.attach_igw(region, igw.id, bare[0]).cli(),
                              description=f"attach {igw.id} to {bare[0]}, the only VPC without an internet gateway")
            else:
                fix = ctx.fix(_net.cli(region, "delete_internet_gateway", InternetGatewayId=igw.id),
                              description=f"delete the unused {igw.id}, or attach it with attach-internet-gateway "
                                          f"to the VPC that should reach the internet",
                              fixer=None)
            yield ctx.fail(
                igw.id,
                f"Internet gateway {_net.label(igw)} is not attached to any VPC and no route uses it; a VPC "
                f"meant to reach the internet through it cannot"
                + (f" ({bare[0]} has no internet gateway attached)" if len(bare) == 1 else "") + ".",
                path=[igw.id, *bare[:1]],
                fix=fix,
                details={"vpcs_without_igw": bare},
            )
