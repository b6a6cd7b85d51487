"""SG001 duplicate-rule: positive and near-miss."""

from __future__ import annotations

from tests.rules.sg_support import grp, r, sg_findings


def test_sg001_duplicate_across_permission_entries():
    f = sg_findings(grp("sg-1", r("sgr-a", "tcp", 8000, "10.0.0.0/16"), r("sgr-b", "tcp", 8000, "10.0.5.9/16"),
                        r("sgr-c", "tcp", 8001, "10.0.0.0/16")), select=["SG001"]).one("SG001")
    assert f.resource == "sg-1" and f.severity == "medium" and f.path == ("sg-1", "sgr-a", "sgr-b")
    assert "tcp 8000 from 10.0.0.0/16 is allowed by sgr-a and again by sgr-b" in f.message
    assert f.fix.commands == ("aws ec2 revoke-security-group-ingress --region eu-south-1 --group-id sg-1 "
                              "--security-group-rule-ids "
                              "sgr-b",)
    assert f.details["duplicates"] == [{"keep": "sgr-a", "remove": ["sgr-b"], "rule": "tcp 8000 from 10.0.0.0/16"}]


def test_sg001_near_miss_same_rule_other_direction_or_port():
    assert sg_findings(grp("sg-1", r("a", "tcp", 8000, "10.0.0.0/16"), r("b", "tcp", 8000, "10.0.0.0/16", egress=True),
                           r("c", "udp", 8000, "10.0.0.0/16"), r("d", "tcp", 8000, "10.0.0.0/17")),
                       select=["SG001"]) == []


def test_sg001_egress_duplicates_get_the_egress_revoke_command():
    f = sg_findings(grp("sg-1", r("sgr-a", "tcp", 443, "10.9.0.0/16", egress=True),
                        r("sgr-b", "tcp", 443, "10.9.0.7/16", egress=True)), select=["SG001"]).one("SG001")
    assert "tcp 443 to 10.9.0.0/16 is allowed by sgr-a and again by sgr-b" in f.message
    assert f.fix.commands == ("aws ec2 revoke-security-group-egress --region eu-south-1 --group-id sg-1 "
                              "--security-group-rule-ids "
                              "sgr-b",)
