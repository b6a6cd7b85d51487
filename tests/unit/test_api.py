"""The public Python API (issue 13 item 7): signatures pinned (semver), lazy and cheap import, errors as
exceptions (never an exit or a print), the preflight/v1 JSON Schema shipped and met by every output."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import preflight
from preflight.collect.sandbox import load_scenarios

SIGNATURES = {
    "check": "(plan: 'PlanLike' = None, region: 'str | Sequence[str] | None' = None, profile: 'str | None' = None, "
             "endpoint_url: 'str | None' = None, select: 'Codes' = None, ignore: 'Codes' = None, "
             "launcher: 'Any' = None, *, sandbox: 'str | None' = None, enable: 'Codes' = None, "
             "config: 'Mapping[str, Any] | None' = None, simulate: 'bool' = False, refresh: 'bool' = False, "
             "cache: 'bool' = True, cache_dir: 'str | None' = None, settings: 'RunSettings | None' = None) "
             "-> 'Report'",
    "check_inventory": "(inventory: 'Inventory | Sequence[Inventory] | str | os.PathLike[str]', "
                       "plan: 'PlanLike' = None, select: 'Codes' = None, ignore: 'Codes' = None, "
                       "launcher: 'Any' = None, *, enable: 'Codes' = None, config: 'Mapping[str, Any] | None' = None, "
                       "settings: 'RunSettings | None' = None) -> 'Report'",
    "Report.blocking": "(self, launcher: 'Any' = None) -> 'tuple[Finding, ...]'",
    "Report.to_dict": "(self) -> 'dict[str, Any]'",
    "Report.exit_code": "(self, fail_on: 'str' = 'low') -> 'int'",
}


def _resolve(dotted: str) -> object:
    obj: object = preflight
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_public_signatures_are_pinned(name: str) -> None:
    """Changing one is a breaking change: bump the major version and this test together."""
    assert str(inspect.signature(_resolve(name))) == SIGNATURES[name]


def test_public_names_and_types() -> None:
    assert set(preflight.__all__) >= {"check", "check_inventory", "Plan", "Report", "Finding", "PreflightError",
                                      "PlanError", "CredentialsError", "CloudError", "RunSettings"}
    for name in ("PlanError", "CredentialsError", "CloudError"):
        assert issubclass(getattr(preflight, name), preflight.PreflightError)
    assert [f.name for f in preflight.Report.__dataclass_fields__.values()][:3] == ["findings", "regions", "accounts"]
    with pytest.raises(AttributeError):
        preflight.nothing_here  # noqa: B018


def test_importing_preflight_loads_no_sdk() -> None:
    code = ("import sys, preflight; heavy = {'boto3', 'botocore', 'networkx', 'yaml', 'typer', 'rich'}; "
            "print(sorted(heavy & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_plan_constructor_for_callers_without_a_yaml_file() -> None:
    p = preflight.Plan(region="eu-south-1", ports=[8000, 8002], security_group="web")
    assert p.ports == (8000, 8002) and p.has("ports") and p.has("region") and not p.has("cloud")
    assert preflight.Plan.from_dict({"region": "eu-south-1", "ports": "8000-8001"}).ports == (8000, 8001)
    with pytest.raises(preflight.PlanError, match="ports: expected a list"):
        preflight.Plan(ports="8000")  # type: ignore[arg-type]


def test_check_on_a_sandbox_returns_frozen_findings_blocking_and_the_v1_json(capsys: pytest.CaptureFixture) -> None:
    report = preflight.check(sandbox="sg-rule-quota", plan={"ports": [9001, 9003], "security_group": "crowded",
                                                            "source_cidr": "198.51.100.0/24"},
                             select="SG", region="eu-south-1")
    assert isinstance(report.findings, tuple) and {f.rule for f in report.findings} == {"SG005", "SG010"}
    with pytest.raises(AttributeError):
        report.findings[0].rule = "X"  # type: ignore[misc]
    assert sorted(f.rule for f in report.blocking()) == ["SG005", "SG010"]  # SG010: what a launch must open
    data = report.to_dict()
    jsonschema.validate(data, preflight.api.load_schema())
    assert data["schema"] == "preflight/v1" and data["regions"] == ["eu-south-1"]
    assert [f["rule"] for f in data["findings"]] == [f.rule for f in report.findings]
    assert report.exit_code() == 1 and report.exit_code("high") == 1
    assert capsys.readouterr() == ("", "")  # never prints


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"plan": "/nonexistent/task.yaml"}, "PlanError", "plan file not found: /nonexistent/task.yaml"),
    ({"plan": {"ports": "many"}}, "PlanError", "ports"),
    ({"select": "XYZ9", "sandbox": "healthy"}, "PreflightError", "unknown rule id or prefix 'XYZ9'"),
    ({"sandbox": "no-such-scenario"}, "PreflightError", "unknown sandbox scenario 'no-such-scenario'"),
    ({"endpoint_url": "not a url", "region": "eu-south-1"}, "PreflightError", "is not a URL"),
])
def test_errors_are_exceptions_with_the_cli_one_line_message(kwargs, error, fragment, capsys) -> None:
    with pytest.raises(getattr(preflight, error)) as info:
        preflight.check(**kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert capsys.readouterr() == ("", "")


def test_check_inventory_offline_from_objects_and_from_a_snapshot_file(tmp_path: Path) -> None:
    from preflight.inventory import snapshot
    from tests.rules.conftest import inventory, public_vpc, subnet

    inv = inventory(*public_vpc(1), subnet("subnet-9", "vpc-1", "10.1.9.0/24", public_ip=True, name="lonely"))
    report = preflight.check_inventory(inv, preflight.Plan(vpc="vpc-1"), select=["NET"])
    assert {f.rule for f in report.findings} == {"NET006"}
    path = tmp_path / "snap.json"
    snapshot.save(str(path), [inv])
    again = preflight.check_inventory(str(path), {"vpc": "vpc-1"}, select="NET")
    assert again.to_dict()["findings"] == report.to_dict()["findings"]
    # a snapshot without IAM data: the IAM rules are UNKNOWN, never a silent pass
    iam = preflight.check_inventory(inv, select="IAM001")
    assert [(f.rule, f.status) for f in iam.findings] == [("IAM001", "UNKNOWN")]


def test_schema_command_prints_the_shipped_schema(cli) -> None:
    res = cli("schema")
    assert res.code == 0 and json.loads(res.stdout) == preflight.api.load_schema()


def test_every_reporter_sample_and_sandbox_output_meets_the_schema() -> None:
    """The README's sample, the golden findings of every sandbox scenario, and a report with
    suppressions and a baseline all validate; a near-miss (a bad status) does not."""
    schema = preflight.api.load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sample = readme.split('```json\n{\n  "schema": "preflight/v1"', 1)[1].split("```", 1)[0]
    jsonschema.validate(json.loads('{\n  "schema": "preflight/v1"' + sample), schema)
    golden = json.loads((Path(__file__).resolve().parents[1] / "data" / "golden-findings.json").read_text())
    for name, findings in golden.items():
        doc = {"schema": "preflight/v1", "regions": ["eu-south-1"], "accounts": [], "findings": findings,
               "unreadable": [], "summary": {"rules_run": 1, "findings": len(findings), "fail": len(findings),
                                             "unknown": 0, "by_severity": dict.fromkeys(
                                                 ("info", "low", "medium", "high", "critical"), 0)}}
        jsonschema.validate(doc, schema), name
    # the reporters' own sample report (tests/unit/report_samples.py), with findings and without
    from preflight.report.json import report_dict
    from tests.unit.report_samples import sample_report

    for with_findings in (True, False):
        jsonschema.validate(report_dict(sample_report(with_findings)), schema)
    bad = json.loads(json.dumps(doc))
    bad["findings"] = [dict(golden["no-default-route/default"][0], status="PASS")]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize("name", sorted(n for n, s in load_scenarios().items() if s.cloud == "aws"))
def test_each_sandbox_json_output_meets_the_schema(name: str) -> None:
    sc = load_scenarios()[name]
    data = preflight.check(sandbox=name, plan=sc.plan or None, select="NET,SG").to_dict()
    jsonschema.validate(data, preflight.api.load_schema())


def test_the_readme_api_example_runs_and_prints_what_the_readme_says() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = section.split("prints\n\n```\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent).stdout
    assert re.sub(r"sg-[0-9a-f]+", "sg-…", out) == re.sub(r"sg-[0-9a-f]+", "sg-…", printed)


def test_an_inventory_cache_in_the_run_settings_is_reused_by_the_next_check() -> None:
    """`RunSettings.inventory_cache` (what the SkyPilot admin policy passes): the second check of
    the same account and region reuses the first one's network inventory. Sandbox ids change on
    every run, so the same group id in both reports proves the reuse; without the cache they differ."""

    class Cache:
        def __init__(self) -> None:
            self.items: dict[tuple[str, str], Any] = {}

        def get(self, account: str, region: str) -> Any:
            return self.items.get((account, region))

        def put(self, account: str, region: str, inventory: Any) -> None:
            self.items[(account, region)] = inventory

    plan = {"ports": [9001, 9003], "security_group": "crowded", "source_cidr": "198.51.100.0/24"}

    def groups(settings: preflight.RunSettings | None) -> set[str]:
        report = preflight.check(sandbox="sg-rule-quota", plan=plan, select="SG", region="eu-south-1",
                                 settings=settings)
        assert {f.rule for f in report.findings} == {"SG005", "SG010"}
        return {f.resource for f in report.findings}

    cache = Cache()
    cached = preflight.RunSettings.from_env().with_inventory_cache(cache)
    first = groups(cached)
    assert [region for _, region in cache.items] == ["eu-south-1"]
    assert groups(cached) == first
    assert groups(None) != first
