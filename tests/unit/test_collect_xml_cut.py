"""The collector cuts from each Describe answer the XML elements its parsers never read, before
botocore parses it (`aws.drop_pattern`). The inventory must not notice: built from moto answers
with and without the cut, it is the same, over seeded account shapes."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from msgspec.structs import replace

from preflight.collect import aws
from preflight.inventory import model as m
from tests.unit.test_collect_pages import _emits_before_parse

REGION = "eu-south-1"
IMAGE = "ami-12c6146b"  # one of moto's built-in images


@pytest.fixture(scope="module")
def account() -> Iterator[dict[str, Any]]:
    """One moto account for the module: each example adds a VPC of its own."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        profile = iam.create_instance_profile(InstanceProfileName="web")["InstanceProfile"]["Arn"]
        yield {"ec2": ec2, "profile": profile, "n": 0}


def _collect(cut: bool) -> m.Inventory:
    with pytest.MonkeyPatch.context() as mp:
        if not cut:
            for name, fetcher in aws.FETCHERS.items():
                mp.setitem(aws.FETCHERS, name, dataclasses.replace(fetcher, keep=frozenset()))
        inv = aws.collect(aws.AwsSession(region=REGION), REGION)
    return replace(inv, collected_at="")


tags = st.dictionaries(st.sampled_from(["Name", "team", "env"]), st.sampled_from(["", "a", "web 1"]), max_size=2)
instance = st.fixed_dictionaries({
    "public": st.booleans(), "key": st.booleans(), "profile": st.booleans(), "spot": st.booleans(),
    "stopped": st.booleans(), "tags": tags, "second_eni": st.booleans(), "eip": st.booleans(),
})
rule = st.fixed_dictionaries({
    "kind": st.sampled_from(["cidr4", "cidr6", "group", "all"]), "port": st.integers(1, 65535),
    "description": st.sampled_from(["", "ssh from office"]),
})
shape = st.fixed_dictionaries({
    "ipv6": st.booleans(), "map_public": st.booleans(), "subnet_tags": tags,
    "instances": st.lists(instance, max_size=3), "rules": st.lists(rule, max_size=4),
})


def _seed(account: dict[str, Any], spec: dict[str, Any]) -> None:
    ec2, n = account["ec2"], account["n"]
    account["n"] += 1
    vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16", AmazonProvidedIpv6CidrBlock=spec["ipv6"])["Vpc"]
    v6 = [a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet") or []]
    extra = {"Ipv6CidrBlock": v6[0].replace("/56", "/64")} if v6 else {}
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock=f"10.{n}.1.0/24", **extra)["Subnet"]["SubnetId"]
    if spec["map_public"]:
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    if spec["subnet_tags"]:
        ec2.create_tags(Resources=[subnet], Tags=[{"Key": k, "Value": v} for k, v in spec["subnet_tags"].items()])
    group = ec2.create_security_group(GroupName=f"g{n}", Description="d", VpcId=vpc["VpcId"])["GroupId"]
    for r in spec["rules"]:
        perm: dict[str, Any] = {"IpProtocol": "-1"} if r["kind"] == "all" else {
            "IpProtocol": "tcp", "FromPort": r["port"], "ToPort": r["port"]}
        peer = {"Description": r["description"]} if r["description"] else {}
        if r["kind"] == "cidr6":
            perm["Ipv6Ranges"] = [{"CidrIpv6": "2001:db8::/32", **peer}]
        elif r["kind"] == "group":
            perm["UserIdGroupPairs"] = [{"GroupId": group, **peer}]
        else:
            perm["IpRanges"] = [{"CidrIp": f"192.0.2.{r['port'] % 250}/32", **peer}]
        try:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[perm])
        except ec2.exceptions.ClientError:
            pass  # the same rule twice: moto says Duplicate, as EC2 does
    for i in spec["instances"]:
        params: dict[str, Any] = {"ImageId": IMAGE, "MinCount": 1, "MaxCount": 1}
        if i["public"]:
            params["NetworkInterfaces"] = [{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
                                            "AssociatePublicIpAddress": True}]
        else:
            params.update(SubnetId=subnet, SecurityGroupIds=[group])
        if i["key"]:
            params["KeyName"] = "deploy"
        if i["profile"]:
            params["IamInstanceProfile"] = {"Arn": account["profile"]}
        if i["spot"]:
            params["InstanceMarketOptions"] = {"MarketType": "spot"}
        if i["tags"]:
            params["TagSpecifications"] = [{"ResourceType": "instance",
                                            "Tags": [{"Key": k, "Value": v} for k, v in i["tags"].items()]}]
        iid = ec2.run_instances(**params)["Instances"][0]["InstanceId"]
        if i["second_eni"]:
            eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]
            ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=iid, DeviceIndex=1)
            if i["eip"]:
                eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
                ec2.associate_address(AllocationId=eip, NetworkInterfaceId=eni["NetworkInterfaceId"])
        if i["stopped"]:
            ec2.stop_instances(InstanceIds=[iid])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=shape)
