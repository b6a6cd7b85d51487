"""Fresh reads of one security group for SG fixer guards and recovery (not a fixer module)."""

from __future__ import annotations

from typing import Any

from preflight.inventory.model import SecurityGroup, SecurityGroupRule


def read_group(client: Any, group: SecurityGroup) -> SecurityGroup:
    """The group's current rules: one paginated DescribeSecurityGroupRules filtered by group id."""
    from preflight.collect.aws import parse_sg_rule  # here: the collector imports boto3, and loading the fixer
    # registry (e.g. to word a fix hint) must not

    rules: list[SecurityGroupRule] = []
    for page in client.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": [group.id]}]):
        rules.extend(parse_sg_rule(r) for r in page.get("SecurityGroupRules") or [])
    return SecurityGroup(id=group.id, group_name=group.group_name, vpc_id=group.vpc_id, owner_id=group.owner_id,
                         description=group.description, rules=tuple(rules), tags=group.tags)
