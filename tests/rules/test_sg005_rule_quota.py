"""SG005 rule-quota: positive and near-miss."""

from __future__ import annotations

from tests.rules.sg_support import grp, many, sg_findings


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
