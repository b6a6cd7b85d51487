"""NET005 public-route-without-public-ip."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.rules import _net


@rule(
    id="NET005",
    name="public-route-without-public-ip",
    severity="medium",
    category="launch-blocker",
    scope="subnet",
    summary="Subnet routes to an internet gateway but does not map public IPs on launch",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/modify-subnets.html",),
    needs={"subnets", "route_tables", "internet_gateways"},
    fixer="subnet-map-public-ip",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reports each subnet whose effective route table sends 0.0.0.0/0 to an attached internet gateway
    (an active route) while the subnet does not map public IPv4 addresses on launch. A plan with
    `public_ip: true` silences it for the subnets the plan may launch into (its `subnets`, else its
    `vpc`, else every subnet), since the launch asks for an address itself.

    Why is this bad?
    Launchers that rely on the subnet's setting (most do) get instances with only a private
    address in a "public" subnet: SSH and health checks time out, and outbound traffic is dropped.

    Example:
    subnet-1's route table sends 0.0.0.0/0 to igw-1, and MapPublicIpOnLaunch is false. Fix:
    `aws ec2 modify-subnet-attribute --subnet-id subnet-1 --map-public-ip-on-launch`.

    Fix safety:
    Safe for running instances (only instances launched afterwards get a public IP), but every
    later launch into the subnet becomes internet-facing, subject to its security groups.
    """
    t = _net.topo(ctx)
    region = ctx.inventory.region
    for s in ctx.inventory.subnets:
        if s.map_public_ip_on_launch or _net.launch_public_ip(ctx, s):
            continue
        reach = t.public_reachability(s.id)
        if reach is None or reach.verdict != "ok" or reach.choice is None or reach.route is None:
            continue
        table, igw = reach.choice.table, reach.route.target_id
        yield ctx.fail(
            s.id,
            f"Subnet {_net.label(s)} routes {reach.route.destination} to internet gateway {igw} "
            f"(route table {table.id}) but "
            f"does not map public IPs on launch, so instances launched there without an explicit public IP "
            f"get none and cannot use the gateway.",
            path=[s.id, table.id, igw],
            fix=ctx.fix(_net.map_public_ip(region, s.id),
                        description=f"make {s.id} give instances launched from now on a public IPv4 address"),
        )
