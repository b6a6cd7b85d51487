"""Scenarios where the launcher profile changes the verdict (the plan names the launcher).

The same account can be fine for one launcher and a dead end for another: SkyPilot without
`aws.vpc_name` only uses the default VPC, and asks EC2 for a public IP itself.
"""

from __future__ import annotations

from preflight.collect.sandbox import Seeder, scenario


@scenario(
    "skypilot-no-default-vpc",
    "The default VPC was deleted; a healthy custom VPC (app-vpc) remains. Fine for preflight's own launch "
    "(NET006 is informational), but SkyPilot without aws.vpc_name only uses the default VPC: blocking",
    expect=("NET006",),
    plan={"launcher": "skypilot"},
)
def skypilot_no_default_vpc(s: Seeder) -> None:
    s.delete_default_vpc()
    s.public_vpc(name="app")


@scenario(
    "skypilot-public-ip-by-launcher",
    "The default VPC routes to its internet gateway but its subnets do not map public IPs on launch. "
    "preflight's own launch would get no public address (NET001, NET005); SkyPilot asks for one itself: clean",
    plan={"launcher": "skypilot"},
)
def skypilot_public_ip_by_launcher(s: Seeder) -> None:
    s.aws_like_default_vpc()
    default = s.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for sub in s.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default]}])["Subnets"]:
        s.ec2.modify_subnet_attribute(SubnetId=sub["SubnetId"], MapPublicIpOnLaunch={"Value": False})
