"""The benchmark's generator plants a known set of faults; every rule run on it finds exactly
those (precision and recall 1.0), so the benchmark measures the rules it claims to."""

from __future__ import annotations

from bench.generate import FAULT_RULES, REGION, Size, build, counts, inventory
from preflight import engine

TINY = Size(vpcs=3, subnets=60, route_tables=15, groups=80, rules=900, instances=20, faults=2)


def test_planted_faults_are_found_and_nothing_else():
    acc = build(TINY)
    inv = inventory(acc)
    c = counts(inv)
    assert c["subnets"] == 60 and c["security_groups"] == 80 and c["security_group_rules"] == 900
    report = engine.run([inv], engine.select_rules(engine.load_rules()))
    got = {(f.rule, f.resource) for f in report.findings}
    assert got == acc.expected
    per_rule = {r for r, _ in acc.expected}
    assert per_rule == set(FAULT_RULES)
    assert ("NET006", REGION) in got
    assert sum(1 for r, _ in acc.expected if r == "SG004") == TINY.faults


def test_generation_is_deterministic():
    assert inventory(build(TINY, seed=3)) == inventory(build(TINY, seed=3))
