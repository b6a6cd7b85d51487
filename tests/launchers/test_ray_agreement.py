"""Agreement: preflight's model of Ray's subnet choice equals Ray's own `_configure_subnet`.

Each case seeds a moto account (mock_aws, in process), reads it with preflight's collector, and
asks both sides: preflight (`read_cluster` + `ray_subnets`, pure) and Ray 2.60 itself
(`prepare_config` + `_configure_from_network_interfaces` + `_configure_subnet`, installed from
PyPI through the `[launchers]` extra). Per node type the SubnetIds must be equal and in the same
order, or both must stop. Ray is imported only here; preflight never imports it.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from preflight.collect.aws import FETCHERS, fetch_all, parse_subnet
from preflight.inventory.model import Inventory, SecurityGroup
from preflight.launchers.ray import RAY_VERSION, RaySelection, ray_subnets, read_cluster

ray_config = pytest.importorskip("ray.autoscaler._private.aws.config",
                                 reason="Ray is a [launchers] extra: pip install -e '.[test,launchers]'")
ray_util = pytest.importorskip("ray.autoscaler._private.util")

REGION = "eu-south-1"
AMI = "ami-12345678"


def test_modelled_version_is_the_installed_one() -> None:
    import ray

    assert ray.__version__ == RAY_VERSION


# --- accounts as data ---------------------------------------------------------------------------

@dataclass
class SubnetSpec:
    zone: str  # "a", "b", "c"
    public_ip: bool
    name: str = ""


@dataclass
class VpcSpec:
    subnets: list[SubnetSpec]
    groups: list[str] = field(default_factory=list)  # security group names in this VPC


@dataclass
class Account:
    vpcs: list[VpcSpec]
    keep_default_vpc: bool = True


_CLIENTS: dict[str, Any] = {}


def ec2_client() -> Any:
    """One boto3 client for every case (moto intercepts it in each mock_aws context): creating
    clients is most of the cost of a small case."""
    if "ec2" not in _CLIENTS:
        _CLIENTS["ec2"] = boto3.client("ec2", region_name=REGION)
    return _CLIENTS["ec2"]


def seed(account: Account) -> dict[str, Any]:
    """Create the account with boto3; return ids by role: subnets (list per VPC), groups, vpcs."""
    ec2 = ec2_client()
    if not account.keep_default_vpc:
        for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
            for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
                ec2.delete_subnet(SubnetId=s["SubnetId"])
            ec2.delete_vpc(VpcId=vpc["VpcId"])
    ids: dict[str, Any] = {"vpcs": [], "subnets": [], "groups": {}}
    for i, v in enumerate(account.vpcs):
        vid = ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"]
        ids["vpcs"].append(vid)
        subnet_ids = []
        for j, s in enumerate(v.subnets):
            sid = ec2.create_subnet(VpcId=vid, CidrBlock=f"10.{i}.{j}.0/24",
                                    AvailabilityZone=f"{REGION}{s.zone}")["Subnet"]["SubnetId"]
            # moto maps public IPs on the first subnet of each zone; say it explicitly
            ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": s.public_ip})
            subnet_ids.append(sid)
        ids["subnets"].append(subnet_ids)
        for g in v.groups:
            ids["groups"][g] = ec2.create_security_group(GroupName=g, Description="t", VpcId=vid)["GroupId"]
    return ids


def ray_answer(doc: dict[str, Any]) -> dict[str, tuple[str, ...]] | str:
    """Ray's own SubnetIds per node type after _configure_subnet, or 'error: <message>'."""
    ray_config._get_subnets_or_die.cache_clear()
    try:
        config = ray_util.prepare_config(copy.deepcopy(doc))
        config = ray_config._configure_from_network_interfaces(config)
        config = ray_config._configure_subnet(config)
    except Exception as exc:  # Ray stops with click.ClickException, AssertionError or ValueError
        return f"error: {exc}"
    return {k: tuple(dict.fromkeys(t["node_config"]["SubnetIds"]))
            for k, t in config["available_node_types"].items()}


def preflight_answer(doc: dict[str, Any]) -> tuple[dict[str, tuple[str, ...]] | str, RaySelection]:
    # The two resource types Ray's choice reads, parsed by preflight's own collector code.
    ec2 = ec2_client()
    inventory = Inventory(
        region=REGION,
        subnets=tuple(parse_subnet(s) for s in fetch_all(ec2, FETCHERS["subnets"])),
        security_groups=tuple(SecurityGroup(id=g["GroupId"], group_name=g["GroupName"], vpc_id=g.get("VpcId", ""))
                              for g in ec2.describe_security_groups()["SecurityGroups"]),
    )
    sel = ray_subnets(inventory, read_cluster(doc))
    if sel.error:
        return f"error: {sel.error}", sel
    return {t.node_type: t.subnets for t in sel.types}, sel


