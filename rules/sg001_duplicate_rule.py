"""SG001 duplicate-rule."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import aws_cli
from preflight.semantics.secgroups import analyses, label


@rule(
    id="SG001",
    name="duplicate-rule",
    severity="medium",
    category="hygiene",
    scope="group",
    summary="Two security-group rules are identical once canonicalised",
    needs={"security_groups"},
    fixer="sg-remove-duplicate-rules",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    Finds rules of one security group and direction that allow exactly the same thing after
    canonicalisation: same protocol, same ports, same peer, where `10.0.5.9/16` and `10.0.0.0/16`
    are the same peer and the two rules may come from different permission entries.

    Why is this bad?
    A reader (human or launcher) that scans the group sees two rules where one matters; tools that
    add "the missing rule" after a partial scan hit `InvalidPermission.Duplicate`. Each copy also
    counts against the per-group rule quota.

    Example
    tcp 8000 from 10.0.0.0/16 (sgr-a) and tcp 8000 from 10.0.5.9/16 (sgr-b) in sg-0abc: one of them
    is redundant.

    Fix: revoke the extra copy by its security-group rule id (never the whole permission entry).

    Fix safety
    Unsafe (applied only with `--unsafe-fixes`): the access stays the same, but the revoked rule's id
    and description are gone, which whatever manages the group sees as drift.
    `sg-remove-duplicate-rules` revokes only the extra copy by its SecurityGroupRuleId, so a
    permission entry that also carries other CIDRs keeps them. The copy kept is the one written in
    canonical form (then one with a description).
    """
    for group in ctx.inventory.security_groups:
        found = analyses(ctx)[group.id].duplicates
        if not found:
            continue
        parts = []
        drop: list[str] = []
        for dup in found:
            ids = ", ".join(d.rule_id for d in dup.duplicates)
            parts.append(f"{dup.keep.describe()} is allowed by {dup.keep.rule_id} and again by {ids}")
            drop.extend(d.rule_id for d in dup.duplicates)
        by_dir: dict[bool, list[str]] = {}
        for dup in found:
            by_dir.setdefault(dup.keep.egress, []).extend(d.rule_id for d in dup.duplicates)
        commands = [aws_cli("ec2", "revoke_security_group_egress" if egress else "revoke_security_group_ingress",
                            {"GroupId": group.id, "SecurityGroupRuleIds": ids}, ctx.region)
                    for egress, ids in sorted(by_dir.items())]
        yield ctx.fail(
            group.id,
            f"security group {label(group)} has {len(drop)} duplicate rule(s): " + "; ".join(parts)
            + ". Duplicates make rule-adding launchers fail with InvalidPermission.Duplicate and use up the "
              "rule quota; revoke the extra copies.",
            path=[group.id, *[d.keep.rule_id for d in found], *drop],
            fix=ctx.fix(*commands, description=f"revoke {', '.join(drop)} (the copies; the original stays)"),
            details={"duplicates": [{"keep": d.keep.rule_id, "remove": [x.rule_id for x in d.duplicates],
                                     "rule": d.keep.describe()} for d in found]},
        )
