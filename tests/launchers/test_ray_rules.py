"""The rules judge the launch Ray will really run: its subnets (NET001/NET002), its group (SG010),
its cluster at maximum size (CMP001), read from a Ray cluster YAML (plan detection, bad input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from preflight.launchers.ray import PROFILE, plan_from_cluster
from preflight.plan import PlanError, load_plan
from tests.rules.cmp_support import inv, vm
from tests.rules.cmp_support import run as run_cmp
from tests.rules.conftest import run_rules

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ray" / "cluster.yaml"
AMI = "ami-0123456789abcdef0"


def cluster(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    d.update(over)
    return d


def test_the_example_is_detected_and_read_in_full() -> None:
    plan = load_plan(EXAMPLE)
    assert (plan.launcher, plan.region, plan.cluster, plan.instance_type) == ("ray", "eu-south-1", "demo", "m5.large")
    assert plan.security_group == "" and PROFILE.group_name(plan) == "ray-autoscaler-demo" and plan.ports == (22,)
    assert plan.count == 5  # the head + max_workers 4
    assert [(g.instance_type, g.count, g.fixed) for g in plan.nodes] == [("m5.large", 1, 1), ("m5.xlarge", 4, 0)]


# --- NET001 in Ray's words ---------------------------------------------------------------------

def test_incident_ray_stops_with_its_own_error_and_the_reason() -> None:
    plan = load_plan(EXAMPLE)
    found = run_rules("no-default-route", plan=plan, select=["NET001"])
    [f] = found.only("NET001")
    assert f.status == "FAIL" and f.details.get("blocks_launch") is True
    assert f.message.startswith("Ray will stop with 'No usable subnets found for node type ray.head.default")
    assert found.ids["app-subnet"] in f.message and "does not map public IPs on launch" in f.message
    assert any("modify-subnet-attribute" in c for c in f.fix.commands)


def test_ray_picks_an_unreachable_subnet_where_the_generic_check_is_silent() -> None:
    found = run_rules("ray-unreachable-zone", plan=load_plan(EXAMPLE), select=["NET001", "NET002"])
    [f] = found.only("NET001")
    unrouted = found.ids["ml-public-c"]
    assert f.message.startswith(f"Ray will pick subnet {unrouted} (eu-south-1c) and its instances will be unreachable")
    assert "has no 0.0.0.0/0 route" in f.message and "stricter than Ray" in f.message
    assert f.resource == found.ids["ml-vpc"]
    # near miss: the same account without a launcher: a routed public subnet exists, so no NET001
    assert run_rules("ray-unreachable-zone", select=["NET001"]).only("NET001") == []


def test_zone_filter_steers_ray_to_the_routed_subnet() -> None:
    doc = cluster(provider={"type": "aws", "region": "eu-south-1", "availability_zone": "eu-south-1a"})
    found = run_rules("ray-unreachable-zone", plan=plan_from_cluster(doc, "cluster.yaml"), select=["NET001"])
    assert found.only("NET001") == []


def test_internal_ips_want_no_public_subnet() -> None:
    doc = cluster(provider={"type": "aws", "region": "eu-south-1", "use_internal_ips": True})
    assert run_rules("no-default-route", plan=plan_from_cluster(doc, "c.yaml"), select=["NET001"]) == []


def test_healthy_account_is_clean_for_ray() -> None:
    assert run_rules("healthy", plan=load_plan(EXAMPLE), select=["NET001", "NET002", "SG010"]) == []


# --- SG010: Ray's own group --------------------------------------------------------------------

def _seed_group(ingress: list[dict[str, Any]] | None) -> Any:
    def seed(s: Any) -> None:
        s.aws_like_default_vpc()
        vpc = s.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        s.security_group(vpc, "ray-autoscaler-demo", ingress)
    return seed


def test_ray_fills_its_own_group_only_while_it_has_no_ingress_rule() -> None:
    plan = load_plan(EXAMPLE)
    # missing or empty group: Ray creates/fills it with tcp 22 -> nothing missing
    assert run_rules("healthy", plan=plan, select=["SG010"]) == []
    assert run_rules(_seed_group(None), plan=plan, select=["SG010"]) == []
    # a group with some other rule: Ray leaves it alone, so 22 stays closed
    https = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    found = run_rules(_seed_group(https), plan=plan, select=["SG010"])
    [f] = found.only("SG010")
    assert f.resource == found.ids["ray-autoscaler-demo"] and f.details["missing"] == [22]
    assert "only to a security group with no ingress rule at all" in f.message and "cannot SSH" in f.message
    assert "--group-id " + found.ids["ray-autoscaler-demo"] in f.fix.commands[0]
    # near miss: that group already opens 22
    ssh = [{**https[0], "FromPort": 22, "ToPort": 22}]
    assert run_rules(_seed_group(ssh), plan=plan, select=["SG010"]) == []


# --- CMP001 at the cluster's maximum size ------------------------------------------------------

TYPES = {"instance_type": "m5.large", "family": "standard",
         "types": {"m5.large": {"vcpus": 2, "architectures": ["x86_64"]},
                   "m5.xlarge": {"vcpus": 4, "architectures": ["x86_64"]}}}


def quota(value: float) -> dict[str, Any]:
    return {"quotas": {"L-1216C47A": {"name": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                                      "value": value}}}


def test_cmp001_counts_the_head_plus_max_workers() -> None:
    plan = load_plan(EXAMPLE)  # 1 × m5.large + 4 × m5.xlarge = 2 + 16 = 18 vCPUs
    [f] = run_cmp("CMP001", inv(vm("i-0run", "m5.large"), instance_types=TYPES, quotas=quota(19)), plan)
    assert f.resource == "L-1216C47A"
    assert "the cluster at its maximum size (1 × m5.large + 4 × m5.xlarge) needs 18 vCPUs" in f.message
    assert "2 + 18 = 20 > 19" in f.message and "lower max_workers" in f.message
    assert run_cmp("CMP001", inv(vm("i-0run", "m5.large"), instance_types=TYPES, quotas=quota(20)), plan) == []


def test_cmp001_global_max_workers_caps_the_worker_types() -> None:
    doc = cluster(max_workers=2)  # the worker type says 4, the global cap 2
    plan = plan_from_cluster(doc, "c.yaml")
    [f] = run_cmp("CMP001", inv(instance_types=TYPES, quotas=quota(9)), plan)
    assert "(1 × m5.large + 2 × m5.xlarge) needs 10 vCPUs" in f.message


# --- bad input: one line naming the file and the field -----------------------------------------

@pytest.mark.parametrize("text,needle", [
    ("cluster_name: x\nprovider: {type: gcp, region: us-central1, project_id: p}\n",
     "provider.type: 'gcp': preflight checks Ray clusters on AWS only"),
    ("cluster_name: x\nprovider: {type: aws, region: eu-south-1}\navailable_node_types:\n"
     "  h: {resources: {}, node_config: {InstanceType: m5.large, ImageId: ami-1, SubnetIds: subnet-1}}\n"
     "head_node_type: h\n", "available_node_types.h.node_config.SubnetIds: expected a non-empty list"),
    ("cluster_name: x\nprovider: {type: aws, region: eu-south-1}\navailable_node_types:\n"
     "  h: {resources: {}, node_config: {InstanceType: m5.large}}\nhead_node_type: h\n",
     "available_node_types.h.node_config.ImageId: missing, and Ray 2.60.0 has no default AMI for eu-south-1"),
])
def test_bad_ray_yaml_is_one_line_naming_file_and_field(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "cluster.yaml"
    p.write_text(text)
    with pytest.raises(PlanError) as err:
        load_plan(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}: ") and needle in msg and "\n" not in msg
