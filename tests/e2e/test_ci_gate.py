"""`preflight check` as a CI gate, end to end against the moto server: config file lookup,
suppressions, the baseline workflow, machine formats, and bad input (exit 2, one line)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jsonschema

from preflight.report import render
from preflight.runner import Target, open_target, run_check
from tests.conftest import Result, run_cli, run_in_process
from tests.e2e.test_multiregion import seed_blackhole

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())


def check(server, *args: str, cwd: Path, run: Callable[..., Result] = run_cli) -> Result:
    """`preflight check` against the server from `cwd`: the installed command, or `run`."""
    return run("check", "--region", "eu-south-1", *args, env={"AWS_ENDPOINT_URL": server.url}, cwd=cwd)


def test_baseline_workflow_fails_only_on_new_findings(moto_server, tmp_path):
    ec2 = moto_server.client("ec2", "eu-south-1")
    first = seed_blackhole(ec2)
    res = check(moto_server, "--select", "NET004", "--write-baseline", "baseline.json", "--format", "json",
                cwd=tmp_path)
    assert res.code == 0, res.stderr  # writing a baseline accepts what is there
    assert "baseline of 1 finding(s) written to baseline.json" in res.stderr
    entries = json.loads((tmp_path / "baseline.json").read_text())["findings"]
    assert [(e["rule"], e["resource"]) for e in entries] == [("NET004", first["rtb"])]

    res = check(moto_server, "--select", "NET004", "--baseline", "baseline.json", "--format", "json", cwd=tmp_path)
    assert res.code == 0, res.stderr
    assert res.json()["findings"] == []
    assert "baseline: 1 known finding(s) hidden, 0 new" in res.stderr

    second = seed_blackhole(ec2)  # a new problem appears
    res = check(moto_server, "--select", "NET004", "--baseline", "baseline.json", "--format", "json", cwd=tmp_path)
    assert res.code == 1
    assert [f["resource"] for f in res.json()["findings"]] == [second["rtb"]]


def test_config_file_select_fail_on_and_suppression(moto_server, tmp_path):
    ids = seed_blackhole(moto_server.client("ec2", "eu-south-1"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "infra"\n\n[tool.preflight]\nselect = ["NET004"]\nfail-on = "high"\n')
    res = check(moto_server, "--format", "json", cwd=tmp_path / "sub")  # found upward
    assert res.code == 0, res.stderr  # NET004 is medium, below fail-on high
    assert [f["rule"] for f in res.json()["findings"]] == ["NET004"]
    res = check(moto_server, "--format", "json", "--fail-on", "medium", cwd=tmp_path / "sub")
    assert res.code == 1  # the command line wins

    (tmp_path / ".preflight.toml").write_text(
        f'select = ["NET004"]\n\n[[suppress]]\nrule = "NET004"\nresource = "{ids["rtb"]}"\n'
        'reason = "NAT being replaced, ticket OPS-1"\nexpires = 2099-01-01\n')
    res = check(moto_server, "--format", "json", cwd=tmp_path)
    assert res.code == 0 and res.json()["findings"] == []
    assert "1 finding(s) suppressed by" in res.stderr

    (tmp_path / ".preflight.toml").write_text(
        f'select = ["NET004"]\n\n[[suppress]]\nrule = "NET004"\nresource = "{ids["rtb"]}"\n'
        'reason = "NAT being replaced, ticket OPS-1"\nexpires = 2020-01-01\n')
    res = check(moto_server, "--format", "json", cwd=tmp_path)
    assert res.code == 1
    assert f"{tmp_path}/.preflight.toml:3: suppression of NET004 on {ids['rtb']} expired on 2020-01-01" in res.stderr
    assert "suppression expired on 2020-01-01: NAT being replaced" in res.json()["findings"][0]["message"]


def test_sarif_junit_github_markdown_outputs(moto_server, tmp_path):
    ids = seed_blackhole(moto_server.client("ec2", "eu-south-1"))
    res = check(moto_server, "--select", "NET", "--format", "sarif", "--output", "out.sarif", cwd=tmp_path,
                run=run_in_process)
    assert res.code == 1, res.stderr
    doc = json.loads((tmp_path / "out.sarif").read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    results = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "NET004"]
    assert results[0]["locations"][0]["logicalLocations"][0]["name"] == ids["rtb"]
    assert {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]} >= {"NET001", "NET004", "NET007"}

    # the other formats of the same kind of run, in process (the subprocess path is the same)
    with open_target(Target(regions=["eu-south-1"], endpoint_url=moto_server.url)) as source:
        report = run_check(source, None, ["NET004"], [])
    case = ET.fromstring(render(report, "junit")).find("testsuite/testcase")
    assert case.get("name") == f"NET004 {ids['rtb']} (eu-south-1)" and case.find("failure") is not None
    assert render(report, "github").startswith(f"::warning title=NET004 blackhole-route%3A {ids['rtb']} (eu-south-1)::")
    assert f"| medium | NET004 blackhole-route | `{ids['rtb']}` | eu-south-1 |" in render(report, "markdown")


def test_bad_gate_input_is_one_line_exit_2(moto_server, tmp_path):
    (tmp_path / ".preflight.toml").write_text('select = ["NET"]\nfail-on = "severe"\n')
    res = check(moto_server, cwd=tmp_path, run=run_in_process)
    assert res.code == 2
    assert res.stderr.strip() == (f"preflight: error: {tmp_path}/.preflight.toml:2: fail-on: 'severe' is not one "
                                  "of info, low, medium, high, critical")
    (tmp_path / ".preflight.toml").unlink()
    (tmp_path / "b.json").write_text('{"schema": "preflight-baseline/v1",\n "findings": [\n  {"rule": 1}\n ]\n}')
    res = check(moto_server, "--baseline", "b.json", cwd=tmp_path, run=run_in_process)
    assert res.code == 2
    assert res.stderr.strip() == "preflight: error: b.json:3: findings[0]: 'rule' is required and must be a string"
    res = check(moto_server, "--format", "xml", cwd=tmp_path, run=run_in_process)
    assert res.code == 2 and "unknown format 'xml'" in res.stderr
    res = check(moto_server, "--config", "missing.toml", cwd=tmp_path, run=run_in_process)
    assert res.code == 2 and res.stderr.strip() == "preflight: error: config file not found: missing.toml"
