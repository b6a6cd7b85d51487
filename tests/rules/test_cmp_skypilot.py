"""A SkyPilot task YAML gates its own launch: its resources map onto the plan, and the CMP rules
fire on the compute-blockers sandbox exactly as for preflight's own plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preflight.errors import PreflightError
from preflight.plan import load_plan, plan_from_dict
from tests.conftest import run_cli
from tests.rules.cmp_support import blockers, run

TASK = """\
name: finetune
num_nodes: 2
resources:
  cloud: aws
  region: eu-south-1
  zone: eu-south-1a
  instance_type: g4dn.xlarge
  image_id: ami-0abcdef1234567890
  use_spot: false
setup: pip install -r requirements.txt
run: python train.py
"""


def test_task_yaml_maps_onto_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(TASK)
    plan = load_plan(path)
    assert (plan.instance_type, plan.image, plan.count, plan.zones, plan.spot, plan.region) == (
        "g4dn.xlarge", "ami-0abcdef1234567890", 2, ("eu-south-1a",), False, "eu-south-1")


def test_image_id_per_region_and_docker_images() -> None:
    per_region = {"resources": {"region": "eu-south-1", "image_id": {"us-east-1": "ami-1", "eu-south-1": "ami-2"}},
                  "run": "x"}
    assert plan_from_dict(per_region).image == "ami-2"
    only = plan_from_dict({"resources": {"image_id": {"eu-south-1": "ami-2"}}, "run": "x"})
    assert (only.region, only.image) == ("eu-south-1", "ami-2")
    # No region: SkyPilot launches only where the map names an image, so each region is an alternative.
    both = plan_from_dict({"resources": {"image_id": {"us-east-1": "ami-1", "eu-west-1": "ami-3"}}, "run": "x"})
    assert [(a.region, a.image) for a in both.alternatives] == [("us-east-1", "ami-1"), ("eu-west-1", "ami-3")]
    with pytest.raises(PreflightError, match="resources.image_id: names images for us-east-1, not for eu-west-1"):
        plan_from_dict({"resources": {"region": "eu-west-1", "image_id": {"us-east-1": "ami-1"}}, "run": "x"})
    assert plan_from_dict({"resources": {"image_id": "docker:ubuntu:22.04"}, "run": "x"}).image == ""


def test_task_yaml_gates_the_launch_in_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(TASK)
    plan = load_plan(path)
    found = {f.rule: f for r in ("CMP001", "CMP002", "CMP003") for f in run(r, blockers(), plan)}
    assert set(found) == {"CMP001", "CMP002", "CMP003"}
    assert found["CMP001"].resource == "L-DB2E81BA" and found["CMP002"].resource == "eu-south-1a"
    assert found["CMP003"].resource == "ami-0abcdef1234567890"
    # The near miss: the same task in a zone that offers the type, one node, with an image that exists.
    ok = plan_from_dict({"num_nodes": 1, "run": "x", "resources": {
        "region": "eu-south-1", "zone": "eu-south-1b", "instance_type": "g4dn.xlarge"}})
    assert [f for r in ("CMP001", "CMP002", "CMP003") for f in run(r, blockers(), ok)] == []


@pytest.mark.e2e
def test_installed_cli_gates_a_skypilot_task(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(TASK)
    res = run_cli("check", "--sandbox", "compute-blockers", "--plan", str(path), "--select", "CMP",
                  "--format", "json", "--stats")
    assert res.code == 1, res.stderr
    report = res.json()
    rules = {(f["rule"], f["resource"]) for f in report["findings"]}
    assert rules == {("CMP001", "L-DB2E81BA"), ("CMP002", "eu-south-1a"), ("CMP003", "ami-0abcdef1234567890")}
    # Without --dry-run-launch, CMP006 does not run and RunInstances is never called.
    assert report["summary"]["rules_run"] == 5
    assert "ec2:RunInstances" not in res.stderr
    # One call sequence per kind of data, whatever the plan.
    for op in ("ec2:DescribeInstanceTypes", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeImages",
               "service-quotas:ListServiceQuotas"):
        assert re.search(rf"{op}\s+1 calls", res.stderr), res.stderr
