"""Rule metadata decides what blocks a launch (issue 13 item 4): category, scope and `blocks_when`,
read by `Report.blocking()` and the launch pipeline; no rule-id prefixes, no special cases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from preflight import engine
from preflight.launch.pipeline import LaunchSettings, Pipeline
from preflight.plan import plan_from_dict
from preflight.runner import Target, open_target
from tests.conftest import run_cli
from tests.rules.conftest import inventory, public_vpc, run_rules, subnet

REGION = "eu-south-1"
LAUNCH = {"region": REGION, "instance_type": "t3.micro", "image": "ami-04681a1dbd79675a5", "count": 1}


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))


@contextlib.contextmanager
def dry_run(scenario: str, plan: dict[str, Any]) -> Iterator[Pipeline]:
    p = plan_from_dict({**LAUNCH, **plan}, "test-plan.yaml")
    with open_target(Target(sandbox=scenario), p) as source:
        # every network and security-group rule, as a default launch runs them (compute reads are slow in moto)
        yield Pipeline(source, p, LaunchSettings(select=["NET", "SG", "PORT"]))


def test_every_rule_declares_what_it_means_for_a_launch() -> None:
    rules = engine.load_rules()
    by_category = {c: {rid for rid, r in rules.items() if r.meta.category == c} for c in engine.CATEGORIES}
    assert {"SG004", "IAM005"} <= by_category["posture"]
    assert {"SG001", "SG002", "SG003", "SG006"} <= by_category["hygiene"]
    assert {"NET001", "NET002", "SG005", "SG010", "CMP001", "IAM001", "PORT001"} <= by_category["launch-blocker"]
    assert all(r.meta.scope in engine.SCOPES for r in rules.values())
    assert not any(r.meta.blocks_launch for r in rules.values() if r.meta.category != "launch-blocker")
    assert rules["SG005"].meta.blocks_when == "planned" and rules["SG005"].meta.scope == "group"


def test_a_posture_or_hygiene_rule_cannot_be_declared_blocking() -> None:
    with pytest.raises(ValueError, match="a posture rule cannot block a launch"):
        engine.rule(id="ZZZ901", name="x", severity="low", summary="s", category="posture", blocks_launch=True)
    with pytest.raises(ValueError, match="category 'cosmetic'"):
        engine.rule(id="ZZZ902", name="x", severity="low", summary="s", category="cosmetic")  # type: ignore[arg-type]


def test_launch_is_not_blocked_by_sg004_on_its_own_group() -> None:
    """SSH open to the world (every SkyPilot group has it) is posture: reported, never blocking."""
    with dry_run("admin-port-open", {"security_group": "db-admin", "ports": [443]}) as pl:
        report = pl.check(pl.plan)
        sg004 = [f for f in report.findings if f.rule == "SG004"]
        assert [f.resource for f in sg004] == [pl.source.seeder.ids["db-admin"]]
        assert pl.blockers(report) == [] and report.blocking() == []
        result = pl.run()
    assert result.ok, [(s.name, s.summary, s.lines) for s in result.stages]
    assert (result.stages[0].name, result.stages[0].status) == ("check", "ok")


def test_launch_is_blocked_when_the_plans_own_rules_exceed_sg005s_quota() -> None:
    """59 rules + the plan's 2 missing ports > 60: RunInstances would never be reached, the authorize
    call fails with RulesPerSecurityGroupLimitExceeded. SG010 (the same group's missing ports) is the
    group stage's own job and does not block."""
    plan = {"ports": [9001, 9003], "security_group": "crowded", "source_cidr": "198.51.100.0/24"}
    with dry_run("sg-rule-quota", plan) as pl:
        gid = pl.source.seeder.ids["crowded"]
        result = pl.run()
    assert not result.ok
    check = result.stages[0]
    assert (check.name, check.status) == ("check", "blocked")
    assert len(check.lines) == 1 and check.lines[0].startswith(f"SG005 medium {gid}: ")
    assert "the plan adds 2, over the quota of 60" in check.lines[0]


def test_sg005_near_miss_one_missing_port_fits_the_quota() -> None:
    plan = {"ports": [9001, 10000], "security_group": "crowded", "source_cidr": "198.51.100.0/24"}
    with dry_run("sg-rule-quota", plan) as pl:
        report = pl.check(pl.plan)
        assert [f.rule for f in report.findings if f.rule == "SG005"] == []
        assert pl.blockers(report) == []


def test_sg005_on_a_group_already_over_quota_blocks_only_a_plan_that_adds_rules() -> None:
    from preflight.inventory import model as m

    rules = tuple(m.SecurityGroupRule(id=f"sgr-{i}", group_id="sg-full", ip_protocol="tcp", from_port=i, to_port=i,
                                      cidr_ipv4="0.0.0.0/0") for i in range(1, 62))
    full = m.SecurityGroup(id="sg-full", vpc_id="vpc-1", group_name="full", rules=rules)
    inv = inventory(*public_vpc(1), full)
    adds = run_rules(inv, plan={"ports": [9001], "security_group": "sg-full"}, select=["SG005"])
    nothing = run_rules(inv, plan={"ports": [5], "security_group": "sg-full"}, select=["SG005"])
    assert [f.rule for f in adds] == [f.rule for f in nothing] == ["SG005"]
    assert engine.blocks_launch(adds[0]) and not engine.blocks_launch(nothing[0])


def test_report_blocking_is_scoped_to_the_launchs_vpc_and_a_launcher_can_refine_it() -> None:
    # vpc-1 is healthy; vpc-2's public subnet has no default route (NET002 there), and no default VPC (NET006)
    broken = [subnet("subnet-9", "vpc-2", "10.2.1.0/24", public_ip=True)]
    inv = inventory(*public_vpc(1), *public_vpc(2)[:1], *broken)
    rules = engine.select_rules(engine.load_rules(), ["NET"])
    elsewhere = engine.run([inv], rules, plan_from_dict({"vpc": "vpc-1"}, "p"))
    here = engine.run([inv], rules, plan_from_dict({"vpc": "vpc-2"}, "p"))
    assert {f.rule for f in elsewhere.findings} >= {"NET002", "NET006"}
    assert elsewhere.blocking() == []
    assert sorted((f.rule, f.resource) for f in here.blocking()) == [("NET001", "vpc-2"), ("NET002", "subnet-9")]
    # no plan: the account as a whole; NET006 blocks only for a launcher that says so
    assert [f.rule for f in engine.run([inv], rules).blocking()] == ["NET002"]

    class NeedsDefaultVpc:
        def blocks(self, finding: engine.Finding) -> bool:
            return finding.rule == "NET006" or engine.blocks_launch(finding)

    assert [f.rule for f in elsewhere.blocking(NeedsDefaultVpc())] == ["NET006"]
    assert [f.rule for f in elsewhere.blocking(lambda f: f.rule == "NET006")] == ["NET006"]


def test_a_finding_can_say_it_blocks_or_not() -> None:
    f = engine.Finding(rule="SG004", name="n", severity="high", status="FAIL", resource="sg-1", region=REGION,
                       message="m", details={"blocks_launch": True})
    assert engine.blocks_launch(f)
    assert not engine.blocks_launch(engine.Finding(rule="NET002", name="n", severity="high", status="FAIL",
                                                   resource="subnet-1", region=REGION, message="m",
                                                   details={"blocks_launch": False}))
    assert not engine.blocks_launch(engine.Finding(rule="NET002", name="n", severity="high", status="UNKNOWN",
                                                   resource=REGION, region=REGION, message="m"))


def test_rules_and_explain_show_the_category() -> None:
    from preflight.catalogue import explain_rule, markdown_table, render_catalogue

    table = render_catalogue()
    assert any(line.startswith("SG004") and " posture " in line for line in table.splitlines())
    assert "SG004 admin-port-open-to-world (high, posture: never blocks a launch)" in explain_rule("SG004")
    assert ("SG005 rule-quota (medium, launch-blocker: blocks a launch only when the finding's details.planned "
            "is set (scope: the plan's security group))") in explain_rule("sg005")
    assert "| SG002 | redundant-rule | low | hygiene |" in markdown_table()


@pytest.mark.e2e
def test_installed_launch_dry_run_is_not_blocked_by_sg004(tmp_path: Path) -> None:
    plan = tmp_path / "launch.yaml"
    plan.write_text("region: eu-south-1\ninstance_type: t3.micro\nimage: ami-04681a1dbd79675a5\n"
                    "security_group: db-admin\nports: [443]\n")
    res = run_cli("launch", str(plan), "--sandbox", "admin-port-open", "--select", "NET,SG", "--format", "json",
                  env={"PREFLIGHT_STATE_DIR": str(tmp_path / "state")})
    assert res.code == 0, res.stdout + res.stderr
    check = res.json()["stages"][0]
    assert (check["name"], check["status"]) == ("check", "ok"), check


def test_every_rule_documents_itself_in_ruffs_four_sections_and_explain_shows_them() -> None:
    from preflight.catalogue import explain_rule
    from preflight.report.sarif import rule_descriptor

    for rid, r in engine.load_rules().items():
        sections = r.meta.doc_sections()
        assert list(sections) == list(engine.DOC_SECTIONS), rid
        assert all(sections.values()), rid
        text = explain_rule(rid)
        for heading in engine.DOC_SECTIONS:
            assert heading in text
        assert sections["Why is this bad?"] in text and text.count(sections["Why is this bad?"]) == 1
        help_ = rule_descriptor(r.meta)["help"]
        assert help_["text"] == text and "## Fix safety" in help_["markdown"]
