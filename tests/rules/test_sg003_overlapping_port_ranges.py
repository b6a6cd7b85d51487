"""SG003 overlapping-port-ranges: positive and near-miss."""

from __future__ import annotations

from tests.rules.sg_support import grp, r, sg_findings


def test_sg003_overlap_and_near_miss():
    f = sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8005, 8020))),
                    select=["SG003"]).one("SG003")
    assert f.resource == "sg-1" and f.severity == "info" and f.path == ("sg-1", "a", "b")
    assert "a (tcp 8000-8010 from 0.0.0.0/0) and b (tcp 8005-8020 from 0.0.0.0/0)" in f.message
    assert sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8011, 8020))), select=["SG003"]) == []
    assert sg_findings(grp("sg-1", r("a", "tcp", (8000, 8010)), r("b", "tcp", (8005, 8020), "10.0.0.0/8")),
                       select=["SG003"]) == []
