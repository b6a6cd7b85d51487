"""End to end: `preflight check --sandbox compute-blockers` through the installed command, the
--dry-run-launch opt-in (its absence: tests/rules/test_cmp_skypilot.py), the launch example as the
near miss, and unreadable quotas (exit 3)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, run_in_process

pytestmark = pytest.mark.e2e


def test_sandbox_shows_every_cmp_rule_with_dry_run_launch() -> None:
    res = run_cli("check", "--sandbox", "compute-blockers", "--plan", "examples/compute-blockers.yaml",
                  "--dry-run-launch", "--format", "json")
    assert res.code == 1, res.stderr
    report = res.json()
    found = {(f["rule"], f["status"], f["resource"]) for f in report["findings"]}
    assert found == {("CMP001", "FAIL", "L-DB2E81BA"), ("CMP002", "FAIL", "eu-south-1a"),
                     ("CMP003", "FAIL", "ami-0abcdef1234567890"), ("CMP004", "FAIL", "compute-key"),
                     ("CMP005", "FAIL", "compute-profile"), ("CMP006", "FAIL", "compute-profile")}
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["CMP006"]["details"]["code"] == "NoSuchEntity"
    assert "4 + 8 = 12 > 8" in by_rule["CMP001"]["message"]


def test_the_launch_example_fits_the_compute_blockers_account() -> None:
    # examples/launch.yaml (t3.micro, an AMI moto ships, no key or profile) is the near miss.
    from preflight.collect.aws import collect
    from preflight.collect.sandbox import sandbox
    from preflight.plan import load_plan
    from tests.rules.cmp_support import CMP_NEEDS, run

    plan = load_plan("examples/launch.yaml")
    with sandbox("compute-blockers", "eu-south-1") as (session, _):
        inv = collect(session, "eu-south-1", set(CMP_NEEDS), plan)
    assert inv.extra["dry_run"]["code"] == "DryRunOperation"
    assert [f for r in ("CMP001", "CMP002", "CMP003", "CMP004", "CMP005", "CMP006") for f in run(r, inv, plan)] == []


def test_unreadable_quotas_in_a_snapshot_exit_3_naming_the_permission(tmp_path) -> None:
    from preflight.inventory import snapshot
    from preflight.inventory.model import Inventory, Unreadable

    inv = Inventory(region="eu-south-1", account="123456789012", extra={"instance_types": {
        "instance_type": "m5.large", "family": "standard", "types": {"m5.large": {"vcpus": 2}}}},
        unreadable=(Unreadable("quotas", "AccessDeniedException", "servicequotas:ListServiceQuotas"),))
    snap = tmp_path / "account.json"
    snapshot.save(snap, [inv])
    plan = tmp_path / "plan.yaml"
    plan.write_text("region: eu-south-1\ninstance_type: m5.large\ncount: 1\n")
    res = run_in_process("check", "--snapshot", str(snap), "--plan", str(plan), "--select", "CMP001",
                         "--format", "json")
    assert res.code == 3, (res.stdout, res.stderr)
    report = res.json()
    [f] = report["findings"]
    assert (f["rule"], f["status"], f["resource"]) == ("CMP001", "UNKNOWN", "eu-south-1")
    assert "quotas could not be read (AccessDeniedException); grant servicequotas:ListServiceQuotas" in f["message"]
    assert report["unreadable"][0]["permission"] == "servicequotas:ListServiceQuotas"


def test_scenario_expect_and_example_plan_agree() -> None:
    import yaml

    from preflight.collect.sandbox import get_scenario
    from tests.rules.cmp_support import blockers, run

    sc = get_scenario("compute-blockers")
    example = yaml.safe_load(open("examples/compute-blockers.yaml"))
    assert {k: v for k, v in example.items() if k != "cloud"} == sc.plan
    fired = {f.rule for r in sorted(sc.expect) for f in run(r, blockers(), sc.plan) if f.status == "FAIL"}
    assert fired == set(sc.expect) == {f"CMP00{i}" for i in range(1, 7)}
