"""The sandbox: a moto-backed AWS account in process, seeded with a named scenario.

`preflight check --sandbox [SCENARIO]` needs no cloud account: moto serves the EC2/IAM/STS API
in this process, a scenario seeds it with real boto3 calls, and the ordinary collector reads it
back, so the sandbox exercises exactly the code path a real account does. `fix --apply` and
`launch` run inside the same sandbox, so their changes are visible to the re-check.

Scenarios are registered with `@scenario(...)` in modules of `preflight.collect.scenarios`; each
declares the rules it is expected to trigger (`expect`), which the test suite verifies.

moto quirks the seeder works around (seen with moto 5.2): the first subnet created in each zone,
in any VPC, gets DefaultForAz and MapPublicIpOnLaunch true, so the seeder always sets the
attribute explicitly; route state is always `active` (the collector's semantics derive it).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from preflight.errors import PreflightError

DEFAULT_SCENARIO = "no-default-route"
DEFAULT_REGION = "eu-south-1"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: Callable[[Seeder], None]
    expect: frozenset[str] = frozenset()  # rule ids it must trigger (with its `plan`)
    plan: dict[str, Any] = field(default_factory=dict)  # plan fields the scenario is meant to be checked with
    cloud: str = "aws"
    amis: bool = False  # seeds or launches with moto's catalogue of public images (slower start)


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str, expect: tuple[str, ...] = (), plan: dict[str, Any] | None = None,
             cloud: str = "aws", amis: bool = False,
             ) -> Callable[[Callable[[Seeder], None]], Callable[[Seeder], None]]:
    def deco(fn: Callable[[Seeder], None]) -> Callable[[Seeder], None]:
        SCENARIOS[name] = Scenario(name, description, fn, frozenset(expect), dict(plan or {}), cloud, amis)
        return fn
    return deco


def load_scenarios() -> dict[str, Scenario]:
    from preflight.collect import scenarios as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(sorted(SCENARIOS.items()))


def get_scenario(name: str) -> Scenario:
    found = load_scenarios()
    if name not in found:
        raise PreflightError(f"unknown sandbox scenario {name!r} (see `preflight sandbox list`)")
    return found[name]


class Seeder:
    """Small helpers over real boto3 calls, so scenarios read like data."""

    def __init__(self, session: Any, region: str) -> None:
        self.session = session
        self.region = region
        self.ec2 = session.client("ec2", region)
        self.ids: dict[str, str] = {}  # scenario names -> created ids, for tests and plans

    def _tag(self, rid: str, name: str) -> str:
        if name:
            self.ec2.create_tags(Resources=[rid], Tags=[{"Key": "Name", "Value": name}])
            self.ids[name] = rid
        return rid

    def delete_default_vpc(self) -> None:
        for vpc in self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
            vid = vpc["VpcId"]
            for s in self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]:
                self.ec2.delete_subnet(SubnetId=s["SubnetId"])
            for g in self.ec2.describe_internet_gateways(
                    Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}])["InternetGateways"]:
                self.ec2.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=vid)
                self.ec2.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])
            self.ec2.delete_vpc(VpcId=vid)

    def aws_like_default_vpc(self) -> None:
        """moto's default VPC has no internet gateway or default route; real EC2's has both."""
        for vpc in self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
            igw = self.igw(vpc["VpcId"], "default-igw")
            self.route(self.main_route_table(vpc["VpcId"]), "0.0.0.0/0", GatewayId=igw)

    def vpc(self, cidr: str = "10.0.0.0/16", name: str = "", ipv6: bool = False) -> str:
        vid = self.ec2.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
        return self._tag(vid, name)

    def subnet(self, vpc: str, cidr: str, az: str = "", name: str = "", public_ip: bool = False,
               ipv6_cidr: str = "") -> str:
        kw: dict[str, Any] = {"VpcId": vpc, "CidrBlock": cidr, "AvailabilityZone": az or f"{self.region}a"}
        if ipv6_cidr:
            kw["Ipv6CidrBlock"] = ipv6_cidr
        sid = self.ec2.create_subnet(**kw)["Subnet"]["SubnetId"]
        self.ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": public_ip})
        return self._tag(sid, name)

    def igw(self, vpc: str = "", name: str = "") -> str:
        gid = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        if vpc:
            self.ec2.attach_internet_gateway(InternetGatewayId=gid, VpcId=vpc)
        return self._tag(gid, name)

    def eigw(self, vpc: str, name: str = "") -> str:
        gid = self.ec2.create_egress_only_internet_gateway(VpcId=vpc)["EgressOnlyInternetGateway"][
            "EgressOnlyInternetGatewayId"]
        return self._tag(gid, name)

    def main_route_table(self, vpc: str) -> str:
        tables = self.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                         {"Name": "association.main", "Values": ["true"]}])
        return tables["RouteTables"][0]["RouteTableId"]

    def route_table(self, vpc: str, subnets: tuple[str, ...] | list[str] = (), name: str = "") -> str:
        tid = self.ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        for s in subnets:
            self.ec2.associate_route_table(RouteTableId=tid, SubnetId=s)
        return self._tag(tid, name)

    def route(self, table: str, destination: str = "0.0.0.0/0", **target: str) -> None:
        """target: GatewayId=igw-…, NatGatewayId=…, EgressOnlyInternetGatewayId=…"""
        key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
        self.ec2.create_route(RouteTableId=table, **{key: destination}, **target)

    def nat(self, subnet: str, name: str = "") -> str:
        alloc = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        nid = self.ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
        return self._tag(nid, name)

    def security_group(self, vpc: str, name: str, ingress: list[dict[str, Any]] | None = None,
                       description: str = "preflight sandbox") -> str:
        gid = self.ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc)["GroupId"]
        if ingress:
            self.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ingress)
        self.ids[name] = gid
        return gid

    def network_acl(self, vpc: str, subnets: tuple[str, ...] | list[str] = (), name: str = "",
                    entries: list[dict[str, Any]] | None = None) -> str:
        aid = self.ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        for e in entries or []:
            self.ec2.create_network_acl_entry(NetworkAclId=aid, **e)
        if subnets:
            acls = self.ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
            for s in subnets:
                for acl in acls:
                    for assoc in acl.get("Associations", []):
                        if assoc.get("SubnetId") == s:
                            self.ec2.replace_network_acl_association(
                                AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=aid)
        return self._tag(aid, name)

    def public_vpc(self, cidr: str = "10.0.0.0/16", subnet_cidr: str = "10.0.1.0/24",
                   name: str = "app") -> dict[str, str]:
        """A healthy public layout: VPC, attached IGW, subnet mapping public IPs, default route."""
        vpc = self.vpc(cidr, f"{name}-vpc")
        igw = self.igw(vpc, f"{name}-igw")
        subnet = self.subnet(vpc, subnet_cidr, name=f"{name}-public", public_ip=True)
        table = self.route_table(vpc, [subnet], name=f"{name}-public-rt")
        self.route(table, "0.0.0.0/0", GatewayId=igw)
        return {"vpc": vpc, "igw": igw, "subnet": subnet, "route_table": table}


_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


@contextlib.contextmanager
def sandbox(name: str = DEFAULT_SCENARIO, region: str = DEFAULT_REGION,
            amis: bool = False, settings: Any = None) -> Iterator[tuple[Any, Seeder]]:
    """Start moto in process, seed `name`, and yield (AwsSession, Seeder). Nothing leaves the process.

    moto's catalogue of public images (thousands of AMIs, ~0.5 s to build) is loaded only when the
    scenario or the caller (`amis=True`, e.g. a plan naming an image) needs it."""
    try:
        from moto import mock_aws
    except ImportError:
        raise PreflightError(
            "--sandbox needs moto: pip install 'cloud-preflight[sandbox]' (or pip install moto)"
        ) from None
    from unittest.mock import patch  # here, with moto: it imports asyncio

    from preflight.collect.aws import AwsSession, check_region
    from preflight.settings import RunSettings

    sc = get_scenario(name)
    # The fake keys, no profile, no endpoint (the sandbox must never reach a real account); the
    # caller's environment comes back whole afterwards.
    with patch.dict(os.environ, {**_FAKE_ENV, "MOTO_EC2_LOAD_DEFAULT_AMIS": "true" if (amis or sc.amis) else "false"}):
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            os.environ.pop(k, None)
        with mock_aws():
            # Sandbox identities are made up (fresh keys each run): never in the permission cache.
            session = AwsSession(region=region, settings=(settings or RunSettings()).without_cache())
            check_region(session, region)
            seeder = Seeder(session, region)
            sc.seed(seeder)
            # moto 5.2's first DescribeKeyPairs inserts into a class-level dict that every EC2
            # response reads while serialising; doing it once here, single-threaded, keeps the
            # collector's concurrent calls from racing it ("dictionary changed size").
            seeder.ec2.describe_key_pairs()
            yield session, seeder
