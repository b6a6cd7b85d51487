"""Reading SkyPilot task YAML and SkyPilot's config in full (no SkyPilot import needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.errors import PreflightError
from preflight.launchers.skypilot_task import aws_settings, load_config, plan_from_task
from preflight.plan import load_plan

NO_CONFIG: tuple[dict, tuple[str, ...]] = ({}, ())


def task(resources: dict, **top) -> list[dict]:
    return [{"name": "t", "run": "x", "resources": resources, **top}]


def variants(resources: dict, **top) -> list:
    plan = plan_from_task(task(resources, **top), "task.yaml", config=NO_CONFIG)
    return list(plan.alternatives) or [plan]


def test_infra_syntax_and_the_old_fields():
    (v,) = variants({"infra": "aws/eu-south-1/eu-south-1b", "instance_type": "t3.medium"})
    assert (v.cloud, v.region, v.zones, v.launcher, v.instance_type) == ("aws", "eu-south-1", ("eu-south-1b",),
                                                                         "skypilot", "t3.medium")
    (old,) = variants({"cloud": "AWS", "region": "eu-south-1", "zone": "eu-south-1a"})
    assert (old.cloud, old.region, old.zones) == ("aws", "eu-south-1", ("eu-south-1a",))
    (anyr,) = variants({"infra": "aws/*"})
    assert (anyr.cloud, anyr.region) == ("aws", "")
    (k8s,) = variants({"infra": "k8s/my-context"})
    assert (k8s.unchecked, k8s.cloud) == ("kubernetes", "kubernetes")  # never read as AWS
    (gcp,) = variants({"infra": "gcp/us-central1"})
    assert (gcp.cloud, gcp.region, gcp.unchecked) == ("gcp", "us-central1", "")


def test_any_of_and_ordered_are_alternatives_over_the_base():
    vs = variants({"accelerators": "A10G:1", "any_of": [{"infra": "aws/eu-south-1"}, {"infra": "aws/us-east-1"},
                                                         {"infra": "k8s"}]})
    assert [(v.region, v.accelerators, v.unchecked) for v in vs] == [
        ("eu-south-1", "A10G:1", ""), ("us-east-1", "A10G:1", ""), ("", "A10G:1", "kubernetes")]
    assert vs[0].alternative == "any_of[0]: aws/eu-south-1 A10G:1"
    ordered = variants({"ordered": [{"infra": "aws/eu-south-1", "instance_type": "g5.xlarge"},
                                    {"infra": "aws/eu-west-1", "instance_type": "g5.2xlarge"}]})
    assert [(v.region, v.instance_type) for v in ordered] == [("eu-south-1", "g5.xlarge"), ("eu-west-1", "g5.2xlarge")]


@pytest.mark.parametrize("spec, expected", [
    ("A10G", ["A10G:1"]), ("A10G:2", ["A10G:2"]), ({"A10G": 4}, ["A10G:4"]), (["A10G:1", "L4:1"], ["A10G:1", "L4:1"]),
    ("{A10G:1, L4:1}", ["A10G:1", "L4:1"]),
])
def test_accelerator_forms(spec, expected):
    assert [v.accelerators for v in variants({"infra": "aws/eu-south-1", "accelerators": spec})] == expected


def test_cpus_memory_image_map_ports_spot_and_nodes():
    (v,) = variants({"infra": "aws/eu-south-1", "cpus": "4+", "memory": 16, "image_id": {"eu-south-1": "ami-2"},
                     "ports": ["8000-8002", 9000], "use_spot": True}, num_nodes=3)
    assert (v.cpus, v.memory, v.image, v.ports, v.spot, v.count) == ("4+", "16", "ami-2", (8000, 8001, 8002, 9000),
                                                                     True, 3)
    (one,) = variants({"infra": "aws/eu-south-1", "ports": 8080, "image_id": "docker:ubuntu:22.04"})
    assert (one.ports, one.image) == ((8080,), "")


def test_multi_document_pipeline_checks_every_task(tmp_path: Path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("name: pipe\n---\nname: prep\nresources: {infra: aws/eu-south-1, cpus: 2}\nrun: x\n---\n"
                    "name: train\nresources: {infra: aws/eu-west-1, accelerators: A10G:1}\nrun: y\n")
    plan = load_plan(path)
    assert [(a.task, a.region) for a in plan.alternatives] == [("prep", "eu-south-1"), ("train", "eu-west-1")]


def test_config_precedence_like_skypilot(tmp_path: Path):
    user, project = tmp_path / "user.yaml", tmp_path / ".sky.yaml"
    user.write_text("aws:\n  vpc_name: user-vpc\n  use_internal_ips: true\n")
    project.write_text("aws:\n  vpc_name: project-vpc\n")
    cfg, used = load_config({"SKYPILOT_GLOBAL_CONFIG": str(user)}, cwd=tmp_path)
    assert cfg["aws"] == {"vpc_name": "project-vpc", "use_internal_ips": True}  # project over user, key by key
    assert used == (str(user), str(project))
    internal = tmp_path / "internal.yaml"
    internal.write_text("aws:\n  vpc_name: only-this\n")
    cfg, used = load_config({"SKYPILOT_CONFIG": str(internal), "SKYPILOT_GLOBAL_CONFIG": str(user)}, cwd=tmp_path)
    assert cfg == {"aws": {"vpc_name": "only-this"}} and used == (str(internal),)


def test_config_keys_and_the_cluster_name():
    s = aws_settings({"aws": {"vpc_names": ["a", "b"], "security_group_name": [{"prod-*": "prod-sg"},
                                                                               {"*": "dev-sg"}]}}, "prod-1")
    assert (s.vpc_names, s.security_group) == (("a", "b"), "prod-sg")
    assert aws_settings({"aws": {"security_group_name": [{"prod-*": "prod-sg"}, {"*": "dev-sg"}]}},
                        "test").security_group == "dev-sg"
    plan = plan_from_task(task({"infra": "aws/eu-south-1"}), "t.yaml", cluster="c1",
                          config=({"aws": {"vpc_names": ["a", "b"], "use_internal_ips": True}}, ()))
    assert [(a.vpc, a.use_internal_ips, a.cluster) for a in plan.alternatives] == [("a", True, "c1"),
                                                                                   ("b", True, "c1")]


@pytest.mark.parametrize("text, message", [
    ("just: a mapping\nof: keys\n", "just: unknown plan field"),
    ("- a\n- list\n", "expected a mapping at the top level"),
    ("name: a\nresources: {infra: aws/eu-south-1}\nrun: x\n---\nname: b\nresources: {accelerators: 'A10G:x'}\n"
     "run: y\n", "document 2: resources.accelerators: 'A10G:x': the count after ':' must be a number"),
    ("resources: {infra: 'aws//x'}\nrun: x\n", "resources.infra: 'aws//x' has an empty part"),
    ("resources: {any_of: [{infra: aws}], ordered: [{infra: aws}]}\nrun: x\n", "cannot have both any_of and ordered"),
    ("resources: {cpus: lots}\nrun: x\n", "resources.cpus: 'lots' is not a number like 4 or 4+"),
    ("resources: {infra: aws/eu-south-1, bogus: 1}\nrun: x\n", "resources.bogus: unknown SkyPilot resources field"),
])
def test_bad_input_is_one_line_naming_file_and_field(tmp_path: Path, text: str, message: str):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    with pytest.raises(PreflightError) as caught:
        load_plan(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_gcp_task_goes_to_the_gcp_checks_and_an_aws_one_to_the_variant_runner():
    from preflight.variants import needs_variants

    (gcp,) = variants({"infra": "gcp/us-central1", "accelerators": "L4:1"})
    assert gcp.cloud == "gcp" and not needs_variants(gcp)  # the CLI's --cloud resolution takes it to GCP
    (aws,) = variants({"infra": "aws/eu-south-1", "accelerators": "A10G:1"})
    assert needs_variants(aws)  # candidates come from DescribeInstanceTypes
