"""CLI conventions users expect: --version, shell completion, several reports from one run
(--format FORMAT=PATH), the --output/--format slip, the GitHub step summary, NO_COLOR, and
`preflight iam-policy`. In process (main(argv)) on the shipped offline snapshot."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from preflight import __version__
from preflight.cli import main

SNAPSHOT = str(Path(__file__).parents[1] / "data" / "snapshot-no-default-route.json")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def one_line_error(err: str, *expected: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("preflight: error: "), err
    for text in expected:
        assert text in err, err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_version_flag_and_command(capsys):
    assert cli(capsys, "--version") == (0, f"preflight {__version__}\n", "")
    assert cli(capsys, "version") == (0, f"preflight {__version__}\n", "")
    code, _, err = cli(capsys, "--versions")
    assert code == 2 and "No such option" in err


def test_shell_completion_is_offered_and_installs(capsys, tmp_path, monkeypatch):
    code, out, _ = cli(capsys, "--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SHELL", "/bin/bash")
    code, out, _ = cli(capsys, "--show-completion", "bash")
    assert code == 0 and "_PREFLIGHT_COMPLETE" in out and "complete " in out
    code, out, _ = cli(capsys, "--install-completion", "bash")
    assert code == 0, out
    assert "preflight" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize("argv", [
    ("check", "--snapshot", SNAPSHOT, "--output", "json"),
    ("check", "--snapshot", SNAPSHOT, "-o", "sarif"),
    ("check", "--snapshot", SNAPSHOT, "-f", "sarif", "-o", "SARIF"),
    ("graph", "--snapshot", SNAPSHOT, "-o", "dot"),
])
def test_a_format_name_given_to_output_is_a_hint_not_a_file(capsys, tmp_path, argv):
    code, out, err = cli(capsys, *argv)
    name = argv[-1].lower()
    assert code == 2 and out == ""
    one_line_error(err, f"did you mean --format {name}?")
    assert list(tmp_path.iterdir()) == []


def test_an_output_path_that_only_looks_like_a_format_is_written(capsys, tmp_path):
    code, out, err = cli(capsys, "check", "--snapshot", SNAPSHOT, "-f", "json", "-o", "./json")
    assert code == 1 and out == "" and "report written to ./json" in err
    assert json.loads((tmp_path / "json").read_text())["schema"] == "preflight/v1"


def test_one_run_writes_several_reports(capsys, tmp_path):
    (tmp_path / "sub").mkdir()
    code, out, err = cli(capsys, "check", "--snapshot", SNAPSHOT, "--format", "table",
                         "--format", "sarif=report.sarif", "--format", "junit=junit.xml",
                         "-f", "json=sub/../report.json", "-f", "table=table.txt")
    assert code == 1, err
    assert out.startswith("preflight check: eu-south-1") and "NET001 no-usable-subnet" in out
    sarif = json.loads((tmp_path / "report.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"NET001", "NET006"}
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert any(tc.find("failure") is not None for tc in suites.iter("testcase"))
    assert [f["rule"] for f in json.loads((tmp_path / "report.json").read_text())["findings"]] == ["NET001", "NET006"]
    table = (tmp_path / "table.txt").read_text()
    assert "NET001 no-usable-subnet" in table and "\x1b[" not in table
    for name in ("report.sarif", "junit.xml", "sub/../report.json", "table.txt"):
        assert f"report written to {name}" in err


def test_output_still_names_the_file_of_the_one_format_without_a_path(capsys, tmp_path):
    code, out, err = cli(capsys, "check", "--snapshot", SNAPSHOT, "-f", "sarif", "-f", "json=r.json",
                         "-o", "r.sarif")
    assert code == 1 and out == "", err
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "preflight/v1"


@pytest.mark.parametrize(("argv", "message"), [
    (("-f", "sarif="), "no file after '='"),
    (("-f", "json", "-f", "sarif"), "only one report can go to standard output"),
    (("-f", "nope=x.txt"), "unknown format 'nope'"),
    (("-f", "json=a.out", "-f", "sarif=a.out"), "both write a.out"),
    (("-f", "json=a.json", "-o", "b.json"), "--output names the file"),
    (("-f", "json=sarif"), "did you mean --format sarif?"),
    (("-o", " "), "--output: empty file name"),
    (("-f", "json=missing/r.json"), "no directory missing"),
])
def test_bad_format_and_output_values_are_one_line_and_exit_2(capsys, tmp_path, argv, message):
    code, out, err = cli(capsys, "check", "--snapshot", SNAPSHOT, *argv)
    assert code == 2 and out == ""
    one_line_error(err, message)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_github_step_summary_is_appended(capsys, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = cli(capsys, "check", "--snapshot", SNAPSHOT, "-f", "github")
    assert code == 1 and out.startswith("::error")
    text = summary.read_text()
    assert text.startswith("earlier step\n## preflight check: eu-south-1") and "NET001" in text
    cli(capsys, "check", "--snapshot", SNAPSHOT, "-f", "json")
    assert summary.read_text().count("## preflight check:") == 2  # appended, never overwritten


def test_step_summary_written_once_when_a_report_already_targets_it(capsys, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli(capsys, "check", "--snapshot", SNAPSHOT, "-f", f"markdown={summary}")
    assert summary.read_text().count("## preflight check:") == 1


def test_no_step_summary_outside_github_actions(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "")  # set but empty: not GitHub Actions
    code, _, _ = cli(capsys, "check", "--snapshot", SNAPSHOT, "-f", "json")
    assert code == 1 and list(tmp_path.iterdir()) == []


class Tty:
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("value", "coloured"), [(None, True), ("", True), ("1", False), ("0", False)])
def test_no_color_counts_only_when_non_empty(monkeypatch, value, coloured):
    from preflight.report import colour_wanted, render
    from preflight.runner import Source, Target  # noqa: F401  (the reporters' own imports)
    from tests.unit.report_samples import sample_report

    if value is not None:
        monkeypatch.setenv("NO_COLOR", value)
    assert colour_wanted(Tty()) is coloured
    monkeypatch.setattr("sys.stdout", Tty())
    assert ("\x1b[" in render(sample_report(), "table")) is coloured


def test_iam_policy_prints_the_read_only_policy(capsys):
    code, out, _ = cli(capsys, "iam-policy")
    doc = json.loads(out)
    assert code == 0 and doc["Version"] == "2012-10-17"
    [read] = doc["Statement"]
    assert read["Effect"] == "Allow" and read["Resource"] == "*"
    assert {"ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules", "sts:GetCallerIdentity"} <= set(read["Action"])
    verbs = ("Describe", "Get", "List", "Simulate", "GenerateServiceLastAccessedDetails")
    assert all(a.split(":")[1].startswith(verbs) for a in read["Action"]), read["Action"]


def test_iam_policy_for_fix_and_launch_adds_their_writes(capsys):
    read = set(json.loads(cli(capsys, "iam-policy")[1])["Statement"][0]["Action"])
    fix = json.loads(cli(capsys, "iam-policy", "--for", "fix")[1])["Statement"]
    assert [s["Sid"] for s in fix] == ["PreflightRead", "PreflightFix"] and set(fix[0]["Action"]) == read
    writes = {"ec2:CreateRoute", "ec2:AuthorizeSecurityGroupIngress", "ec2:ModifySubnetAttribute"}
    assert writes <= set(fix[1]["Action"])
    assert "ec2:RunInstances" not in {a for s in fix for a in s["Action"]}
    launch = json.loads(cli(capsys, "iam-policy", "--for", "LAUNCH")[1])["Statement"]
    actions = [a for s in launch for a in s["Action"]]
    assert {"ec2:RunInstances", "iam:PassRole", "ec2:CreateSecurityGroup", "ec2:CreateRoute"} <= set(actions)
    assert len(actions) == len(set(actions))  # each action once


@pytest.mark.parametrize(("argv", "message"), [
    (("--for", "deploy"), "--for: unknown purpose 'deploy'"),
    (("--for", "check", "--plan", "launch.yaml"), "--plan, --region and --account go with --for skypilot|ray|launch"),
])
def test_iam_policy_bad_purpose_is_one_line(capsys, argv, message):
    code, out, err = cli(capsys, "iam-policy", *argv)
    assert code == 2 and out == ""
    one_line_error(err, message)
