"""SG010 plan-port-not-open, including the incident's group in every rule order."""

from __future__ import annotations

import itertools

import pytest

from tests.rules.sg_support import INCIDENT_RULES, PLAN, grp, r, sg_findings


@pytest.mark.parametrize("order", list(itertools.permutations(INCIDENT_RULES)))
def test_sg010_incident_lists_exactly_the_missing_ports_in_every_rule_order(order):
    f = sg_findings(grp("sg-inc", *order, name="ml-serving"), plan=PLAN, select=["SG010"]).one("SG010")
    assert f.resource == "sg-inc" and f.status == "FAIL" and f.severity == "high"
    assert f.details["missing"] == [8002, 8004] and f.details["open"] == {"sgr-8000": [8000]}
    assert "port(s) 8002, 8004 (tcp)" in f.message and "already open: 8000 by sgr-8000" in f.message
    assert "sg-inc (ml-serving)" in f.message and f.path == ("sg-inc", "sgr-8000")
    cmd = f.fix.commands[0]
    assert cmd.startswith("aws ec2 authorize-security-group-ingress --region eu-south-1 --group-id sg-inc "
                          "--ip-permissions")
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
    assert "aws ec2 create-security-group --region eu-south-1 --group-name newgroup" in named.fix.commands[0]


def test_sg010_needs_a_group_and_ports_and_the_plan_region():
    g = grp("sg-inc", r("x", "tcp", 22))
    assert sg_findings(g, plan={"ports": [8000]}, select=["SG010"]) == []
    assert sg_findings(g, plan={"security_group": "sg-inc"}, select=["SG010"]) == []
    assert sg_findings(g, plan={**PLAN, "region": "us-east-1"}, select=["SG010"]) == []
