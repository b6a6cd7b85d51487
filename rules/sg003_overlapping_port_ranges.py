"""SG003 overlapping-port-ranges."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.secgroups import analyses, label


@rule(
    id="SG003",
    name="overlapping-port-ranges",
    severity="info",
    category="hygiene",
    scope="group",
    summary="Two rules for the same peer and protocol partly overlap",
    needs={"security_groups"},
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    Finds pairs of tcp/udp rules in one group, direction and peer whose port ranges intersect
    without one containing the other (8000-8010 and 8005-8020). Full covers are SG002.

    Why is this bad?
    Nothing is broken, but the group is harder to read and to change safely: narrowing one rule
    does not close the ports the other still opens. Partial overlaps are usually edits that
    drifted; one merged range says the intent.

    Example
    tcp 8000-8010 from 203.0.113.0/24 (sgr-a) and tcp 8005-8020 from 203.0.113.0/24 (sgr-b).

    Fix: replace the two rules with one rule covering their union.

    Fix safety
    No automatic fix: merging means revoking and adding rules, which a human should decide.
    """
    for group in ctx.inventory.security_groups:
        found = analyses(ctx)[group.id].overlaps
        if not found:
            continue
        parts = [f"{o.a.rule_id} ({o.a.describe()}) and {o.b.rule_id} ({o.b.describe()})" for o in found]
        ids = list(dict.fromkeys(x for o in found for x in (o.a.rule_id, o.b.rule_id)))
        yield ctx.fail(
            group.id,
            f"security group {label(group)} has partly overlapping port ranges: " + "; ".join(parts)
            + ". Merge each pair into one rule so that narrowing one does not leave ports open by the other.",
            path=[group.id, *ids],
            fix=ctx.fix(description="replace each pair with one rule covering their union", fixer=None),
            details={"overlaps": [[o.a.rule_id, o.b.rule_id] for o in found]},
        )
