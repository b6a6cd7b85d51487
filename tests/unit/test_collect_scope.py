"""A plan that pins a VPC (or subnets) reads only that VPC's resources plus the account-wide facts
the rules judge it by, and finds exactly what the account-wide read finds for the plan's resources."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from preflight import engine
from preflight.collect import aws
from preflight.plan import Plan

REGION = "eu-south-1"


def seed(ec2: Any) -> dict[str, str]:
    """VPC a (the plan's) and VPC b, each with a public subnet lacking a default route (NET002) and a
    group with a duplicate rule (SG001); a's group references b's group (SG006: not peered); a's
    table routes to b's internet gateway (NET003); a detached gateway is used by b's routes only."""
    ids: dict[str, str] = {}
    for name, octet in (("a", 20), ("b", 30)):
        vpc = ids[f"vpc_{name}"] = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
        sub = ids[f"subnet_{name}"] = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.1.0/24")["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=sub, MapPublicIpOnLaunch={"Value": True})
        igw = ids[f"igw_{name}"] = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ids[f"rtb_{name}"] = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=ids[f"rtb_{name}"], SubnetId=sub)
        g = ec2.create_security_group(GroupName=f"app-{name}", Description="d", VpcId=vpc)["GroupId"]
        ids[f"sg_{name}"] = g
        for cidr in ("10.9.0.0/16", "10.9.1.1/16"):  # the same peer written twice
            ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": cidr}]}])
    ec2.authorize_security_group_ingress(GroupId=ids["sg_a"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": ids["sg_b"]}]}])
    ec2.create_route(RouteTableId=ids["rtb_a"], DestinationCidrBlock="203.0.113.0/24", GatewayId=ids["igw_b"])
    loose = ids["igw_loose"] = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.create_route(RouteTableId=ids["rtb_b"], DestinationCidrBlock="198.51.100.0/24", GatewayId=loose)
    return ids


def check(session: aws.AwsSession, plan: Plan) -> tuple[Any, list[dict[str, Any]]]:
    inv = aws.collect(session, REGION, plan=plan)
    report = engine.run([inv], engine.select_rules(engine.load_rules()), plan)
    return inv, [f.to_dict() for f in report.findings]


def test_plan_scoped_read_finds_what_the_account_wide_read_finds_for_the_plan():
    with mock_aws():
        ids = seed(boto3.client("ec2", region_name=REGION))
        for plan in (Plan(region=REGION, vpc=ids["vpc_a"]), Plan(region=REGION, subnets=(ids["subnet_a"],))):
            whole_session, scoped_session = aws.AwsSession(region=REGION), aws.AwsSession(region=REGION)
            everything = aws.collect(whole_session, REGION)  # no plan: the whole account
            report = engine.run([everything], engine.select_rules(engine.load_rules()), plan)
            unscoped = [f.to_dict() for f in report.findings]
            inv, scoped = check(scoped_session, plan)

            # Read: a's resources only, plus every VPC and gateway, and b's group that a references.
            assert {s.id for s in inv.subnets} == {ids["subnet_a"]}
            assert {t.vpc_id for t in inv.route_tables} == {ids["vpc_a"]}
            assert {g.id for g in inv.security_groups if g.vpc_id == ids["vpc_b"]} == {ids["sg_b"]}
            assert not [g for g in inv.security_groups if g.id == ids["sg_b"]][0].rules
            assert {v.id for v in inv.vpcs} == {v.id for v in everything.vpcs}
            assert {g.id for g in inv.internet_gateways} == {g.id for g in everything.internet_gateways}
            assert inv.extra["scope"]["vpcs"] == [ids["vpc_a"]]

            # Nothing the account-wide check would not say, and everything it says about a's resources.
            assert all(f in unscoped for f in scoped), [f for f in scoped if f not in unscoped]
            mine = {ids["vpc_a"], ids["subnet_a"], ids["rtb_a"], ids["sg_a"], ids["igw_a"], ids["igw_b"],
                    ids["igw_loose"], REGION}
            wanted = [f for f in unscoped if f["resource"] in mine]
            assert wanted == [f for f in scoped if f["resource"] in mine]
            got = {(f["rule"], f["resource"]) for f in scoped}
            assert {("NET002", ids["subnet_a"]), ("SG001", ids["sg_a"]), ("SG006", ids["sg_a"]),
                    ("NET003", ids["igw_b"]), ("NET003", ids["igw_loose"])} <= got
            assert ("SG001", ids["sg_b"]) not in got and ("NET002", ids["subnet_b"]) not in got
            # The detached gateway is judged by b's route to it, as the account-wide read does.
            loose = [f for f in scoped if f["resource"] == ids["igw_loose"]][0]
            assert ids["rtb_b"] in loose["message"]
            assert scoped_session.stats.calls.get("ec2:DescribeSecurityGroupRules", 0) >= 1


def test_a_plan_vpc_that_is_not_in_the_region_reads_the_region_whole():
    with mock_aws():
        ids = seed(boto3.client("ec2", region_name=REGION))
        session = aws.AwsSession(region=REGION)
        inv = aws.collect(session, REGION, plan=Plan(vpc="vpc-0123456789abcdef0"))  # e.g. a plan for another region
        assert {ids["subnet_a"], ids["subnet_b"]} <= {s.id for s in inv.subnets}
        assert "scope" not in inv.extra
        assert {r.group_id for g in inv.security_groups for r in g.rules} >= {ids["sg_a"], ids["sg_b"]}