def cluster(provider: dict[str, Any] | None = None, head: dict[str, Any] | None = None,
            worker: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "cluster_name": "agree",
        "max_workers": 4,
        "provider": {"type": "aws", "region": REGION, **(provider or {})},
        "auth": {"ssh_user": "ubuntu"},
        "available_node_types": {
            "head": {"resources": {}, "node_config": {"InstanceType": "m5.large", "ImageId": AMI, **(head or {})}},
            "worker": {"resources": {}, "max_workers": 4,
                       "node_config": {"InstanceType": "m5.large", "ImageId": AMI, **(worker or {})}},
        },
        "head_node_type": "head",
    }


def assert_agree(doc: dict[str, Any]) -> tuple[Any, RaySelection]:
    ours, sel = preflight_answer(doc)
    theirs = ray_answer(doc)
    if isinstance(theirs, str) or isinstance(ours, str):
        assert isinstance(ours, str) and isinstance(theirs, str), (ours, theirs)
        return theirs, sel
    assert ours == theirs
    return theirs, sel


# --- the table ---------------------------------------------------------------------------------

def _incident() -> Account:
    # The eu-south-1 incident: no default VPC, one custom subnet that maps no public IPs.
    return Account([VpcSpec([SubnetSpec("a", False)])], keep_default_vpc=False)


def _unrouted_but_public() -> Account:
    # No route table matters to Ray: a public-mapping subnet with no default route is "usable".
    return Account([VpcSpec([SubnetSpec("a", True), SubnetSpec("c", True)])], keep_default_vpc=False)


def _several_vpcs() -> Account:
    return Account([VpcSpec([SubnetSpec("a", True), SubnetSpec("b", True)], ["app-sg"]),
                    VpcSpec([SubnetSpec("c", True), SubnetSpec("b", False)], ["other-sg"])])


Case = tuple[str, Callable[[], Account], Callable[[dict[str, Any]], dict[str, Any]]]
CASES: list[Case] = [
    ("incident", _incident, lambda ids: cluster()),
    ("incident-internal-ips", _incident, lambda ids: cluster({"use_internal_ips": True})),
    ("unrouted-public", _unrouted_but_public, lambda ids: cluster()),
    ("default-vpc-zones-z-to-a", lambda: Account([]), lambda ids: cluster()),
    ("several-vpcs", _several_vpcs, lambda ids: cluster()),
    ("zone-filter", _several_vpcs, lambda ids: cluster({"availability_zone": f"{REGION}b, {REGION}a"})),
    ("zone-filter-no-match", _unrouted_but_public, lambda ids: cluster({"availability_zone": f"{REGION}b"})),
    ("subnet-ids-given", _several_vpcs,
     lambda ids: cluster(head={"SubnetIds": [ids["subnets"][0][0], ids["subnets"][0][1]]})),
    ("subnet-ids-given-private", _several_vpcs, lambda ids: cluster(head={"SubnetIds": [ids["subnets"][1][1]]})),
    ("subnet-ids-two-vpcs", _several_vpcs,
     lambda ids: cluster(worker={"SubnetIds": [ids["subnets"][0][0], ids["subnets"][1][0]]})),
    ("subnet-ids-missing", _several_vpcs, lambda ids: cluster(head={"SubnetIds": ["subnet-0123456789abcdef0"]})),
    ("subnet-ids-zone-mismatch", _several_vpcs,
     lambda ids: cluster({"availability_zone": f"{REGION}a"}, head={"SubnetIds": [ids["subnets"][0][1]]})),
    ("sg-narrows-vpc", _several_vpcs, lambda ids: cluster(worker={"SecurityGroupIds": [ids["groups"]["other-sg"]]})),
    ("sg-two-vpcs", _several_vpcs,
     lambda ids: cluster(head={"SecurityGroupIds": [ids["groups"]["app-sg"]]},
                         worker={"SecurityGroupIds": [ids["groups"]["other-sg"]]})),
    ("sg-missing", _several_vpcs, lambda ids: cluster(head={"SecurityGroupIds": ["sg-0123456789abcdef0"]})),
    ("given-subnets-lock-vpc", _several_vpcs, lambda ids: cluster(head={"SubnetIds": [ids["subnets"][1][0]]})),
    ("network-interfaces", _several_vpcs,
     lambda ids: cluster(head={"NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": ids["subnets"][0][1],
                                                      "Groups": [ids["groups"]["app-sg"]]}]})),
    ("internal-ips-private-subnets", _several_vpcs,
     lambda ids: cluster({"use_internal_ips": True}, worker={"SecurityGroupIds": [ids["groups"]["other-sg"]]})),
    ("legacy-form", _several_vpcs,
     lambda ids: {"cluster_name": "legacy", "provider": {"type": "aws", "region": REGION},
                  "head_node": {"InstanceType": "m5.large", "ImageId": AMI, "SubnetIds": [ids["subnets"][0][0]]},
                  "worker_nodes": {"InstanceType": "m5.large", "ImageId": AMI}, "max_workers": 3}),
]


