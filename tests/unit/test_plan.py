"""Plan input: preflight's launch.yaml, SkyPilot task YAML, flags overriding the file, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflight.plan import PlanError, load_plan, parse_ports, plan_from_dict, with_overrides


def test_ports_lists_ranges_and_strings():
    assert parse_ports("8000,8002,8004") == (8000, 8002, 8004)
    assert parse_ports([22, "8000-8002"]) == (22, 8000, 8001, 8002)
    assert parse_ports(443) == (443,)


@pytest.mark.parametrize("spec, problem", [
    ("70000", "port 70000 is out of range"),
    ("8004-8000", "range '8004-8000' is reversed"),
    ("abc", "'abc' is not a port"),
    ("0", "port 0 is out of range"),
])
def test_bad_ports_name_the_problem(spec, problem):
    with pytest.raises(PlanError, match=problem):
        parse_ports(spec, "--ports")


@given(st.sets(st.integers(1, 65535), min_size=1, max_size=30))
def test_ports_round_trip(ports):
    assert parse_ports(",".join(map(str, ports))) == tuple(sorted(ports))


def test_plan_file_and_overrides(tmp_path):
    f = tmp_path / "launch.yaml"
    f.write_text("cloud: aws\nregion: eu-south-1\nports: [8000]\nsubnets: [subnet-1]\npublic_ip: true\n")
    plan = load_plan(f)
    assert (plan.region, plan.ports, plan.subnets, plan.public_ip) == ("eu-south-1", (8000,), ("subnet-1",), True)
    over = with_overrides(plan, ports="8000,8002", security_group="sg-1")
    assert over.ports == (8000, 8002) and over.security_group == "sg-1" and over.region == "eu-south-1"
    assert over.has("security_group") and over.has("public_ip") and not over.has("vpc")


def test_skypilot_task_yaml_maps_onto_the_plan():
    plan = plan_from_dict({"name": "serve", "num_nodes": 4, "run": "python serve.py",
                           "resources": {"cloud": "aws", "region": "eu-south-1", "ports": [8000, "8080-8081"],
                                         "instance_type": "g5.xlarge", "use_spot": True}})
    assert (plan.cloud, plan.region, plan.count, plan.instance_type, plan.spot) == (
        "aws", "eu-south-1", 4, "g5.xlarge", True)
    assert plan.ports == (8000, 8080, 8081)


@pytest.mark.parametrize("text, problem", [
    ("region: [1, 2", "invalid YAML"),
    ("public_ip: maybe\n", "public_ip: expected true or false"),
    ("count: 0\n", "count: must be at least 1"),
    ("source_cidr: nowhere\n", "source_cidr: 'nowhere' is not a CIDR"),
    ("colour: blue\n", "colour: unknown plan field"),
    ("cloud: azure\n", "cloud: 'azure' is not supported"),
    ("replicas: {count: 2, port_range: []}\n", "replicas.port_range: empty"),
    ("- a\n- b\n", "expected a mapping"),
])
def test_invalid_plans_name_the_field(tmp_path, text, problem):
    f = tmp_path / "launch.yaml"
    f.write_text(text)
    with pytest.raises(PlanError, match=problem):
        load_plan(f)


def test_yaml_is_loaded_safely(tmp_path):
    f = tmp_path / "launch.yaml"
    f.write_text("region: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PlanError, match="invalid YAML"):
        load_plan(f)
