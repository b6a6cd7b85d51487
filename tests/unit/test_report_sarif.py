from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from preflight.report import formats, render
from tests.unit.report_samples import sample_report

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())


def validate(doc: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_sarif_is_registered():
    assert "sarif" in formats()


@pytest.mark.parametrize("with_findings", [True, False])
@pytest.mark.parametrize("anchor", [None, "launch.yaml"])
def test_sarif_validates_against_the_official_schema(with_findings: bool, anchor: str | None):
    report = sample_report(with_findings)
    if anchor:
        report.gate.anchor_file = anchor
    doc = json.loads(render(report, "sarif"))
    validate(doc)
    assert doc["version"] == "2.1.0"


def test_schema_validator_rejects_a_broken_document():
    doc = json.loads(render(sample_report(), "sarif"))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_one_rule_descriptor_per_rule_with_help_from_metadata():
    doc = json.loads(render(sample_report(), "sarif"))
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["NET002", "NET006", "SG001"]
    net002 = rules[0]
    assert net002["name"] == "subnet-without-default-route"
    assert net002["shortDescription"]["text"] == "Public subnet has no default route to an attached internet gateway"
    assert "Finds public subnets without a default route." in net002["help"]["text"]
    assert "Example:\nFix: add 0.0.0.0/0 -> igw-… to the subnet's route table" in net002["help"]["text"]
    assert "## What it does\nFinds public subnets without a default route." in net002["help"]["markdown"]
    assert "`preflight fix --apply` (fixer `route-add-default`)" in net002["help"]["markdown"]
    assert net002["defaultConfiguration"]["level"] == "error"
    assert net002["properties"]["security-severity"] == "8.0"
    assert net002["helpUri"].startswith("https://docs.aws.amazon.com/")
    assert rules[1]["defaultConfiguration"]["level"] == "note"


def test_results_carry_resource_as_logical_location_and_the_fix():
    doc = json.loads(render(sample_report(), "sarif"))
    run = doc["runs"][0]
    fail = run["results"][0]
    assert fail["ruleId"] == "NET002"
    assert run["tool"]["driver"]["rules"][fail["ruleIndex"]]["id"] == "NET002"
    assert fail["kind"] == "fail" and fail["level"] == "error"
    loc = fail["locations"][0]["logicalLocations"][0]
    assert loc == {"name": "subnet-0abc", "fullyQualifiedName": "aws://123456789012/eu-south-1/subnet-0abc",
                   "kind": "resource"}
    assert "physicalLocation" not in fail["locations"][0]
    assert "$ aws ec2 create-route --route-table-id rtb-1" in fail["message"]["text"]
    assert fail["properties"]["fix"]["fixer"] == "route-add-default"
    assert fail["properties"]["path"] == ["subnet-0abc", "rtb-1", "igw-9"]
    assert len(fail["partialFingerprints"]["preflightFindingKey/v1"]) == 64


def test_unknown_is_an_open_result_with_level_none_and_unreadable_is_a_notification():
    doc = json.loads(render(sample_report(), "sarif"))
    run = doc["runs"][0]
    unknown = next(r for r in run["results"] if r["ruleId"] == "SG001")
    assert unknown["kind"] == "open" and unknown["level"] == "none"
    note = run["invocations"][0]["toolExecutionNotifications"][0]
    assert "could not read network_acls in eu-south-1 (UnauthorizedOperation); grant ec2:DescribeNetworkAcls" \
        in note["message"]["text"]


def test_anchor_file_adds_a_physical_location():
    report = sample_report()
    report.gate.anchor_file = "deploy/launch.yaml"
    doc = json.loads(render(report, "sarif"))
    phys = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert phys == {"artifactLocation": {"uri": "deploy/launch.yaml"}, "region": {"startLine": 1}}


def test_fingerprint_is_stable_and_depends_on_the_key_only():
    a = json.loads(render(sample_report(), "sarif"))["runs"][0]["results"][0]
    b = json.loads(render(sample_report(), "sarif"))["runs"][0]["results"][0]
    assert a["partialFingerprints"] == b["partialFingerprints"]
