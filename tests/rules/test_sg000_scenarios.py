"""SG sandbox scenarios: real boto3 calls into moto, read back by the collector."""

from __future__ import annotations

import pytest

from preflight.collect.sandbox import get_scenario
from tests.rules.conftest import run_rules


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
