"""Issue 14's acceptance command for Ray, through the installed CLI:
`preflight check --sandbox --region eu-south-1 --plan examples/ray/cluster.yaml` reports NET001
in Ray's words; a Ray YAML for another provider is one line naming the file and field, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, run_in_process

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_incident_with_the_ray_example_reports_net001_in_rays_words() -> None:
    res = run_cli("check", "--sandbox", "--region", "eu-south-1", "--plan", "examples/ray/cluster.yaml",
                  "--format", "json", cwd=ROOT)
    assert res.code == 1, res.stderr
    [f] = [f for f in res.json()["findings"] if f["rule"] == "NET001"]
    assert f["status"] == "FAIL" and f["region"] == "eu-south-1"
    assert f["message"].startswith("Ray will stop with 'No usable subnets found for node type ray.head.default")
    assert "(app-subnet)" in f["message"] and "does not map public IPs on launch" in f["message"]
    assert any(c.startswith("aws ec2 modify-subnet-attribute --region eu-south-1") for c in f["fix"]["commands"])


def test_ray_yaml_for_another_provider_is_one_line_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "gcp-cluster.yaml"
    plan.write_text("cluster_name: x\nprovider:\n  type: gcp\n  region: us-central1\n  project_id: p\n")
    res = run_in_process("check", "--sandbox", "--plan", str(plan))
    assert res.code == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(plan) in lines[0] and "provider.type" in lines[0], res.stderr
