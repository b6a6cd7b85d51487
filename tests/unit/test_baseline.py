from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflight import baseline
from preflight.engine import Finding
from tests.unit.report_samples import sample_report


def test_write_then_apply_leaves_no_findings_and_counts_known(tmp_path):
    report = sample_report()
    path = tmp_path / "baseline.json"
    assert baseline.write(path, report.findings) == 2  # the UNKNOWN is not recorded
    keys = baseline.load(path)
    assert ("NET002", "123456789012", "eu-south-1", "subnet-0abc") in keys
    fresh = sample_report()
    stats = baseline.apply(fresh, keys)
    assert [(f.rule, f.status) for f in fresh.findings] == [("SG001", "UNKNOWN")]
    assert stats == {"known": 2, "new": 1, "fixed": []}
    assert fresh.exit_code() == 3  # still incomplete


def test_unknown_is_never_hidden_even_when_the_file_lists_it(tmp_path):
    report = sample_report()
    unknown = next(f for f in report.findings if f.status == "UNKNOWN")
    stats = baseline.apply(report, {unknown.key()})
    assert unknown in report.findings and stats["known"] == 0
    assert report.exit_code("critical") == 3


def test_a_baselined_finding_whose_rule_is_now_unknown_is_not_called_fixed():
    report = sample_report()
    unknown = next(f for f in report.findings if f.status == "UNKNOWN")
    was = (unknown.rule, unknown.account, unknown.region, "sg-0123")  # it failed before; unreadable now
    stats = baseline.apply(report, {was})
    assert stats["fixed"] == []


def test_new_finding_is_kept_and_message_changes_do_not_matter(tmp_path):
    path = tmp_path / "b.json"
    baseline.write(path, sample_report().findings[:1])
    report = sample_report()
    report.findings[0] = dataclasses.replace(report.findings[0], message="reworded")
    baseline.apply(report, baseline.load(path))
    assert [(f.rule, f.resource) for f in report.findings] == [("SG001", "eu-south-1"), ("NET006", "eu-south-1")]
    assert report.gate.baseline is not None
    assert report.gate.baseline["known"] == 1 and report.gate.baseline["new"] == 2


def test_same_resource_other_region_is_new(tmp_path):
    path = tmp_path / "b.json"
    baseline.write(path, sample_report().findings)
    report = sample_report()
    report.findings = [dataclasses.replace(report.findings[0], region="eu-west-1")]
    baseline.apply(report, baseline.load(path))
    assert [f.region for f in report.findings] == ["eu-west-1"]


def test_fixed_entries_are_reported_only_for_checked_rules_and_regions(tmp_path):
    path = tmp_path / "b.json"
    gone = Finding(rule="NET002", name="x", severity="high", status="FAIL", resource="subnet-gone",
                   region="eu-south-1", account="123456789012", message="m")
    elsewhere = dataclasses.replace(gone, resource="subnet-far", region="us-east-1")
    baseline.write(path, [gone, elsewhere])
    report = sample_report()
    stats = baseline.apply(report, baseline.load(path))
    assert stats["fixed"] == [{"rule": "NET002", "account": "123456789012", "region": "eu-south-1",
                               "resource": "subnet-gone"}]
    assert len(report.findings) == 3


def test_file_is_one_finding_per_line_and_sorted(tmp_path):
    path = tmp_path / "b.json"
    baseline.write(path, sample_report().findings)
    lines = path.read_text().splitlines()
    assert lines[1] == ' "schema": "preflight-baseline/v1",'
    assert [json.loads(x.strip().rstrip(","))["rule"] for x in lines[4:6]] == ["NET002", "NET006"]
    assert lines[6] == " ]"  # the UNKNOWN (SG001) is not recorded


@pytest.mark.parametrize(("text", "expected"), [
    ('{"schema": "preflight-baseline/v1",\n "findings": [\n', "b.json:3: not valid JSON"),
    ('[]', "b.json:1: not a preflight baseline (schema 'list'"),
    ('{"schema": "preflight/v1", "findings": []}', "b.json:1: not a preflight baseline (schema 'preflight/v1'"),
    ('{"schema": "preflight-baseline/v1", "findings": {}}', 'b.json:1: "findings" must be a list'),
    ('{"schema": "preflight-baseline/v1",\n "findings": [\n  {"rule": "NET002", "account": "", "region": "r",'
     ' "resource": "subnet-1"},\n  {"rule": "NET002", "account": "", "region": "r"}\n ]\n}',
     "b.json:4: findings[1]: 'resource' is required and must be a string"),
    ('{"schema": "preflight-baseline/v1",\n "findings": [\n  7\n ]}', "b.json:3: findings[0] must be an object"),
])
def test_malformed_baseline_names_file_line_and_problem(tmp_path, text, expected):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(baseline.BaselineError) as exc:
        baseline.load(path)
    assert str(exc.value).startswith(f"{tmp_path}/{expected}")


def test_missing_baseline_says_how_to_create_it(tmp_path):
    with pytest.raises(baseline.BaselineError, match="baseline file not found: .*--write-baseline"):
        baseline.load(tmp_path / "nope.json")


ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12)


@given(st.lists(st.tuples(st.sampled_from(["NET001", "NET002", "SG001"]), ids, ids), max_size=20))
def test_round_trip_keys(items):
    findings = [Finding(rule=r, name="n", severity="high", status="FAIL", resource=res, region=reg,
                        account="1", message="m \"quoted\" ü") for r, res, reg in items]
    keys = baseline.loads(baseline.dumps(findings))
    assert keys == {f.key() for f in findings}


def test_table_says_what_the_baseline_hid(tmp_path):
    from preflight.report import render

    path = tmp_path / "b.json"
    baseline.write(path, sample_report().findings)
    report = sample_report()
    baseline.apply(report, baseline.load(path))
    text = render(report, "table")
    assert "SG001" in text and text.rstrip().endswith("Not shown: 2 in the baseline.")  # the UNKNOWN stays


def test_json_reports_what_the_baseline_hid(tmp_path):
    from preflight.report import render

    path = tmp_path / "b.json"
    baseline.write(path, sample_report().findings[:1])
    report = sample_report()
    assert "baseline" not in json.loads(render(report, "json"))
    baseline.apply(report, baseline.load(path))
    doc = json.loads(render(report, "json"))
    assert doc["baseline"] == {"known": 1, "new": 2, "fixed": []}
    assert [f["rule"] for f in doc["findings"]] == ["SG001", "NET006"]
