"""`preflight check --plan <SkyPilot task>` end to end (installed CLI, in-process sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "skypilot" / "task.yaml"


@pytest.mark.e2e
def test_example_task_checks_eu_south_1_with_candidate_instance_types(cli, tmp_path: Path) -> None:
    res = cli("check", "--sandbox", "--region", "eu-south-1", "--plan", str(EXAMPLE), "--format", "json",
              cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert res.code == 1, res.stderr
    doc = json.loads(res.stdout)
    found = {(f["rule"], f["resource"]): f for f in doc["findings"]}
    assert {f["region"] for f in doc["findings"]} == {"eu-south-1"}
    net006 = found[("NET006", "eu-south-1")]
    assert net006["severity"] == "high" and net006["details"]["blocks_launch"] is True
    assert net006["message"].startswith("SkyPilot will stop with 'The default VPC in eu-south-1")
    # accelerators: A10G:1 -> candidates from DescribeInstanceTypes, each checked by the compute rules
    checked = {r for (rule, r) in found if rule == "CMP002"}
    assert checked == {"g5.xlarge", "g5.2xlarge", "g5.4xlarge"}
    assert "[finetune · aws/eu-south-1 A10G:1 · g5.xlarge]" in found[("CMP002", "g5.xlarge")]["message"]


@pytest.mark.e2e
def test_unknown_accelerator_is_one_line_naming_file_and_field(cli, tmp_path: Path) -> None:
    task = tmp_path / "task.yaml"
    task.write_text("resources:\n  infra: aws/eu-south-1\n  accelerators: A10X:1\nrun: x\n")
    res = cli("check", "--sandbox", "--plan", str(task), cwd=tmp_path,
              env={"HOME": str(tmp_path)})
    assert res.code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{task}: resources.accelerators: unknown accelerator 'A10X'" in lines[0]
    assert "A10G" in lines[0]  # the GPUs EC2 does have there
