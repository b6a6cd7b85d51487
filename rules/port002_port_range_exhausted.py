"""PORT002 port-range-exhausted."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.rules.port001_host_port_collision import plan_label


@rule(
    id="PORT002",
    name="port-range-exhausted",
    severity="high",
    category="launch-blocker",
    scope="replicas",
    summary="The replica port range cannot fit the plan's replicas",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Places the plan's replicas round-robin over its `count` instances, with ports from
    `replicas.port_range`, exactly as `preflight launch` will, and fails when some replica gets
    no port; with fixed `replicas.ports`, fails when they are fewer than the replicas.

    Why is this bad?
    The launch would pay for instances and then stop at the port stage, or, with a naive
    allocator, reuse a port and lose a replica.

    Example:
    count: 1, replicas: {count: 10, port_range: 40050-40057} has 8 ports for 10 replicas.

    Fix: widen replicas.port_range, or raise count so replicas spread over more instances.

    Fix safety:
    No fixer: widening the range may collide with other services, which only the user knows.
    """
    plan = ctx.plan
    replicas = plan.replicas if plan is not None else None
    if plan is None or replicas is None or replicas.count < 1 or (plan.region and plan.region != ctx.region):
        return
    if replicas.ports:  # fixed ports, one per replica: the launch places only as many replicas as ports
        if len(replicas.ports) < replicas.count:
            short = replicas.count - len(replicas.ports)
            yield ctx.fail(
                plan_label(plan),
                f"replicas.ports lists {len(replicas.ports)} port(s) for {replicas.count} replicas, so {short} "
                f"replica(s) would get no port. List one port per replica, or drop replicas.ports and let "
                f"`preflight launch` allocate from replicas.port_range",
                path=(plan_label(plan),),
                details={"replicas": replicas.count, "ports": list(replicas.ports), "unplaced": short},
            )
        return
    from preflight.ports import place_replicas  # here: a plan without replicas needs no port ledger code

    hosts = max(1, plan.count)
    lo, hi = replicas.port_range
    placed = place_replicas([str(i) for i in range(hosts)], replicas.count, (lo, hi))
    if len(placed) >= replicas.count:
        return
    size = hi - lo + 1
    per_host = -(-replicas.count // hosts)
    service = f" of {replicas.service}" if replicas.service else ""
    # Advice that can be followed: a range ends at 65535, so past that only more instances help.
    if lo + per_host - 1 <= 65535:
        advice = f"Widen it to at least {lo}-{lo + per_host - 1}, or raise count to {-(-replicas.count // size)}"
    else:
        advice = (f"No port range can hold {per_host} ports per instance (at most {65535 - lo + 1} from {lo}): "
                  f"lower replicas.count, or raise count to at least {-(-replicas.count // (65535 - lo + 1))} "
                  f"with the range widened to {lo}-65535")
    yield ctx.fail(
        plan_label(plan),
        f"{replicas.count} replicas{service} on {hosts} instance(s) need {per_host} port(s) per instance, "
        f"but replicas.port_range {lo}-{hi} has {size}, so {replicas.count - len(placed)} replica(s) would get "
        f"no port. {advice}",
        path=(plan_label(plan),),
        details={"replicas": replicas.count, "hosts": hosts, "range": [lo, hi],
                 "unplaced": replicas.count - len(placed)},
    )
