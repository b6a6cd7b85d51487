"""Before/after: every sandbox scenario gives exactly the findings captured in tests/data/golden-findings.json
before the issue-13 refactoring (rule metadata, RunSettings, collector registry, public API).

The golden file was written by the pre-refactoring code (`PREFLIGHT_WRITE_GOLDEN=1 pytest this file`
rewrites it: only do that for an intended change of findings, and say so in the commit). Cloud ids are
random in moto, so ids are replaced by the scenario's names for them (`<app-public>`) or by their kind
(`<subnet>`) before comparing."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from preflight.collect.sandbox import load_scenarios

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden-findings.json"
SCENARIOS = load_scenarios()
# (scenario, variant): the default check, plus the opt-in dry run (CMP006) where a scenario expects it.
CASES = [(name, "default") for name in SCENARIOS] + [
    (name, "dry-run-launch") for name, sc in SCENARIOS.items() if "CMP006" in sc.expect]
ID = re.compile(r"\b(vpc|subnet|rtb|igw|eigw|acl|sg|nat|eipalloc|rtbassoc|aclassoc|i|eni|pcx|sgr|ami|key|r)"
                r"-[0-9a-f]{8,17}\b")


def normalize(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value, sort_keys=True)
    for rid, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(rid, f"<{name}>")
    return json.loads(ID.sub(lambda m: f"<{m.group(1)}>", text))


@functools.lru_cache(maxsize=None)
def scenario_run(name: str, variant: str) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, int, str]]]:
    """The JSON findings of `preflight check --sandbox NAME` (with the scenario's plan), ids normalized,
    and for each FAIL that advertises a fixer, what that fixer plans for it alone: (rule, resource,
    fixer, changes planned, refusals)."""
    from preflight.cli import common
    from preflight.collect.gcp import non_gcp_rule_ids, open_gcp_target
    from preflight.engine import load_rules
    from preflight.fix import build_plan
    from preflight.report.json import report_dict
    from preflight.runner import open_target, run_check

    sc = SCENARIOS[name]
    opts = common([], None, None, name, None, None)
    ignore: list[str] = []
    enable = ["CMP006"] if variant == "dry-run-launch" else []
    names: dict[str, str] = {}
    if sc.cloud == "gcp":
        ignore += non_gcp_rule_ids(load_rules())
        opened = open_gcp_target(opts.target, opts.plan, None, None, None)
    else:
        opened = open_target(opts.target, opts.plan)
    with opened as source:
        report = run_check(source, opts.plan, [], ignore, enable=enable)
        if getattr(source, "seeder", None) is not None:
            names = {v: k for k, v in source.seeder.ids.items()}
    advertised = []
    for f in report.findings:
        if f.status == "FAIL" and f.fix is not None and f.fix.fixer:
            fplan = build_plan([f], report.inventories, opts.plan)
            advertised.append((f.rule, f.resource, f.fix.fixer, len(fplan.changes),
                               "; ".join(r.reason for r in fplan.refusals)))
    found = [normalize(f, names) for f in report_dict(report)["findings"]]
    return sorted(found, key=lambda f: json.dumps(f, sort_keys=True)), advertised


def scenario_findings(name: str, variant: str) -> list[dict[str, Any]]:
    return scenario_run(name, variant)[0]


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_sandbox_findings_equal_the_golden_file(name: str, variant: str) -> None:
    key = f"{name}/{variant}"
    got = scenario_findings(name, variant)
    if os.environ.get("PREFLIGHT_WRITE_GOLDEN"):
        data = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        data[key] = got
        GOLDEN.write_text(json.dumps(dict(sorted(data.items())), indent=1, sort_keys=True) + "\n")
        return
    want = json.loads(GOLDEN.read_text())[key]
    assert got == want


def test_the_golden_file_covers_every_scenario_and_is_not_empty() -> None:
    data = json.loads(GOLDEN.read_text())
    assert set(data) == {f"{n}/{v}" for n, v in CASES}
    rules = {f["rule"] for found in data.values() for f in found}
    assert {"NET001", "SG004", "SG005", "CMP006", "IAM001"} <= rules


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_an_advertised_fixer_changes_something(name: str, variant: str) -> None:
    """`or: preflight fix … (fixer X)` is a promise: X, given that finding alone, plans at least one
    change rather than refusing (issue 16 item 21: the blackhole-route scenario advertised a fixer
    that then refused)."""
    for rule, resource, fixer, planned, refused in scenario_run(name, variant)[1]:
        assert planned > 0, f"{rule} on {resource} advertises {fixer}, which plans nothing: {refused}"
