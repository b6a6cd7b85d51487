"""sg-open-missing-ports: authorize exactly the plan's missing ports (SG010), idempotently.

AWS and moto 5.2 agree on what matters here (checked, and covered by tests/unit/test_fix_sg.py and
tests/e2e/test_fix_race.py): an exact duplicate (same protocol, ports and CIDR text; descriptions and
`6`/`tcp` do not matter) is rejected with InvalidPermission.Duplicate and the whole call fails, even
when only one of its permissions is a duplicate; a range overlapping an existing rule is NOT a
duplicate. moto differs in two ways we work around: it accepts `10.0.5.9/16` beside `10.0.0.0/16`
(which is how the sandbox builds SG001 duplicates), and its AuthorizeSecurityGroupIngress answer
lists fewer SecurityGroupRules than it created when several permissions are sent, so the undo by
rule id is used only when the ids returned match what was sent (else the exact-permission revoke).
Its DescribeSecurityGroupRules ignores a `security-group-rule-id` filter; we filter by `group-id`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from preflight.engine import Finding
from preflight.fix import ALREADY, ApplyContext, Call, Change, FixContext, Refusal, error_code, fixer
from preflight.fixers._sgread import read_group
from preflight.semantics.remedies import PLAN_PORT_DESCRIPTION, authorize_ports
from preflight.semantics.secgroups import (
    format_ranges,
    is_world,
    label,
    missing_ports,
    plan_admin_ports,
    ranges,
)

ID = "sg-open-missing-ports"
PERMISSIONS = ("ec2:AuthorizeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules",
               "ec2:RevokeSecurityGroupIngress")
DESCRIPTION = PLAN_PORT_DESCRIPTION


def _change(ctx_region: str, group: Any, ports: list[int], source: str, before: list[int]) -> Change:
    spans = ranges(ports)
    step = authorize_ports(ctx_region, group.id, ports, source)
    return Change(
        fixer=ID,
        resource=group.id,
        description=f"authorize tcp {format_ranges(spans)} from {source} on {label(group)}",
        call=step.call,
        undo=step.undo,
        permissions=step.permissions,
        rules=("SG010",),
        before={"open_plan_ports": before},
        data={"ports": ports, "source": source, "group": group},
        guard=_guard,
        recover=_recover,
        undo_from_response=lambda resp: _undo_by_ids(group.id, ctx_region, len(spans), resp),
    )


def _undo_by_ids(group_id: str, region: str, expected: int, response: dict[str, Any]) -> Call | None:
    ids = [r["SecurityGroupRuleId"] for r in response.get("SecurityGroupRules") or [] if r.get("SecurityGroupRuleId")]
    if len(ids) != expected:  # some endpoints (moto) list fewer rules than they made: keep the exact-permission undo
        return None
    return Call("ec2", "revoke_security_group_ingress", {"GroupId": group_id, "SecurityGroupRuleIds": ids}, region)


def _still_missing(actx: ApplyContext, change: Change) -> list[int]:
    fresh = read_group(actx.client("ec2", change.call.region), change.data["group"])
    return missing_ports([fresh], change.data["ports"], change.data["source"])


def _narrow(change: Change, ports: list[int]) -> Change:
    narrowed = _change(change.call.region, change.data["group"], ports, change.data["source"],
                       change.before.get("open_plan_ports", []) if isinstance(change.before, dict) else [])
    return replace(narrowed, rules=change.rules)


def _guard(actx: ApplyContext, change: Change) -> Change | None:
    """Re-read the group just before the call: add only what is still missing (idempotent re-runs)."""
    missing = _still_missing(actx, change)
    if not missing:
        return None
    return change if missing == change.data["ports"] else _narrow(change, missing)


def _recover(actx: ApplyContext, change: Change, exc: Exception) -> Any:
    """InvalidPermission.Duplicate: someone added a port meanwhile. Succeed only if all are open now."""
    if error_code(exc) != "InvalidPermission.Duplicate":
        return None
    missing = _still_missing(actx, change)
    if not missing:
        return ALREADY
    return _narrow(change, missing)


@fixer(id=ID, fixes=("SG010",), permissions=PERMISSIONS,
       summary="Authorize exactly the plan's missing tcp ports on the plan's security group, in one call")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Adds only the ports that are missing for the plan's source (contiguous ports merged into
    ranges) in one AuthorizeSecurityGroupIngress call. Right before the call it re-reads the group
    and drops ports that became open; if AWS still answers InvalidPermission.Duplicate (another
    launcher won the race) it re-reads again and succeeds only when every port is open. It will
    not open an admin port (22, 3389, databases...) to 0.0.0.0/0 or ::/0 without --allow-world.

    Fix safety:
    Safe. It adds only the ports the plan asks for, from the plan's source, to the plan's own group;
    admin ports to the world need --allow-world; `preflight undo` revokes exactly what it added.
    """
    groups = {g.id: g for g in ctx.inventory.security_groups}
    admin = plan_admin_ports(ctx.option("admin_ports"))
    allow_world = bool(ctx.option("allow_world", False))
    plan_ports = tuple(getattr(ctx.plan, "ports", ()) or ())
    for f in findings:
        group = groups.get(f.resource)
        if group is None:
            yield Refusal(ID, f.resource, f"security group {f.resource} does not exist; nothing to open", ("SG010",))
            continue
        source = f.details.get("source") or "0.0.0.0/0"
        wanted = plan_ports or tuple(f.details.get("missing", ()))
        missing = missing_ports([group], wanted, source)
        if not missing:
            continue
        refused = [p for p in missing if p in admin] if is_world(source) and not allow_world else []
        if refused:
            yield Refusal(
                ID, group.id,
                f"not opening admin port(s) {format_ranges(ranges(refused))} "
                f"({', '.join(admin[p] for p in refused)}) to {source} on {group.id}: pass --allow-world to do it "
                "anyway, or set a narrower source (--source-cidr YOUR_IP/32)", ("SG010",))
        to_add = [p for p in missing if p not in refused]
        if to_add:
            before = [p for p in wanted if p not in missing]
            yield _change(ctx.region, group, to_add, source, before)
