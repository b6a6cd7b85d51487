"""Reading a Ray cluster YAML the way Ray 2.60 fills it in (pure, no cloud), and refusing what
Ray would refuse or preflight cannot check with one line naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from preflight.inventory.model import Inventory, SecurityGroup, Subnet
from preflight.launchers.ray import (
    GROUP_TEMPLATE,
    LEGACY_HEAD_TYPE,
    LEGACY_WORKER_TYPE,
    RayConfigError,
    ray_subnets,
    read_cluster,
)

AMI = "ami-0123456789abcdef0"


def doc(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "cluster_name": "c1",
        "provider": {"type": "aws", "region": "eu-south-1"},
        "available_node_types": {
            "head": {"resources": {}, "node_config": {"InstanceType": "m5.large", "ImageId": AMI}},
            "cpu": {"resources": {}, "min_workers": 1, "max_workers": 10,
                    "node_config": {"InstanceType": "c5.4xlarge", "ImageId": AMI,
                                    "InstanceMarketOptions": {"MarketType": "spot"}}},
            "gpu": {"resources": {}, "node_config": {
                "InstanceType": "g5.xlarge", "ImageId": AMI, "KeyName": "k",
                "IamInstanceProfile": {"Arn": "arn:aws:iam::1:instance-profile/p/ray"}}},
        },
        "head_node_type": "head",
        "max_workers": 6,
    }
    d.update(over)
    return d


def test_defaults_sizes_and_fields_as_ray_fills_them() -> None:
    c = read_cluster(doc())
    assert c.name == "c1" and c.region == "eu-south-1" and c.head_node_type == "head"
    t = {x.name: x for x in c.node_types}
    # fill_node_type_min_max_workers: head type 0, others default to the global max_workers
    assert (t["head"].max_workers, t["cpu"].max_workers, t["gpu"].max_workers) == (0, 10, 6)
    assert t["cpu"].spot and not t["gpu"].spot
    assert t["gpu"].instance_profile == "ray" and t["gpu"].key_name == "k"
    # at its maximum size: the head, each type up to min(its max, global max), 6 workers in all
    assert [(x.name, n) for x, n in c.max_nodes()] == [("head", 1), ("cpu", 6), ("gpu", 6)]
    assert c.max_worker_count == 6
    assert c.group_name == GROUP_TEMPLATE.format("c1") == "ray-autoscaler-c1"


def test_omitted_keys_take_rays_defaults_yaml() -> None:
    c = read_cluster({"provider": {"type": "aws", "region": "us-west-2"}})
    assert c.name == "default" and c.max_workers == 2 and c.head_node_type == "ray.head.default"
    assert [(t.name, t.instance_type, t.spot, t.max_workers) for t in c.node_types] == [
        ("ray.head.default", "m5.large", False, 0), ("ray.worker.default", "m5.large", True, 2)]
    assert c.availability_zone is None  # the user's provider replaces the default one whole


def test_legacy_head_and_worker_nodes_become_two_types() -> None:
    c = read_cluster({"cluster_name": "old", "provider": {"type": "aws", "region": "eu-south-1"},
                      "head_node": {"InstanceType": "m5.large", "ImageId": AMI},
                      "worker_nodes": {"InstanceType": "c5.xlarge", "ImageId": AMI, "SubnetIds": ["subnet-1"]},
                      "min_workers": 1, "max_workers": 5})
    assert c.legacy and c.head_node_type == LEGACY_HEAD_TYPE
    t = {x.name: x for x in c.node_types}
    assert (t[LEGACY_HEAD_TYPE].max_workers, t[LEGACY_WORKER_TYPE].min_workers, t[LEGACY_WORKER_TYPE].max_workers) \
        == (0, 1, 5)
    assert t[LEGACY_WORKER_TYPE].subnet_ids == ("subnet-1",)


def test_provider_options_and_group() -> None:
    c = read_cluster(doc(provider={"type": "aws", "region": "eu-south-1", "use_internal_ips": True,
                                   "availability_zone": "eu-south-1b, eu-south-1a",
                                   "security_group": {"GroupName": "mine", "IpPermissions": [
                                       {"IpProtocol": "tcp", "FromPort": 8265, "ToPort": 8265,
                                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                                       {"IpProtocol": "-1", "FromPort": -1, "ToPort": -1}]}}))
    assert c.use_internal_ips and c.zones == ("eu-south-1b", "eu-south-1a") and c.group_name == "mine"
    assert c.group_ports == (8265,)


def test_network_interfaces_give_subnets_and_groups() -> None:
    d = doc()
    d["available_node_types"]["head"]["node_config"]["NetworkInterfaces"] = [
        {"DeviceIndex": 0, "SubnetId": "subnet-a", "Groups": ["sg-1"]}]
    head = read_cluster(d).head
    assert head.subnet_ids == ("subnet-a",) and head.security_group_ids == ("sg-1",)


@pytest.mark.parametrize("change,field", [
    (lambda d: d["provider"].update(type="gcp"), "provider.type"),
    (lambda d: d.pop("provider"), "provider"),
    (lambda d: d["provider"].pop("region"), "provider.region"),
    (lambda d: d.update(head_node_type="nope"), "head_node_type"),
    (lambda d: d.update(max_workers="many"), "max_workers"),
    (lambda d: d.update(max_workers=0), "max_workers"),  # min_workers sum 1 > 0: Ray refuses
    (lambda d: d.update(auth_typo=1), "auth_typo"),
    (lambda d: d["available_node_types"]["cpu"]["node_config"].update(SubnetIds="subnet-1"),
     "available_node_types.cpu.node_config.SubnetIds"),
    (lambda d: d["available_node_types"]["cpu"]["node_config"].update(SecurityGroupIds=["default"]),
     "available_node_types.cpu.node_config.SecurityGroupIds"),
    (lambda d: d["available_node_types"]["gpu"]["node_config"].update(IamInstanceProfile={"Id": "x"}),
     "available_node_types.gpu.node_config.IamInstanceProfile"),
    (lambda d: d["available_node_types"]["gpu"]["node_config"].pop("ImageId"),
     "available_node_types.gpu.node_config.ImageId"),
    (lambda d: d["available_node_types"]["head"].update(node_config=[1]), "available_node_types.head.node_config"),
    (lambda d: d["provider"].update(use_internal_ips="yes"), "provider.use_internal_ips"),
    (lambda d: d.update(auth={"ssh_user": "ubuntu", "ssh_private_key": "~/.ssh/k.pem"}),
     "available_node_types.head.node_config.KeyName"),
    (lambda d: d.update(auth=["ubuntu"]), "auth"),
])
def test_bad_fields_name_the_field(change: Any, field: str) -> None:
    d = copy.deepcopy(doc())
    change(d)
    with pytest.raises(RayConfigError) as err:
        read_cluster(d)
    assert str(err.value).startswith(f"{field}: ") and "\n" not in str(err.value)


def test_missing_image_is_fine_where_ray_has_a_default_ami() -> None:
    d = doc(provider={"type": "aws", "region": "us-east-1"})
    d["available_node_types"]["gpu"]["node_config"].pop("ImageId")
    assert read_cluster(d).head.image == AMI


# --- the selection itself, on hand-made inventories (tests/launchers/test_ray_agreement.py checks it
# against Ray's own code under moto) --------------------------------------------------------------

def sub(sid: str, vpc: str, zone: str, public: bool = True) -> Subnet:
    return Subnet(id=sid, vpc_id=vpc, availability_zone=f"eu-south-1{zone}", map_public_ip_on_launch=public)


def test_zones_z_to_a_stable_then_only_the_first_vpc() -> None:
    inv = Inventory(region="eu-south-1", subnets=(sub("s1", "v1", "a"), sub("s2", "v2", "c"), sub("s3", "v1", "c"),
                                                 sub("s4", "v2", "a"), sub("s5", "v2", "b", public=False)))
    sel = ray_subnets(inv, read_cluster(doc()))
    assert sel.ok and {t.subnets for t in sel.types} == {("s2", "s4")} and sel.vpc("head") == "v2"
    assert sel.rejected == {"s5": "does not map public IPs on launch and provider.use_internal_ips is not true"}


def test_security_group_vpc_narrows_and_zone_filter_orders() -> None:
    d = doc(provider={"type": "aws", "region": "eu-south-1", "availability_zone": "eu-south-1a,eu-south-1c"})
    d["available_node_types"]["cpu"]["node_config"]["SecurityGroupIds"] = ["sg-1"]
    inv = Inventory(region="eu-south-1", subnets=(sub("s1", "v1", "a"), sub("s2", "v2", "c"), sub("s3", "v1", "c")),
                    security_groups=(SecurityGroup(id="sg-1", vpc_id="v1"),))
    sel = ray_subnets(inv, read_cluster(d))
    assert {t.subnets for t in sel.types} == {("s1", "s3")}


def test_no_usable_subnet_is_rays_error_with_the_reason() -> None:
    inv = Inventory(region="eu-south-1", subnets=(sub("s1", "v1", "a", public=False),))
    sel = ray_subnets(inv, read_cluster(doc()))
    assert sel.error.startswith("No usable subnets found for node type head")  # head first: dict order
    assert "s1 does not map public IPs on launch" in sel.why
