"""Call economy: one paginated Describe sequence per resource type per region. The API calls a
check makes for a seeded account must not grow with the number of subnets or security groups
(peers that call once per subnet or per interface take minutes on large accounts)."""

from __future__ import annotations

from preflight.runner import Target, open_target, run_check

REGION = "eu-south-1"


def seed(server, n: int) -> None:
    ec2 = server.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    for i in range(n):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24",
                                   AvailabilityZone=f"{REGION}{'abc'[i % 3]}")["Subnet"]["SubnetId"]
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        gid = ec2.create_security_group(GroupName=f"g{i}", Description="d", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000 + i, "ToPort": 8000 + i, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.create_network_interface(SubnetId=subnet, Groups=[gid])


def calls_for(server, n: int) -> dict[str, tuple[dict[str, int], ...]]:
    """Seed `n` of everything, then check it with the NET and SG rules, and with every rule
    (their extra collectors too: IAM, compute...)."""
    server.reset()
    seed(server, n)
    out = {}
    for name, select in (("net_sg", ["NET", "SG"]), ("all", [])):
        with open_target(Target(regions=[REGION], endpoint_url=server.url)) as source:
            report = run_check(source, None, select, [])
        out[name] = (report.stats["api_calls"], report.stats["api_pages"], report.stats["resources"])
    return out


def test_call_count_does_not_grow_with_subnets_or_groups(moto_server):
    small = calls_for(moto_server, 2)
    large = calls_for(moto_server, 20)
    small_calls, small_pages, small_res = small["net_sg"]
    large_calls, large_pages, large_res = large["net_sg"]
    # the larger account really is larger...
    assert large_res["subnets"] - small_res["subnets"] == 18
    assert large_res["security_groups"] - small_res["security_groups"] == 18
    assert large_res["network_interfaces"] - small_res["network_interfaces"] == 18
    # ...and costs exactly the same calls: one per resource type, one identity lookup
    assert large_calls == small_calls
    assert large_pages == small_pages
    assert small_calls["ec2:DescribeSubnets"] == 1
    assert small_calls["ec2:DescribeSecurityGroupRules"] == 1
    assert small_calls["sts:GetCallerIdentity"] == 1
    assert max(small_calls.values()) == 1, small_calls
    # every rule family together: more calls (extra collectors), still independent of the size
    assert large["all"][0] == small["all"][0]
