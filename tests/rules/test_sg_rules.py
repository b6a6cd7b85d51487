"""SG001-SG006 and SG010: each with the fault (exact resource, path, message) and its near-miss twin."""

from __future__ import annotations

import itertools

import pytest

from preflight.collect.sandbox import get_scenario
from preflight.inventory.model import SecurityGroup, SecurityGroupRule, UserIdGroupPair, VpcPeeringConnection
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
                         rules=tuple(SecurityGroupRule(**{**x.__dict__, "group_id": gid}) for x in rules))


def sg_findings(*groups: SecurityGroup, plan=None, config=None, select=("SG",), **inv):
    return run_rules(inventory(vpc(), *groups, **inv), plan=plan, select=select, config=config)


# --- the incident -------------------------------------------------------------------------------

INCIDENT_RULES = [r("sgr-all", "-1", cidr="10.0.0.0/16"), r("sgr-8000", "tcp", 8000),
                  r("sgr-8000-vpc", "tcp", 8000, "10.0.0.0/16")]


@pytest.mark.parametrize("order", list(itertools.permutations(INCIDENT_RULES)))
def test_sg010_incident_lists_exactly_the_missing_ports_in_every_rule_order(order):
    f = sg_findings(grp("sg-inc", *order, name="ml-serving"), plan=PLAN, select=["SG010"]).one("SG010")
    assert f.resource == "sg-inc" and f.status == "FAIL" and f.severity == "high"
    assert f.details["missing"] == [8002, 8004] and f.details["open"] == {"sgr-8000": [8000]}
    assert "port(s) 8002, 8004 (tcp)" in f.message and "already open: 8000 by sgr-8000" in f.message
    assert "sg-inc (ml-serving)" in f.message and f.path == ("sg-inc", "sgr-8000")
    cmd = f.fix.commands[0]
    assert cmd.startswith("aws ec2 authorize-security-group-ingress --group-id sg-inc --ip-permissions")
    assert '"FromPort":8002' in cmd and '"FromPort":8004' in cmd and '"FromPort":8000' not in cmd
    assert f.fix.fixer == "sg-open-missing-ports"


@pytest.mark.parametrize("order", list(itertools.permutations([r("sgr-all", "-1"), r("sgr-8000", "tcp", 8000)])))
def test_sg010_all_traffic_from_the_world_opens_every_plan_port(order):
    assert sg_findings(grp("sg-inc", *order), plan=PLAN, select=["SG010"]).only("SG010") == []


def test_sg010_all_traffic_from_a_narrower_source_does_not_open_to_the_world():
    f = sg_findings(grp("sg-inc", r("sgr-all", "-1", cidr="10.0.0.0/8")), plan=PLAN, select=["SG010"]).one("SG010")
    assert f.details["missing"] == [8000, 8002, 8004] and "none of the plan's ports is open" in f.message
    # ...but it does for a source inside it
    plan = {**PLAN, "source_cidr": "10.1.0.0/16"}
    assert sg_findings(grp("sg-inc", r("sgr-all", "-1", cidr="10.0.0.0/8")), plan=plan,
                       select=["SG010"]).only("SG010") == []


def test_sg010_resolves_a_name_within_the_plan_vpc():
    a = grp("sg-a", r("x", "tcp", 8000), name="web", vpc_id="vpc-1")
    b = grp("sg-b", r("y", "tcp", (8000, 8004)), name="web", vpc_id="vpc-2")
    plan = {"ports": [8000, 8002], "security_group": "web", "vpc": "vpc-1"}
    f = sg_findings(a, b, plan=plan, select=["SG010"]).one("SG010")
    assert f.resource == "sg-a" and f.details["missing"] == [8002]
    assert sg_findings(a, b, plan={**plan, "vpc": "vpc-2"}, select=["SG010"]).only("SG010") == []
    ambiguous = sg_findings(a, b, plan={"ports": [8000], "security_group": "web"}, select=["SG010"]).one("SG010")
    assert ambiguous.status == "UNKNOWN" and "matches 2 groups" in ambiguous.message


def test_sg010_group_that_does_not_exist_is_a_finding_on_check():
    f = sg_findings(grp("sg-a"), plan={"ports": [8000], "security_group": "sg-0nope"}, select=["SG010"]).one("SG010")
    assert f.resource == "sg-0nope" and f.details["group_missing"] is True
    assert "does not exist" in f.message
    named = sg_findings(grp("sg-a"), plan={"ports": [8000], "security_group": "newgroup"},
                        select=["SG010"]).one("SG010")
    assert "aws ec2 create-security-group --group-name newgroup" in named.fix.commands[0]


