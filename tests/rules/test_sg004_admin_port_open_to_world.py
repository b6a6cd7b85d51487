"""SG004 admin-port-open-to-world: positive and near-miss."""

from __future__ import annotations

from tests.rules.sg_support import grp, r, sg_findings


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