@pytest.mark.parametrize("name,account,make_doc", CASES, ids=[c[0] for c in CASES])
def test_preflight_predicts_rays_subnets(name: str, account: Callable[[], Account],
                                         make_doc: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    with mock_aws():
        ids = seed(account())
        theirs, sel = assert_agree(make_doc(ids))
    expect_error = name in {"incident", "zone-filter-no-match", "subnet-ids-given-private", "subnet-ids-two-vpcs",
                            "subnet-ids-missing", "subnet-ids-zone-mismatch", "sg-two-vpcs", "sg-missing"}
    assert isinstance(theirs, str) == expect_error, theirs  # the table keeps both outcomes covered
    if name == "incident":
        assert "No usable subnets found for node type head" in sel.error
    if name == "unrouted-public":
        # Ray picks the unrouted subnets, zone c first; preflight's NET rules then flag them.
        assert [t.subnets for t in sel.types] == [tuple(reversed(ids["subnets"][0]))] * 2
    if name == "sg-narrows-vpc":
        assert {t.vpc for t in sel.types} == {ids["vpcs"][1]}


# --- generated accounts ------------------------------------------------------------------------

zones = st.sampled_from("abc")
subnet_specs = st.builds(SubnetSpec, zones, st.booleans())
vpc_specs = st.builds(VpcSpec, st.lists(subnet_specs, min_size=0, max_size=3),
                      st.lists(st.sampled_from(["g1", "g2"]), max_size=1, unique=True))
accounts = st.builds(Account, st.lists(vpc_specs, min_size=1, max_size=3), st.booleans())


@st.composite
def options(draw: Any) -> dict[str, Any]:
    return {
        "zones": draw(st.none() | st.lists(zones, min_size=1, max_size=2, unique=True)),
        "internal": draw(st.booleans()),
        "head_subnets": draw(st.none() | st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                                  min_size=1, max_size=2)),
        "worker_group": draw(st.none() | st.integers(0, 3)),
    }


def _doc(ids: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any] | None:
    provider: dict[str, Any] = {"use_internal_ips": opts["internal"]}
    if opts["zones"]:
        provider["availability_zone"] = ",".join(f"{REGION}{z}" for z in opts["zones"])
    head: dict[str, Any] = {}
    worker: dict[str, Any] = {}
    if opts["head_subnets"] is not None:
        chosen = [ids["subnets"][v][s] for v, s in opts["head_subnets"]
                  if v < len(ids["subnets"]) and s < len(ids["subnets"][v])]
        if not chosen:
            return None
        head["SubnetIds"] = chosen
    groups = sorted(ids["groups"].values())
    if opts["worker_group"] is not None and groups:
        worker["SecurityGroupIds"] = [groups[opts["worker_group"] % len(groups)]]
    return cluster(provider, head, worker)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account=accounts, opts=options())
def test_generated_accounts_agree(account: Account, opts: dict[str, Any]) -> None:
    with mock_aws():
        ids = seed(account)
        doc = _doc(ids, opts)
        if doc is not None:
            assert_agree(doc)


def test_table_names_are_words() -> None:
    assert all(set(c[0]) <= set(string.ascii_lowercase + "-") for c in CASES)


# --- where preflight is deliberately stricter ----------------------------------------------------

@pytest.mark.parametrize("layout", ["unrouted", "detached-igw"])
def test_where_ray_picks_an_unreachable_subnet_net001_says_so(layout: str) -> None:
    from preflight.collect.aws import AwsSession, collect
    from preflight.collect.sandbox import Seeder
    from preflight.launchers.ray import plan_from_cluster
    from tests.rules.conftest import run_rules

    with mock_aws():
        session = AwsSession(region=REGION)
        s = Seeder(session, REGION)
        s.delete_default_vpc()
        vpc = s.vpc("10.9.0.0/16", "ml-vpc")
        igw = s.igw(vpc, "ml-igw")
        subnet = s.subnet(vpc, "10.9.3.0/24", az=f"{REGION}c", name="ml-c", public_ip=True)
        table = s.route_table(vpc, [subnet])
        if layout == "detached-igw":
            s.route(table, "0.0.0.0/0", GatewayId=igw)
            s.ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        doc = cluster()
        theirs = ray_answer(doc)
        inventory = collect(session, REGION, needs=set())
    assert isinstance(theirs, dict) and theirs["head"] == (subnet,)  # Ray is happy with it
    [f] = run_rules(inventory, plan=plan_from_cluster(doc, "cluster.yaml"), select=["NET001"])
    assert f.message.startswith(f"Ray will pick subnet {subnet} (eu-south-1c) and its instances will be unreachable: ")
    assert "preflight is stricter than Ray here" in f.message
    assert ("has no 0.0.0.0/0 route" if layout == "unrouted" else "detached from every VPC") in f.message
