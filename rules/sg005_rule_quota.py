"""SG005 rule-quota."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Context, Finding, rule
from preflight.semantics.secgroups import (
    canonical_cidr,
    label,
    missing_ports,
    plan_group_ref,
    ranges,
    resolve_group,
)

DEFAULT_QUOTA = 60


def quotas(value: Any) -> dict[str, int]:
    """`sg_rule_quota`: one number for both directions, or {"inbound": n, "outbound": m}."""
    if value is None:
        return {"inbound": DEFAULT_QUOTA, "outbound": DEFAULT_QUOTA}
    if isinstance(value, dict):
        return {"inbound": int(value.get("inbound", DEFAULT_QUOTA)),
                "outbound": int(value.get("outbound", DEFAULT_QUOTA))}
    return {"inbound": int(value), "outbound": int(value)}


@rule(
    id="SG005",
    name="rule-quota",
    severity="medium",
    category="launch-blocker",
    scope="group",
    blocks_when="planned",  # only when the plan's own additions push the group over
    summary="A security group is over, or the plan would push it over, its rule quota",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups",),
    needs={"security_groups"},
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    Counts inbound and outbound rules of each group, separately for IPv4 and IPv6 as AWS does (a
    rule referencing a group or prefix list counts for both), against the quota (default 60 per
    direction; `sg_rule_quota` in config for accounts that raised it). The rules the plan's missing
    ports would add to the plan's group are counted too.

    Why is this bad?
    The authorize call fails with RulesPerSecurityGroupLimitExceeded in the middle of a launch.

    Example
    A group with 59 inbound IPv4 rules and a plan needing ports 8002 and 8004 (two new rules).

    Fix: remove duplicate/redundant rules (SG001/SG002), merge ranges, or raise the quota in Service
    Quotas.

    Fix safety
    No automatic fix. `preflight fix` removing SG001/SG002 rules frees quota.
    """
    limit = quotas(ctx.option("sg_rule_quota"))
    extra: dict[str, tuple[str, int]] = {}
    ref = plan_group_ref(ctx.plan, ctx.region)
    if ref and ctx.plan is not None and ctx.plan.ports:
        matches = resolve_group(ctx.inventory.security_groups, ref, ctx.plan.vpc)
        if len(matches) == 1:
            source = ctx.plan.source_cidr or "0.0.0.0/0"
            missing = missing_ports(matches, ctx.plan.ports, source)
            if missing:
                version = "ipv4" if canonical_cidr(source).kind == "cidr4" else "ipv6"
                extra[matches[0].id] = (version, len(ranges(missing)))
    floor = min(limit.values())
    for group in ctx.inventory.security_groups:
        if len(group.rules) <= floor and group.id not in extra:
            continue  # no count can exceed the number of rules: nothing to report (the common case)
        counts = {(d, v): 0 for d in ("inbound", "outbound") for v in ("ipv4", "ipv6")}
        for r in group.rules:
            d = "outbound" if r.egress else "inbound"
            if r.cidr_ipv4:
                counts[(d, "ipv4")] += 1
            elif r.cidr_ipv6:
                counts[(d, "ipv6")] += 1
            else:
                counts[(d, "ipv4")] += 1
                counts[(d, "ipv6")] += 1
        adding = extra.get(group.id)
        problems = []
        for (d, v), n in sorted(counts.items()):
            planned = adding[1] if adding and d == "inbound" and adding[0] == v else 0
            if n > limit[d]:
                problems.append(f"{n} {d} {v} rules, over the quota of {limit[d]}")
            elif planned and n + planned > limit[d]:
                problems.append(f"{n} {d} {v} rules and the plan adds {planned}, over the quota of {limit[d]}")
        if problems:
            yield ctx.fail(
                group.id,
                f"security group {label(group)} has " + "; ".join(problems)
                + ". AWS rejects rules beyond the quota (RulesPerSecurityGroupLimitExceeded), failing the launch; "
                  "remove duplicate/redundant rules (preflight fix --select SG001,SG002), merge ranges, or raise "
                  "the quota 'Inbound or outbound rules per security group' in Service Quotas.",
                path=[group.id],
                fix=ctx.fix("aws service-quotas request-service-quota-increase --service-code vpc "
                            f"--quota-code L-0EA8095F --desired-value {max(limit.values()) * 2} --region {ctx.region}",
                            description="raise the per-group rule quota", fixer=None),
                details={"counts": {f"{d}_{v}": n for (d, v), n in counts.items()}, "quota": limit,
                         "planned": adding[1] if adding else 0},
            )
