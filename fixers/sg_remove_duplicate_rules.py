"""sg-remove-duplicate-rules: revoke duplicate (SG001) and redundant (SG002) rules by rule id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from preflight.engine import Finding
from preflight.fix import ALREADY, ApplyContext, Call, Change, FixContext, Refusal, error_code, fixer
from preflight.fixers._sgread import read_group
from preflight.inventory.model import SecurityGroup
from preflight.semantics.secgroups import analyse_group, label, rule_permission

ID = "sg-remove-duplicate-rules"
PERMISSIONS = ("ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules",
               "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress")
_GONE = {"InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound"}


def _removable(group: SecurityGroup, egress: bool, rules: tuple[str, ...]) -> list[str]:
    """Rule ids to revoke for the findings' rules only: SG001 duplicates, SG002 covered rules."""
    analysis = analyse_group(group)
    atoms = [d for dup in analysis.duplicates for d in dup.duplicates] if "SG001" in rules else []
    atoms += [r.atom for r in analysis.redundant] if "SG002" in rules else []
    return list(dict.fromkeys(a.rule_id for a in atoms if a.egress == egress))


def _change(region: str, group: SecurityGroup, egress: bool, rule_ids: list[str], rules: tuple[str, ...]) -> Change:
    by_id = {r.id: r for r in group.rules}
    direction = "egress" if egress else "ingress"
    removed = [by_id[i] for i in rule_ids]
    return Change(
        fixer=ID,
        resource=group.id,
        description=f"revoke {direction} rule(s) {', '.join(rule_ids)} on {label(group)} "
                    "(duplicates/covered; the rules that cover them stay)",
        call=Call("ec2", f"revoke_security_group_{direction}",
                  {"GroupId": group.id, "SecurityGroupRuleIds": rule_ids}, region),
        undo=Call("ec2", f"authorize_security_group_{direction}",
                  {"GroupId": group.id, "IpPermissions": [rule_permission(r) for r in removed]}, region),
        permissions=(f"ec2:RevokeSecurityGroup{direction.title()}", "ec2:DescribeSecurityGroupRules"),
        rules=rules,
        before={"rules": [rule_permission(r) | {"SecurityGroupRuleId": r.id} for r in removed]},
        data={"group": group, "egress": egress, "rule_ids": rule_ids},
        guard=_guard,
        recover=_recover,
    )


def _recheck(actx: ApplyContext, change: Change) -> list[str]:
    """Of the planned ids, those that still exist and are still redundant on a fresh read."""
    fresh = read_group(actx.client("ec2", change.call.region), change.data["group"])
    still = set(_removable(fresh, change.data["egress"], change.rules))
    return [i for i in change.data["rule_ids"] if i in still]


def _guard(actx: ApplyContext, change: Change) -> Change | None:
    """Revoke only what is still redundant now: a covering rule removed meanwhile keeps its twins."""
    ids = _recheck(actx, change)
    if not ids:
        return None
    if ids == change.data["rule_ids"]:
        return change
    return _change(change.call.region, change.data["group"], change.data["egress"], ids, change.rules)


def _recover(actx: ApplyContext, change: Change, exc: Exception) -> Any:
    if error_code(exc) not in _GONE:
        return None
    ids = _recheck(actx, change)
    return ALREADY if not ids else _guard(actx, change)


@fixer(id=ID, fixes=("SG001", "SG002"), permissions=PERMISSIONS, safety="unsafe",
       summary="Revoke duplicate and covered security-group rules by SecurityGroupRuleId, keeping the access identical")
def plan(ctx: FixContext, findings: list[Finding]) -> Iterator[Change | Refusal]:
    """Revokes exactly the rules SG001/SG002 report, by SecurityGroupRuleId, one call per group and
    direction. Never revokes by IpPermissions, which would remove every CIDR of a permission entry.
    Right before the call it re-reads the group and revokes only rules that are still duplicate or
    covered, so a covering rule deleted meanwhile never leaves its twin's access cut.

    Fix safety:
    Unsafe. The access stays the same, but rules are removed: their ids, descriptions and tags are
    gone, and whatever manages the group (Terraform, CloudFormation, another team's script) sees
    drift and may put them back or fail. Undo re-authorizes them with new ids. Applied only with
    --unsafe-fixes.
    """
    groups = {g.id: g for g in ctx.inventory.security_groups}
    by_group: dict[str, set[str]] = {}
    for f in findings:
        by_group.setdefault(f.resource, set()).add(f.rule)
    for gid, rules in sorted(by_group.items()):
        group = groups.get(gid)
        if group is None:
            yield Refusal(ID, gid, f"security group {gid} is not in the inventory any more", tuple(sorted(rules)))
            continue
        for egress in (False, True):
            ids = _removable(group, egress, tuple(sorted(rules)))
            if ids:
                yield _change(ctx.region, group, egress, ids, tuple(sorted(rules)))