def test_sg010_needs_a_group_and_ports_and_the_plan_region():
    g = grp("sg-inc", r("x", "tcp", 22))
    assert sg_findings(g, plan={"ports": [8000]}, select=["SG010"]) == []
    assert sg_findings(g, plan={"security_group": "sg-inc"}, select=["SG010"]) == []
    assert sg_findings(g, plan={**PLAN, "region": "us-east-1"}, select=["SG010"]) == []


# --- SG001 / SG002 / SG003 ------------------------------------------------------------------------

def test_sg001_duplicate_across_permission_entries():
    f = sg_findings(grp("sg-1", r("sgr-a", "tcp", 8000, "10.0.0.0/16"), r("sgr-b", "tcp", 8000, "10.0.5.9/16"),
                        r("sgr-c", "tcp", 8001, "10.0.0.0/16")), select=["SG001"]).one("SG001")
    assert f.resource == "sg-1" and f.severity == "medium" and f.path == ("sg-1", "sgr-a", "sgr-b")
    assert "tcp 8000 from 10.0.0.0/16 is allowed by sgr-a and again by sgr-b" in f.message
    assert f.fix.commands == ("aws ec2 revoke-security-group-ingress --group-id sg-1 --security-group-rule-ids "
                              "sgr-b --region eu-south-1",)
    assert f.details["duplicates"] == [{"keep": "sgr-a", "remove": ["sgr-b"], "rule": "tcp 8000 from 10.0.0.0/16"}]


def test_sg001_near_miss_same_rule_other_direction_or_port():
    assert sg_findings(grp("sg-1", r("a", "tcp", 8000, "10.0.0.0/16"), r("b", "tcp", 8000, "10.0.0.0/16", egress=True),
                           r("c", "udp", 8000, "10.0.0.0/16"), r("d", "tcp", 8000, "10.0.0.0/17")),
                       select=["SG001"]) == []


def test_sg002_redundant_names_the_covering_rule():
    f = sg_findings(grp("sg-1", *INCIDENT_RULES), select=["SG002"]).one("SG002")
    assert f.resource == "sg-1" and f.severity == "low" and f.path == ("sg-1", "sgr-8000-vpc", "sgr-all")
    assert "sgr-8000-vpc (tcp 8000 from 10.0.0.0/16) is covered by sgr-all (all traffic from 10.0.0.0/16)" in f.message
    assert "--security-group-rule-ids sgr-8000-vpc" in f.fix.commands[0]


def test_sg002_near_miss_wider_peer_or_partial_cover():
    assert sg_findings(grp("sg-1", r("all", "-1", cidr="10.0.0.0/16"), r("w", "tcp", 8000)),
                       select=["SG002"]) == []
    assert sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8005, 8020))), select=["SG002"]) == []


def test_sg003_overlap_and_near_miss():
    f = sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8005, 8020))),
                    select=["SG003"]).one("SG003")
    assert f.resource == "sg-1" and f.severity == "info" and f.path == ("sg-1", "a", "b")
    assert "a (tcp 8000-8010 from 0.0.0.0/0) and b (tcp 8005-8020 from 0.0.0.0/0)" in f.message
    assert sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8011, 8020))), select=["SG003"]) == []
    assert sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8005, 8020), "10.0.0.0/8")),
                       select=["SG003"]) == []


# --- SG004 ----------------------------------------------------------------------------------------

def test_sg004_admin_ports_open_to_the_world():
    f = sg_findings(grp("sg-1", r("ssh", "tcp", 22), r("pg6", "tcp", 5432, "::/0"), r("web", "tcp", 443)),
                    select=["SG004"]).one("SG004")
    assert f.resource == "sg-1" and f.severity == "high" and f.path == ("sg-1", "ssh", "pg6")
    assert "22 (SSH) by ssh; 5432 (PostgreSQL) by pg6" in f.message
    assert "--security-group-rule-ids ssh pg6" in f.fix.commands[0]


def test_sg004_near_miss_narrow_source_and_config_override():
    assert sg_findings(grp("sg-1", r("ssh", "tcp", 22, "203.0.113.7/32"), r("web", "tcp", 443)),
                       select=["SG004"]) == []
    f = sg_findings(grp("sg-1", r("web", "tcp", 443), r("ssh", "tcp", 22)), select=["SG004"],
                    config={"admin_ports": [443]}).one("SG004")
    assert f.details["ports"] == [443] and f.path == ("sg-1", "web")


