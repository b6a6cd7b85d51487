"""NET002 subnet-without-default-route."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.rules import _net


@rule(
    id="NET002",
    name="subnet-without-default-route",
    severity="high",
    category="launch-blocker",
    scope="vpc",
    summary="Public subnet has no active default route to an attached internet gateway",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html",),
    needs={"subnets", "route_tables", "internet_gateways", "nat_gateways"},
    fixer="route-add-default",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    For every subnet meant to be public — it maps public IPs on launch, or the plan names it in
    `subnets` — checks that its effective route table (the explicitly associated one, else the VPC's
    main table; an explicit association overrides a main table that has a default route) selects an
    active 0.0.0.0/0 route to an internet gateway attached to the subnet's VPC. A private subnet
    whose default route goes to a NAT gateway is not a finding (named by the plan or not), unless
    it maps public IPs or the plan asks for a public IP.

    Why is this bad?
    Instances there get a public IP but are unreachable, and cannot reach the internet either:
    launches time out waiting for SSH or for the instance to come up.

    Example:
    subnet-1 maps public IPs and is explicitly associated with rtb-1, which has only the local route;
    the VPC's main table has 0.0.0.0/0 -> igw-1 but does not apply to subnet-1. Fix:
    `aws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 --gateway-id igw-1`.

    Fix safety:
    When the subnet uses the VPC's main route table together with other subnets, the fix gives it a
    route table of its own (copying the main table's other routes) instead of making every subnet
    internet-routed. An explicit table shared with other subnets gets the route (they were meant to
    share it; the description names them). A route to a NAT gateway is never replaced by the fixer:
    that would make a private subnet public.
    """
    t = _net.topo(ctx)
    region = ctx.inventory.region
    named = set(_net.plan_subnets(ctx))
    sel = _net.selection(ctx)
    picked = set(sel.subnets) if sel is not None else set()
    prof = _net.profile(ctx)
    for s in ctx.inventory.subnets:
        ask_public = _net.launch_public_ip(ctx, s) is True
        if not (s.map_public_ip_on_launch or s.id in named or s.id in picked):
            continue
        reach = t.public_reachability(s.id, _net.launch_public_ip(ctx, s))
        if reach is None or reach.verdict == "ok":
            continue
        route = reach.route
        to_nat = route is not None and route.target_kind == "nat_gateway" and reach.verdict == "not_igw"
        if to_nat and not s.map_public_ip_on_launch and not ask_public:
            continue  # a private subnet behind a NAT gateway, as designed
        why = ("maps public IPs on launch" if s.map_public_ip_on_launch and s.id not in picked
               else f"is where {prof.title} will launch"
               + (" (it asks for a public IP itself)" if prof.requests_public_ip(ctx.plan) is True else "")
               if s.id in picked
               else "is named by the plan" + (", which asks for a public IP" if ask_public else ""))
        problem = _net.route_problem(t, reach)
        remedy = _net.default_route_remedy(t, region, reach)
        commands, description = remedy.commands(), remedy.description
        path = [s.id]
        if reach.choice is not None:
            path.append(reach.choice.table.id)
        if route is not None and route.target_id:
            path.append(route.target_id)
        attached = t.igws_by_vpc.get(s.vpc_id, [])
        if attached and attached[0].id not in path:
            path.append(attached[0].id)
        yield ctx.fail(
            s.id,
            f"Subnet {_net.label(s)} {why}, but {problem}. Instances launched there cannot be reached from "
            f"the internet, nor reach it.",
            path=path,
            # A /0 split is repointed by the commands; the fixer only knows 0.0.0.0/0 itself.
            fix=ctx.fix(*commands, description=description,
                        **({"fixer": None} if reach.choice and t.default_split(reach.choice.table) else {})),
            details={"verdict": reach.verdict, "association": reach.choice.association if reach.choice else "",
                     # With a launcher that picks its own subnets, only those block its launch.
                     **({"launcher": prof.name, "blocks_launch": s.id in picked} if sel is not None else {})},
        )
