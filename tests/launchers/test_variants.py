"""Every alternative of a SkyPilot task is checked and reported on its own (in-process sandbox)."""

from __future__ import annotations

from pathlib import Path

from preflight.launchers import get_profile
from preflight.plan import load_plan
from preflight.runner import Target, open_target, run_check

TASK = """\
name: train
num_nodes: 1
resources:
  instance_type: g4dn.xlarge
  any_of:
    - infra: aws/eu-south-1/eu-south-1a
    - infra: aws/eu-south-1/eu-south-1b
    - infra: k8s/my-context
run: python train.py
"""


def check(tmp_path: Path, text: str, select: list[str]):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    plan = load_plan(path)
    with open_target(Target(sandbox="compute-blockers", regions=["eu-south-1"]), plan) as source:
        return run_check(source, plan, select, [])


def test_a_failing_alternative_is_failover_info_when_another_launches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no user SkyPilot config
    report = check(tmp_path, TASK, ["CMP002", "NET", "LCH"])
    by_rule = {f.rule: f for f in report.findings}
    cmp002 = by_rule["CMP002"]  # g4dn.xlarge is not offered in eu-south-1a; eu-south-1b works
    assert cmp002.resource == "eu-south-1a" and cmp002.severity == "info"
    assert cmp002.message.startswith("SkyPilot will fail over past this alternative (the launch will be slower) "
                                     "and launch with train · any_of[1]: aws/eu-south-1/eu-south-1b g4dn.xlarge")
    assert cmp002.details["failover"] is True and not get_profile("skypilot").blocks(cmp002)
    lch = by_rule["LCH001"]  # the kubernetes alternative is never read as AWS
    assert lch.status == "UNKNOWN" and lch.message.startswith("not checked: kubernetes")
    assert report.exit_code("low") == 3  # nothing blocks; something was not checked

    # Near miss: without the zone that works, the same finding blocks.
    only_a = TASK.replace("    - infra: aws/eu-south-1/eu-south-1b\n", "")
    blocked = [f for f in check(tmp_path, only_a, ["CMP002"]).findings if f.rule == "CMP002"]
    assert [(f.severity, f.resource) for f in blocked] == [("high", "eu-south-1a")]
    assert get_profile("skypilot").blocks(blocked[0])