def test_the_inventory_is_the_same_with_and_without_the_xml_cut(account, spec):
    """(Slow: two collections of a growing moto account per example; the everyday suite checks
    one rich shape in the test below.)"""
    _seed(account, spec)
    cut, whole = _collect(cut=True), _collect(cut=False)
    assert cut == whole
    if spec["instances"]:  # the shapes reach what the cut parsers read
        assert cut.instances and cut.network_interfaces


def test_the_cut_reaches_botocore_only_for_the_collectors_reads(account):
    """Where botocore has the before-parse event, the collector's answers lose the elements no
    parser reads (block devices, private address sets...); a fixer's read through the same client
    still gets them. Older botocore (1.34.0, the lowest bound) parses them whole: same inventory."""
    _seed(account, {"ipv6": True, "map_public": True, "subnet_tags": {"Name": "public"},
                    "rules": [{"kind": k, "port": 22, "description": "ssh"} for k in ("cidr4", "cidr6", "group")],
                    "instances": [{"public": True, "key": True, "profile": True, "spot": True, "stopped": False,
                                   "tags": {"Name": "web"}, "second_eni": True, "eip": True},
                                  {"public": False, "key": False, "profile": False, "spot": False, "stopped": True,
                                   "tags": {}, "second_eni": False, "eip": False}]})
    session = aws.AwsSession(region=REGION)
    client = session.client("ec2", REGION)
    parsed: list[Any] = []
    client.meta.events.register("after-call.ec2.DescribeInstances", lambda **kw: parsed.append(kw["parsed"]))
    inv = aws.collect(session, REGION)
    whole = client.describe_instances()
    collected = [i for r in parsed[0]["Reservations"] for i in r["Instances"]]
    fixers = [i for r in whole["Reservations"] for i in r["Instances"]]
    assert all("BlockDeviceMappings" in i and "LaunchTime" in i for i in fixers)
    cut = not any("BlockDeviceMappings" in i or "LaunchTime" in i for i in collected)
    assert cut is _emits_before_parse()
    web = next(i for i in inv.instances if i.tags.get("Name") == "web")
    assert web.public_ip and web.key_name == "deploy" and len(web.network_interface_ids) == 2
    assert replace(inv, collected_at="") == _collect(cut=False)


def test_elements_a_parser_reads_or_that_nest_in_themselves_are_never_cut():
    """`keep` names (and the list items holding them) stay; a name that can hold an element of
    its own name is not cut either, since a non-greedy match would end at the inner end tag."""
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    model = client.meta.service_model
    for name, fetcher in aws.FETCHERS.items():
        shape = model.operation_model(client.meta.method_to_api_mapping[fetcher.operation]).output_shape
        pattern = aws.drop_pattern(client, fetcher.operation, fetcher.keep)
        if not fetcher.keep:  # parsed whole
            assert pattern is None, name
            continue
        unread = aws.unread_elements(shape, fetcher.keep)
        assert pattern is not None and unread and not unread & fetcher.keep, name
        assert "item" not in unread and "nextToken" not in unread, name
    cut = aws.drop_pattern(client, "describe_instances", aws.FETCHERS["instances"].keep)
    assert cut is not None
    xml = (b'<R><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><blockDeviceMapping>'
           b'<item><ebs><status>attached</status></ebs></item></blockDeviceMapping><reason/><reason />'
           b'<reason a="/">x</reason><networkInterfaceSet><item><attachment><status>a</status></attachment>'
           b'<networkInterfaceId>eni-1</networkInterfaceId></item></networkInterfaceSet></item></instancesSet>'
           b'</item></reservationSet></R>')
    out = cut.sub(b"", xml)
    ET.fromstring(out)  # still well formed
    assert out == (b'<R><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><networkInterfaceSet>'
                   b'<item><networkInterfaceId>eni-1</networkInterfaceId></item></networkInterfaceSet></item>'
                   b'</instancesSet></item></reservationSet></R>')


@given(names=st.sets(st.text("abcdeSs", min_size=1, max_size=6), min_size=1, max_size=12),
       probe=st.text("abcdeSs", min_size=1, max_size=7))
def test_the_prefix_tree_matches_exactly_its_names(names, probe):
    pattern = re.compile(rb"(?:" + aws._prefix_tree(names) + rb")\Z")
    for name in names:
        assert pattern.match(name.encode())
    assert bool(pattern.match(probe.encode())) is (probe in names)
