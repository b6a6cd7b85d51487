"""Every sandbox scenario's `expect` is exactly what the NET rules report on it (NET-prefixed ids only),
so the scenarios stay honest; plus the healthy account with a plan."""

from __future__ import annotations

import pytest

from preflight.collect.sandbox import DEFAULT_SCENARIO, load_scenarios
from tests.rules.conftest import run_rules

SCENARIOS = {name: sc for name, sc in load_scenarios().items() if sc.cloud == "aws"}
NET_SCENARIOS = ("no-default-route", "healthy", "detached-igw", "blackhole-route", "public-route-no-public-ip",
                 "no-default-vpc", "nacl-deny", "main-table-shadowed")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_expect_matches_net_findings(name):
    sc = SCENARIOS[name]
    found = run_rules(name, plan=sc.plan or None, select=["NET"])
    expected = {r for r in sc.expect if r.startswith("NET")}
    assert found.rules() == expected, [(f.rule, f.resource, f.message) for f in found]
    assert all(f.status == "FAIL" for f in found)


def test_net_scenarios_exist_and_the_incident_is_the_default():
    assert DEFAULT_SCENARIO == "no-default-route"
    assert set(NET_SCENARIOS) <= set(SCENARIOS)
    covered = set().union(*(SCENARIOS[n].expect for n in NET_SCENARIOS))
    assert {f"NET00{i}" for i in range(1, 8)} <= covered


def test_healthy_with_a_plan_is_clean():
    assert run_rules("healthy", plan={"ports": [22, 8000], "public_ip": True}, select=["NET"]) == []


def test_every_net_finding_has_a_fix_with_real_ids():
    for name in NET_SCENARIOS:
        sc = SCENARIOS[name]
        for f in run_rules(name, plan=sc.plan or None, select=["NET"]):
            assert f.fix is not None and f.fix.commands, (name, f.rule)
            for cmd in f.fix.commands:
                assert "--region eu-south-1" in cmd and "…" not in cmd and "<" not in cmd, cmd


def test_each_net_rule_reports_unknown_when_something_it_reads_is_unreadable():
    from preflight import engine
    from preflight.inventory.model import Unreadable
    from tests.rules.conftest import inventory, public_vpc

    for rule in engine.select_rules(engine.load_rules(), ["NET"]):
        for missing in sorted(rule.meta.needs):
            inv = inventory(*public_vpc(1, public_ip=False),
                            unreadable=[Unreadable(missing, "UnauthorizedOperation", f"ec2:Describe-{missing}")])
            found = run_rules(inv, select=[rule.id])
            assert [(f.rule, f.status, f.resource) for f in found] == [(rule.id, "UNKNOWN", "eu-south-1")], missing
            assert f"ec2:Describe-{missing}" in found[0].message
