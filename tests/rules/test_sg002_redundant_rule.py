"""SG002 redundant-rule: positive and near-miss."""

from __future__ import annotations

from tests.rules.sg_support import INCIDENT_RULES, grp, r, sg_findings


def test_sg002_redundant_names_the_covering_rule():
    f = sg_findings(grp("sg-1", *INCIDENT_RULES), select=["SG002"]).one("SG002")
    assert f.resource == "sg-1" and f.severity == "low" and f.path == ("sg-1", "sgr-8000-vpc", "sgr-all")
    assert "sgr-8000-vpc (tcp 8000 from 10.0.0.0/16) is covered by sgr-all (all traffic from 10.0.0.0/16)" in f.message
    assert "--security-group-rule-ids sgr-8000-vpc" in f.fix.commands[0]


def test_sg002_near_miss_wider_peer_or_partial_cover():
    assert sg_findings(grp("sg-1", r("all", "-1", cidr="10.0.0.0/16"), r("w", "tcp", 8000)),
                       select=["SG002"]) == []
    assert sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8005, 8020))), select=["SG002"]) == []
