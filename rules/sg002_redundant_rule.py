"""SG002 redundant-rule."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import aws_cli
from preflight.semantics.secgroups import analyses, label


@rule(
    id="SG002",
    name="redundant-rule",
    severity="low",
    category="hygiene",
    scope="group",
    summary="A security-group rule is fully covered by other rules for the same peer",
    needs={"security_groups"},
    fixer="sg-remove-duplicate-rules",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    Finds rules that allow nothing beyond what other rules of the same group, direction and peer
    already allow: a port range inside a wider range (8000-8010 under 8000-9000), a range covered by
    the union of several others, anything under an all-traffic (`-1`) rule for the same peer.
    Rules under a broader peer (an office /24 next to 0.0.0.0/0) are not reported on purpose.

    Why is this bad?
    The group looks as if it opened something specific while a broader rule decides. Scripts that
    scan rules and stop at the first match (the incident: a scan stopped at the `-1` rule) see a
    different group than AWS evaluates. The covered rule also uses quota.

    Example
    `-1` from 10.0.0.0/16 (sgr-all) and tcp 8000 from 10.0.0.0/16 (sgr-8000): sgr-8000 is covered.

    Fix: revoke the covered rule by its security-group rule id; the covering rules stay.

    Fix safety
    Unsafe (applied only with `--unsafe-fixes`): the revoked rules' ids and descriptions are gone,
    which whatever manages the group sees as drift. The access stays the same: covered rules are
    chosen one at a time against the rules that stay, so revoking all of them leaves exactly the
    same access. Revoked by SecurityGroupRuleId, never by permission entry.
    """
    for group in ctx.inventory.security_groups:
        found = analyses(ctx)[group.id].redundant
        if not found:
            continue
        parts = [f"{r.atom.rule_id} ({r.atom.describe()}) is covered by "
                 + " + ".join(f"{c.rule_id} ({c.describe()})" for c in r.covered_by) for r in found]
        by_dir: dict[bool, list[str]] = {}
        for r in found:
            by_dir.setdefault(r.atom.egress, []).append(r.atom.rule_id)
        commands = [aws_cli("ec2", "revoke_security_group_egress" if egress else "revoke_security_group_ingress",
                            {"GroupId": group.id, "SecurityGroupRuleIds": ids}, ctx.region)
                    for egress, ids in sorted(by_dir.items())]
        covering = sorted({c.rule_id for r in found for c in r.covered_by})
        yield ctx.fail(
            group.id,
            f"security group {label(group)} has {len(found)} redundant rule(s): " + "; ".join(parts)
            + ". They allow nothing more and mislead anyone reading the rules one by one; revoke them.",
            path=[group.id, *[r.atom.rule_id for r in found], *covering],
            fix=ctx.fix(*commands, description="revoke the covered rules; the covering rules stay"),
            details={"redundant": [{"rule": r.atom.rule_id, "covered_by": [c.rule_id for c in r.covered_by]}
                                   for r in found]},
        )
