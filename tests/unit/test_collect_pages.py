"""Real-API page shapes: MaxResults where the API takes it, every NextToken followed.

moto returns everything in one response for most Describes, so a missed NextToken would go
unnoticed against it. `strict_pages` makes the in-process moto answer as EC2 does (at most
MaxResults items and a token for the rest), and the collector runs with pages of 5.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from preflight.collect import aws
from preflight.errors import PreflightError

REGION = "eu-south-1"


def strict_pages(client: Any, seen: dict[str, list[Any]]) -> None:
    """Page every Describe the collector uses like EC2 would, recording each call's MaxResults."""
    keys = {f.operation: f.result_key for f in aws.FETCHERS.values()}

    def params(params: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        context["pager"] = (params.get("MaxResults"), params.get("NextToken"))
        seen.setdefault(model.name, []).append(params.get("MaxResults"))

    def pages(parsed: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        op = client.meta.method_to_api_mapping
        key = next((keys[m] for m, api in op.items() if api == model.name and m in keys), None)
        size, token = context.get("pager", (None, None))
        if key is None or size is None or model.name == "DescribeInstances":  # moto pages instances itself
            return
        start = int(token.split(":")[1]) if token else 0
        items = parsed.get(key) or []
        parsed[key] = items[start:start + size]
        if start + size < len(items):
            parsed["NextToken"] = f"page:{start + size}"
        else:
            parsed.pop("NextToken", None)

    client.meta.events.register("provide-client-params.ec2", params)
    client.meta.events.register("after-call.ec2", pages)


def seed(ec2: Any, n: int = 7) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_egress_only_internet_gateway(VpcId=vpc)
    subnet = ""
    for i in range(n):
        ec2.create_vpc(CidrBlock=f"10.{i + 1}.0.0/16")
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        ec2.create_route_table(VpcId=vpc)
        ec2.create_internet_gateway()
        ec2.create_network_acl(VpcId=vpc)
        g = ec2.create_security_group(GroupName=f"g{i}", Description="d", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000 + j, "ToPort": 8000 + j, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}
            for j in range(2)])
    image = "ami-12c6146b"  # one of moto's built-in images
    for _ in range(n):
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)
    return vpc


def test_pages_of_five_read_every_item_and_follow_every_token():
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        seed(ec2)
        whole = aws.collect(aws.AwsSession(region=REGION), REGION)
        session = aws.AwsSession(region=REGION, page_size=5)
        seen: dict[str, list[Any]] = {}
        strict_pages(session.client("ec2", REGION), seen)
        paged = aws.collect(session, REGION)
    for name in ("vpcs", "subnets", "route_tables", "internet_gateways", "network_acls", "security_groups",
                 "instances", "network_interfaces"):
        got, want = getattr(paged, name), getattr(whole, name)
        assert len(want) > 5, name  # more than one page each
        assert sorted(x.id for x in got) == sorted(x.id for x in want), name
    assert sorted(r.id for g in paged.security_groups for r in g.rules) == \
        sorted(r.id for g in whole.security_groups for r in g.rules)
    pages = session.stats.pages
    for op in ("ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
               "ec2:DescribeInstances", "ec2:DescribeVpcs"):
        assert pages[op] >= 2, (op, pages)
    # MaxResults on every call of every Describe whose API takes it, within the API's own range.
    for op, sizes in seen.items():
        assert sizes and all(s == 5 for s in sizes), (op, sizes)


def test_default_page_size_is_each_apis_documented_maximum():
    with mock_aws():
        session = aws.AwsSession(region=REGION)
        ec2 = session.client("ec2", REGION)
        seen: dict[str, list[Any]] = {}
        strict_pages(ec2, seen)
        aws.collect(session, REGION)
    assert seen["DescribeRouteTables"] == [100]  # 1000 would be InvalidParameterValue on EC2
    assert seen["DescribeEgressOnlyInternetGateways"] == [255]
    assert seen["DescribeInstances"] == [1000] and seen["DescribeSecurityGroupRules"] == [1000]
    assert aws.page_limit(ec2, "describe_subnets") == 1000


def test_a_token_that_repeats_is_an_error_not_an_endless_loop():
    with mock_aws():
        session = aws.AwsSession(region=REGION)
        ec2 = session.client("ec2", REGION)
        ec2.meta.events.register("after-call.ec2.DescribeVpcs",
                                 lambda parsed, **_: parsed.__setitem__("NextToken", "same"))
        with pytest.raises(PreflightError, match="DescribeVpcs|describe_vpcs"):
            aws.fetch_all(ec2, aws.FETCHERS["vpcs"])
