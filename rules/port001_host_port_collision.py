"""PORT001 host-port-collision."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule

DEAD_STATES = frozenset({"terminated", "shutting-down"})


def plan_label(plan: Any) -> str:
    return f"{plan.source or 'plan'}:replicas"


@rule(
    id="PORT001",
    name="host-port-collision",
    severity="high",
    category="launch-blocker",
    scope="replicas",
    needs={"instances", "port_reservations"},
    summary="Two replicas or reservations claim the same port on the same host",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Collects every claim on a (host, port): the live reservations of the local port ledger, the
    `preflight:replica-ports` tag of running instances, and the fixed `replicas.ports` of the
    plan (replica i runs on plan instance i mod count). Two claims on one host and port fail.

    Why is this bad?
    A model server started 10 replicas and two were given port 40052 on the same worker; one of
    them could not bind and the service ran degraded. The collision is invisible until start.

    Example:
    replicas: {count: 4, ports: [40050, 40051, 40050, 40052]} with count: 1 puts replicas 0 and 2
    on port 40050 of the same instance.

    Fix: give each replica its own port: let `preflight launch` allocate replica ports (drop
    replicas.ports) or release the stale reservation (`preflight ports gc`).

    Fix safety:
    No fixer: which replica should move is the user's call. `preflight launch` never produces a
    collision, since it allocates through the ledger (UNIQUE(host, port), atomic reservation).
    """
    yield from _plan_collisions(ctx)
    yield from _account_collisions(ctx)


def _plan_collisions(ctx: Context) -> Iterator[Finding]:
    plan = ctx.plan
    replicas = plan.replicas if plan is not None else None
    if plan is None or replicas is None or not replicas.ports or (plan.region and plan.region != ctx.region):
        return
    hosts = max(1, plan.count)
    seen: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, port in enumerate(replicas.ports[: replicas.count or len(replicas.ports)]):
        seen[(i % hosts, port)].append(i)
    service = f" of {replicas.service}" if replicas.service else ""
    for (host, port), who in sorted(seen.items()):
        if len(who) < 2:
            continue
        names = ", ".join(str(i) for i in who)
        yield ctx.fail(
            plan_label(plan),
            f"replicas {names}{service} would all listen on port {port} of plan instance #{host} "
            f"(replica i runs on instance i mod {hosts}); all but one would fail to bind. Give each "
            f"its own port in replicas.ports, or drop replicas.ports and let `preflight launch` "
            f"allocate from replicas.port_range {replicas.port_range[0]}-{replicas.port_range[1]}",
            path=(plan_label(plan), f"instance #{host}", str(port)),
            details={"host": f"#{host}", "port": port, "replicas": who},
        )


def _account_collisions(ctx: Context) -> Iterator[Finding]:
    # claims[(host, port)][owner] = how many times that owner claims it
    from preflight.porttags import LAUNCH_TAG, REPLICA_PORTS_TAG, parse_ports_tag

    claims: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    live_ids = set()
    for inst in ctx.inventory.instances:
        if inst.state in DEAD_STATES:
            continue
        live_ids.add(inst.id)
        owner = inst.tags.get(LAUNCH_TAG) or f"tag:{inst.id}"
        for port, n in Counter(parse_ports_tag(inst.tags.get(REPLICA_PORTS_TAG, ""))).items():
            claims[(inst.id, port)][owner] = n
    for r in ctx.inventory.extra.get("port_reservations") or []:
        # Ledger hosts are instance ids for launches; other hosts belong to other regions/tools.
        if r.get("host") not in live_ids:
            continue
        key = (r["host"], int(r["port"]))
        claims[key][r["owner"]] = max(claims[key][r["owner"]], 1)
    for (host, port), owners in sorted(claims.items()):
        total = sum(owners.values())
        if total < 2:
            continue
        who = ", ".join(f"{o} (x{n})" if n > 1 else o for o, n in sorted(owners.items()))
        yield ctx.fail(
            host,
            f"port {port} on {host} is claimed {total} times, by {who}; only one process can bind it, "
            f"so a replica will fail to start. Move one replica to a free port (`preflight ports list` "
            f"shows the ledger) and release stale reservations with `preflight ports gc`",
            path=(host, str(port)),
            details={"port": port, "owners": dict(owners)},
        )
