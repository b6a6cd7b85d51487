"""SG006 stale-group-reference."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import aws_cli
from preflight.semantics.secgroups import label

_GONE_PEERING = {"deleted", "rejected", "expired", "failed"}


@rule(
    id="SG006",
    name="stale-group-reference",
    severity="medium",
    category="hygiene",
    scope="group",
    summary="A rule references a security group that no longer exists or is unreachable from this VPC",
    needs={"security_groups", "vpc_peering_connections"},
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    Finds rules whose peer is a security group of this account that is not in the inventory any
    more, that lives in another VPC with no active peering to this group's VPC, or that AWS reports
    behind a deleted/rejected peering. References to other accounts' groups are trusted (they
    cannot be read from here).

    Why is this bad?
    The rule looks like it lets the other tier in, but matches nothing: connections between the
    tiers time out with no error anywhere.

    Example
    sg-app allows tcp 5432 from sg-0dead (deleted last month).

    Fix: revoke the stale rule and reference a live group in the same (or a peered) VPC.

    Fix safety
    No automatic fix: which live group was meant is a human decision.
    """
    groups = {g.id: g for g in ctx.inventory.security_groups}
    peered: set[frozenset[str]] = {frozenset((p.requester_vpc_id, p.accepter_vpc_id))
                                   for p in ctx.inventory.vpc_peering_connections if p.status == "active"}
    account = ctx.inventory.account
    for group in ctx.inventory.security_groups:
        stale: list[tuple[str, str]] = []
        for r in group.rules:
            ref = r.referenced_group
            if ref is None or not ref.group_id:
                continue
            if ref.peering_status and ref.peering_status.lower() in _GONE_PEERING:
                stale.append((r.id, f"references {ref.group_id} through a {ref.peering_status} peering"))
                continue
            own = not ref.user_id or ref.user_id in (account, group.owner_id)
            target = groups.get(ref.group_id)
            if target is None:
                if own:
                    stale.append((r.id, f"references {ref.group_id}, which does not exist"))
                continue
            if target.vpc_id and group.vpc_id and target.vpc_id != group.vpc_id \
                    and frozenset((target.vpc_id, group.vpc_id)) not in peered:
                stale.append((r.id, f"references {ref.group_id} in {target.vpc_id}, not peered with {group.vpc_id}"))
        if not stale:
            continue
        ingress = [rid for rid, _ in stale if not next(r for r in group.rules if r.id == rid).egress]
        egress = [rid for rid, _ in stale if rid not in ingress]
        commands = [aws_cli("ec2", op, {"GroupId": group.id, "SecurityGroupRuleIds": ids}, ctx.region)
                    for op, ids in (("revoke_security_group_ingress", ingress),
                                    ("revoke_security_group_egress", egress)) if ids]
        yield ctx.fail(
            group.id,
            f"security group {label(group)} has stale group reference(s): "
            + "; ".join(f"{rid} {why}" for rid, why in stale)
            + ". Such a rule matches nothing, so the traffic it was meant to allow is silently dropped; "
              "revoke it and reference a live group in the same or a peered VPC.",
            path=[group.id, *[rid for rid, _ in stale]],
            fix=ctx.fix(*commands, description="revoke the stale rules", fixer=None),
            details={"stale": [{"rule": rid, "reason": why} for rid, why in stale]},
        )