# --- SG005 ----------------------------------------------------------------------------------------

def many(n: int, cidr: str = "198.51.100.0/24", egress: bool = False) -> list[SecurityGroupRule]:
    return [r(f"sgr-{egress}-{i}", "tcp", 10000 + 2 * i, cidr, egress) for i in range(n)]


def test_sg005_over_the_quota_and_pushed_over_by_the_plan():
    f = sg_findings(grp("sg-1", *many(61)), select=["SG005"]).one("SG005")
    assert f.resource == "sg-1" and "61 inbound ipv4 rules, over the quota of 60" in f.message
    plan = {"ports": [9001, 9003], "security_group": "sg-2", "source_cidr": "198.51.100.0/24"}
    pushed = sg_findings(grp("sg-2", *many(59)), plan=plan, select=["SG005"]).one("SG005")
    assert "59 inbound ipv4 rules and the plan adds 2, over the quota of 60" in pushed.message
    assert pushed.details["planned"] == 2


def test_sg005_near_miss_at_quota_other_version_and_raised_quota():
    assert sg_findings(grp("sg-1", *many(60), *many(60, "::/0")), select=["SG005"]) == []
    plan = {"ports": [9001], "security_group": "sg-2", "source_cidr": "198.51.100.0/24"}
    assert sg_findings(grp("sg-2", *many(59)), plan=plan, select=["SG005"]) == []  # 59 + 1 = 60
    assert sg_findings(grp("sg-1", *many(61)), select=["SG005"], config={"sg_rule_quota": 100}) == []
    assert sg_findings(grp("sg-1", *many(61)), select=["SG005"],
                       config={"sg_rule_quota": {"inbound": 61, "outbound": 5}}) == []


# --- SG006 ----------------------------------------------------------------------------------------

def test_sg006_deleted_group_and_unpeered_vpc():
    app = grp("sg-app", r("sgr-gone", "tcp", 5432, group="sg-0dead"), r("sgr-far", "tcp", 22, group="sg-ops"))
    ops = grp("sg-ops", vpc_id="vpc-2")
    f = sg_findings(app, ops, select=["SG006"]).one("SG006")
    assert f.resource == "sg-app" and f.path == ("sg-app", "sgr-gone", "sgr-far")
    assert "sgr-gone references sg-0dead, which does not exist" in f.message
    assert "sgr-far references sg-ops in vpc-2, not peered with vpc-1" in f.message


def test_sg006_near_miss_peered_same_vpc_and_other_account():
    app = grp("sg-app", r("a", "tcp", 22, group="sg-ops"), r("b", "tcp", 22, group="sg-app"),
              r("c", "tcp", 22, group="sg-theirs", owner="999999999999"))
    ops = grp("sg-ops", vpc_id="vpc-2")
    peering = VpcPeeringConnection(id="pcx-1", requester_vpc_id="vpc-1", accepter_vpc_id="vpc-2", status="active")
    assert sg_findings(app, ops, vpc_peering_connections=[peering], select=["SG006"]) == []
    dead = grp("sg-app", r("d", "tcp", 22, group="sg-theirs", owner="999999999999", peering="deleted"))
    assert "through a deleted peering" in sg_findings(dead, select=["SG006"]).one("SG006").message


# --- scenarios (real boto3 calls into moto, read back by the collector) ------------------------------

@pytest.mark.parametrize("name", ["duplicate-port-rule", "admin-port-open", "overlapping-ports", "sg-rule-quota",
                                  "stale-group-reference"])
def test_sg_scenarios_trigger_what_they_declare(name):
    sc = get_scenario(name)
    found = run_rules(name, plan=sc.plan or None, select=["SG"])
    assert sc.expect <= found.rules(), (name, [(f.rule, f.message) for f in found])
    assert {f.rule for f in found} <= sc.expect, [(f.rule, f.message) for f in found]


def test_duplicate_port_rule_scenario_is_the_incident():
    sc = get_scenario("duplicate-port-rule")
    found = run_rules("duplicate-port-rule", plan=sc.plan, select=["SG"])
    gid = found.ids["ml-serving"]
    assert {f.resource for f in found} == {gid}
    assert found.one("SG010").details["missing"] == [8002, 8004]
    assert len(found.one("SG001").details["duplicates"]) == 1
    # with --ports and nothing else the world still sees 8000 through the tcp rule, not through -1
    assert "already open: 8000 by sgr-" in found.one("SG010").message
