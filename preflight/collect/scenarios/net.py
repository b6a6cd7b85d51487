"""Network scenarios: the eu-south-1 incident, a healthy account, and one fault per NET rule.

Each scenario seeds moto with real boto3 calls. `expect` is exactly the set of NET rules it
triggers (with its `plan`); tests/rules/test_net_scenarios.py keeps that honest. Scenarios other
than the incident keep an AWS-like default VPC (moto's has no internet gateway or default route),
so that only the rule they are about fires.
"""

from __future__ import annotations

from preflight.collect.sandbox import Seeder, scenario


@scenario(
    "no-default-route",
    "The incident: default VPC deleted; a custom VPC with an attached internet gateway, but the subnet's "
    "route table has no 0.0.0.0/0 route and the subnet does not map public IPs",
    expect=("NET001", "NET006"),
)
def no_default_route(s: Seeder) -> None:
    s.delete_default_vpc()
    vpc = s.vpc("10.0.0.0/16", "app-vpc")
    s.igw(vpc, "app-igw")
    subnet = s.subnet(vpc, "10.0.1.0/24", name="app-subnet", public_ip=False)
    s.route_table(vpc, [subnet], name="app-rt")


@scenario(
    "healthy",
    "An AWS-like default VPC and a public VPC: attached gateway, default route, public IPs, open ACLs",
)
def healthy(s: Seeder) -> None:
    s.aws_like_default_vpc()
    s.public_vpc()


@scenario(
    "detached-igw",
    "A public subnet routes 0.0.0.0/0 to an internet gateway that was detached from its VPC",
    expect=("NET002", "NET003", "NET004"),
)
def detached_igw(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="web")
    s.ec2.detach_internet_gateway(InternetGatewayId=ids["igw"], VpcId=ids["vpc"])


@scenario(
    "blackhole-route",
    "A private subnet's default route points at a NAT gateway that was deleted",
    expect=("NET004",),
)
def blackhole_route(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    private = s.subnet(ids["vpc"], "10.0.2.0/24", name="app-private", public_ip=False)
    nat = s.nat(ids["subnet"], "app-nat")
    table = s.route_table(ids["vpc"], [private], name="app-private-rt")
    s.route(table, "0.0.0.0/0", NatGatewayId=nat)
    s.ec2.delete_nat_gateway(NatGatewayId=nat)


@scenario(
    "public-route-no-public-ip",
    "A subnet routes 0.0.0.0/0 to an attached internet gateway but does not map public IPs on launch",
    expect=("NET005",),
)
def public_route_no_public_ip(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    s.ec2.modify_subnet_attribute(SubnetId=ids["subnet"], MapPublicIpOnLaunch={"Value": False})


@scenario(
    "no-default-vpc",
    "The default VPC was deleted; a healthy custom public VPC remains",
    expect=("NET006",),
)
def no_default_vpc(s: Seeder) -> None:
    s.delete_default_vpc()
    s.public_vpc(name="app")


@scenario(
    "nacl-deny",
    "The public subnet's network ACL denies TCP 8000-8010 (rule 90) before allowing everything (rule 100)",
    expect=("NET007",),
    plan={"ports": [8000]},
)
def nacl_deny(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    everything = {"Protocol": "-1", "CidrBlock": "0.0.0.0/0", "RuleAction": "allow"}
    s.network_acl(ids["vpc"], [ids["subnet"]], name="app-acl", entries=[
        {"RuleNumber": 90, "Egress": False, "Protocol": "6", "CidrBlock": "0.0.0.0/0", "RuleAction": "deny",
         "PortRange": {"From": 8000, "To": 8010}},
        {"RuleNumber": 100, "Egress": False, **everything},
        {"RuleNumber": 100, "Egress": True, **everything},
    ])


@scenario(
    "main-table-shadowed",
    "The main route table has 0.0.0.0/0 -> igw, but the public subnet is explicitly associated with a "
    "table that has no default route",
    expect=("NET002",),
)
def main_table_shadowed(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.1.0.0/16", "app-vpc")
    igw = s.igw(vpc, "app-igw")
    s.route(s.main_route_table(vpc), "0.0.0.0/0", GatewayId=igw)
    subnet = s.subnet(vpc, "10.1.1.0/24", name="app-public", public_ip=True)
    s.route_table(vpc, [subnet], name="app-empty-rt")


@scenario(
    "ipv6-egress-only",
    "An IPv6 subnet whose only default route is ::/0 via an egress-only gateway (outbound only) and no IPv4 "
    "default route; the region has no default VPC",
    expect=("NET001", "NET006"),
)
def ipv6_egress_only(s: Seeder) -> None:
    s.delete_default_vpc()
    vpc = s.vpc("10.2.0.0/16", "v6-vpc", ipv6=True)
    v6 = s.ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    subnet = s.subnet(vpc, "10.2.1.0/24", name="v6-subnet", ipv6_cidr=v6.replace("/56", "/64"))
    s.ec2.modify_subnet_attribute(SubnetId=subnet, AssignIpv6AddressOnCreation={"Value": True})
    eigw = s.eigw(vpc, "v6-eigw")
    table = s.route_table(vpc, [subnet], name="v6-rt")
    s.route(table, "::/0", EgressOnlyInternetGatewayId=eigw)
