from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from preflight.report import render
from preflight.report.github import escape_data, escape_property
from tests.unit.report_samples import sample_report


def test_github_annotations_levels_titles_and_fix():
    lines = render(sample_report(), "github").splitlines()
    assert lines[0].startswith(
        "::error title=NET002 subnet-without-default-route%3A subnet-0abc (eu-south-1)::subnet subnet-0abc maps")
    assert "%0A$ aws ec2 create-route --route-table-id rtb-1" in lines[0]
    assert "100%25 <b>" in lines[0]
    assert lines[1].startswith("::warning title=SG001 plan-port-not-open [UNKNOWN]%3A eu-south-1 (eu-south-1)::")
    assert "(UnauthorizedOperation)\\nline2" in lines[1]  # a value cannot add lines of its own
    assert lines[2].startswith("::notice title=NET006 no-default-vpc%3A eu-south-1 (eu-south-1)::")
    assert "a: b, c" in lines[2]  # message text keeps : and , (only properties escape them)
    assert lines[3] == ("::warning title=preflight%3A unreadable network_acls::could not read network_acls in "
                        "eu-south-1 (UnauthorizedOperation); grant ec2:DescribeNetworkAcls")
    assert lines[-1] == "preflight: 2 failed, 1 unknown in eu-south-1; 3 rules run"


def test_github_anchor_file_and_clean_summary():
    report = sample_report(findings=False)
    assert render(report, "github").splitlines()[-1] == "preflight: no problems found in eu-south-1; 3 rules passed"
    report = sample_report()
    report.gate.anchor_file = "launch.yaml"
    assert render(report, "github").startswith("::error file=launch.yaml,title=NET002")


@given(st.text())
def test_escaped_values_cannot_break_out_of_a_command(text: str):
    data = escape_data(text)
    prop = escape_property(text)
    assert "\n" not in data and "\r" not in data
    assert "::" not in prop and "," not in prop
    decoded = prop.replace("%2C", ",").replace("%3A", ":").replace("%0A", "\n").replace("%0D", "\r")
    assert decoded.replace("%25", "%") == text
