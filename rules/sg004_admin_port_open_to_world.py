"""SG004 admin-port-open-to-world."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import aws_cli
from preflight.semantics.secgroups import admin_ports_open_to_world, label, plan_admin_ports


@rule(
    id="SG004",
    name="admin-port-open-to-world",
    severity="high",
    category="posture",
    scope="group",
    summary="An administration or database port is open to 0.0.0.0/0 or ::/0",
    references=("https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html",),
    needs={"security_groups"},
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does
    Reports every security group in which an administration or database port (22, 3389, 3306,
    5432, 6379, 27017... overridable with the `admin_ports` config key) is reachable over tcp from
    0.0.0.0/0 or ::/0, through a port rule, a range or an all-traffic (`-1`) rule.

    Why is this bad?
    Internet-wide scanners find these ports within minutes; a weak password, an unpatched daemon or
    a database without auth is then one step away.

    Example
    tcp 22 from 0.0.0.0/0, or `-1` (all traffic) from ::/0.

    Fix: narrow the rule to your own address (YOUR_IP/32) or reach the port through a bastion or SSM.

    Fix safety
    No automatic fix: revoking a rule can cut off the only way in. The suggested commands revoke the
    offending rules by id; add a narrower rule first.
    """
    admin = plan_admin_ports(ctx.option("admin_ports"))
    for group in ctx.inventory.security_groups:
        found = admin_ports_open_to_world(group, admin)
        if not found:
            continue
        rule_ids = list(dict.fromkeys(r.id for rules in found.values() for r in rules))
        parts = [f"{port} ({admin.get(port, 'admin')}) by {', '.join(dict.fromkeys(r.id for r in rules))}"
                 for port, rules in found.items()]
        yield ctx.fail(
            group.id,
            f"security group {label(group)} opens admin port(s) to the whole internet: " + "; ".join(parts)
            + ". Scanners find these within minutes; allow only your own address (YOUR_IP/32) or use a bastion/SSM.",
            path=[group.id, *rule_ids],
            fix=ctx.fix(aws_cli("ec2", "revoke_security_group_ingress",
                                {"GroupId": group.id, "SecurityGroupRuleIds": rule_ids}, ctx.region),
                        description="revoke the world-open rules after adding a narrower one", fixer=None),
            details={"ports": sorted(found), "rules": rule_ids},
        )
