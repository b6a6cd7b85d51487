from __future__ import annotations

import xml.etree.ElementTree as ET

from preflight.report import render
from tests.unit.report_samples import sample_report


def test_junit_one_suite_per_rule_failures_for_findings():
    root = ET.fromstring(render(sample_report(), "junit"))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["NET002 subnet-without-default-route", "NET006 no-default-vpc",
                            "SG001 plan-port-not-open"]
    net002 = suites["NET002 subnet-without-default-route"]
    case = net002.find("testcase")
    assert case.get("name") == "NET002 subnet-0abc (eu-south-1)"
    failure = case.find("failure")
    assert failure.get("type") == "high"
    assert "rtb-1 has no 0.0.0.0/0 route | 100% <b>" in failure.get("message")
    assert "$ aws ec2 create-route --route-table-id rtb-1" in failure.text
    assert "path: subnet-0abc -> rtb-1 -> igw-9" in failure.text
    sg = suites["SG001 plan-port-not-open"].find("testcase")
    assert sg.find("error").get("type") == "UNKNOWN"
    assert root.get("tests") == "3" and root.get("failures") == "2" and root.get("errors") == "1"


def test_junit_rule_without_findings_is_a_passing_case_per_region():
    root = ET.fromstring(render(sample_report(findings=False), "junit"))
    cases = root.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == ["NET002 (eu-south-1)", "NET006 (eu-south-1)", "SG001 (eu-south-1)"]
    assert all(len(c) == 0 for c in cases)
    assert root.get("failures") == "0" and root.get("tests") == "3"
