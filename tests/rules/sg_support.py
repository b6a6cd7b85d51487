"""Helpers shared by the SG rule tests (tests/rules/test_sg0*.py)."""

from __future__ import annotations

from msgspec.structs import replace

from preflight.inventory.model import SecurityGroup, SecurityGroupRule, UserIdGroupPair
from tests.rules.conftest import inventory, run_rules, vpc

PLAN = {"ports": [8000, 8002, 8004], "security_group": "sg-inc"}


def r(rid: str, proto: str = "tcp", ports: tuple[int, int] | int | None = None, cidr: str = "0.0.0.0/0",
      egress: bool = False, group: str = "", owner: str = "", peering: str = "") -> SecurityGroupRule:
    lo, hi = (ports, ports) if isinstance(ports, int) else (ports or (None, None))
    kw: dict = {}
    if group:
        kw["referenced_group"] = UserIdGroupPair(group_id=group, user_id=owner, peering_status=peering)
    elif ":" in cidr:
        kw["cidr_ipv6"] = cidr
    else:
        kw["cidr_ipv4"] = cidr
    return SecurityGroupRule(id=rid, egress=egress, ip_protocol=proto, from_port=lo, to_port=hi, **kw)


def grp(gid: str, *rules: SecurityGroupRule, name: str = "", vpc_id: str = "vpc-1") -> SecurityGroup:
    return SecurityGroup(id=gid, group_name=name or gid, vpc_id=vpc_id, owner_id="123456789012",
                         rules=tuple(replace(x, group_id=gid) for x in rules))


def sg_findings(*groups: SecurityGroup, plan=None, config=None, select=("SG",), **inv):
    return run_rules(inventory(vpc(), *groups, **inv), plan=plan, select=select, config=config)




INCIDENT_RULES = [r("sgr-all", "-1", cidr="10.0.0.0/16"), r("sgr-8000", "tcp", 8000),
                  r("sgr-8000-vpc", "tcp", 8000, "10.0.0.0/16")]


def many(n: int, cidr: str = "198.51.100.0/24", egress: bool = False) -> list[SecurityGroupRule]:
    return [r(f"sgr-{egress}-{i}", "tcp", 10000 + 2 * i, cidr, egress) for i in range(n)]
