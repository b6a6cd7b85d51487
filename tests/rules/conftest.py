"""Shared helpers for rule tests.

Two ways to get findings:

- `run_rules(source, plan=None, select=("ALL",))` — `source` is a sandbox scenario name, a seed
  function `fn(seeder)` (run in moto through the real collector), an `Inventory`, or a list of
  them. Returns a `Findings` list (plain `list[Finding]`) that also carries `.ids` (the seeder's
  name -> id map) and `.inventories`, plus small helpers (`.rules()`, `.only(rule)`).
- `inventory(*resources, region=..., **fields)` — a pure Inventory builder for fast snapshot-style
  tests: pass resource dataclasses in any order; they are sorted into their collections. The
  constructors below (`vpc`, `subnet`, `route_table`, `igw`, `eigw`, `nat`, `nacl`, `entry`, ...)
  keep those tests short; route targets are inferred from the id prefix (`igw-`, `nat-`, `eigw-`...).

Both are importable (`from tests.rules.conftest import inventory, subnet`) and available as
fixtures of the same name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from unittest.mock import patch

import pytest

from preflight import engine
from preflight.inventory import model as m
from preflight.plan import Plan, plan_from_dict

REGION = "eu-south-1"
ACCOUNT = "123456789012"

_COLLECTIONS: dict[type, str] = {
    m.Vpc: "vpcs",
    m.Subnet: "subnets",
    m.RouteTable: "route_tables",
    m.InternetGateway: "internet_gateways",
    m.EgressOnlyInternetGateway: "egress_only_internet_gateways",
    m.NatGateway: "nat_gateways",
    m.NetworkAcl: "network_acls",
    m.SecurityGroup: "security_groups",
    m.Instance: "instances",
    m.NetworkInterface: "network_interfaces",
    m.VpcPeeringConnection: "vpc_peering_connections",
    m.Unreadable: "unreadable",
}


class Findings(list):
    """list[Finding] with the ids the seeder created and the inventories that were checked."""

    ids: dict[str, str]
    inventories: list[m.Inventory]

    def rules(self) -> set[str]:
        return {f.rule for f in self}

    def only(self, rule_id: str) -> list[engine.Finding]:
        return [f for f in self if f.rule == rule_id]

    def one(self, rule_id: str) -> engine.Finding:
        found = self.only(rule_id)
        assert len(found) == 1, f"expected exactly one {rule_id}, got {[(f.resource, f.message) for f in self]}"
        return found[0]


# --- pure builders ------------------------------------------------------------------------------

def inventory(*resources: Any, region: str = REGION, account: str = ACCOUNT, **fields: Any) -> m.Inventory:
    """An Inventory from resource objects (any order) plus explicit collection fields."""
    buckets: dict[str, list[Any]] = {}
    for res in resources:
        if isinstance(res, (list, tuple)):
            for r in res:
                buckets.setdefault(_COLLECTIONS[type(r)], []).append(r)
        else:
            buckets.setdefault(_COLLECTIONS[type(res)], []).append(res)
    for key, value in fields.items():
        if key in m.Inventory.__struct_fields__ and isinstance(value, (list, tuple)):
            buckets.setdefault(key, []).extend(value)
    other = {k: v for k, v in fields.items() if not isinstance(v, (list, tuple))}
    return m.Inventory(region=region, account=account, source="test",
                       **{k: tuple(v) for k, v in buckets.items()}, **other)


def vpc(id: str = "vpc-1", cidr: str = "10.0.0.0/16", default: bool = False, name: str = "",
        ipv6: tuple[str, ...] = ()) -> m.Vpc:
    return m.Vpc(id=id, cidr_blocks=(cidr,), ipv6_cidr_blocks=ipv6, is_default=default,
                 tags={"Name": name} if name else {})


def subnet(id: str = "subnet-1", vpc: str = "vpc-1", cidr: str = "10.0.1.0/24", public_ip: bool = False,
           name: str = "", ipv6: tuple[str, ...] = (), assign_ipv6: bool = False, az: str = f"{REGION}a",
           state: str = "available") -> m.Subnet:
    return m.Subnet(id=id, vpc_id=vpc, cidr_block=cidr, ipv6_cidr_blocks=ipv6, availability_zone=az,
                    map_public_ip_on_launch=public_ip, assign_ipv6_address_on_creation=assign_ipv6,
                    available_ip_address_count=250, state=state, tags={"Name": name} if name else {})


_PREFIX_KINDS = (
    ("eigw-", "egress_only_igw"), ("igw-", "internet_gateway"), ("nat-", "nat_gateway"),
    ("tgw-", "transit_gateway"), ("pcx-", "vpc_peering"), ("i-", "instance"), ("eni-", "network_interface"),
    ("vpce-", "vpc_endpoint"), ("vgw-", "virtual_private_gateway"), ("local", "local"),
)


def route(destination: str, target: str, state: str = "active") -> m.Route:
    """A route; the target kind comes from the id prefix (igw-, nat-, eigw-, tgw-, pcx-, i-, eni-...)."""
    kind = next((k for p, k in _PREFIX_KINDS if target.startswith(p)), "unknown")
    if destination.startswith("pl-"):
        return m.Route(destination_prefix_list=destination, target_kind=kind, target_id=target, state=state)
    if ":" in destination:
        return m.Route(destination_ipv6_cidr=destination, target_kind=kind, target_id=target, state=state)
    return m.Route(destination_cidr=destination, target_kind=kind, target_id=target, state=state)


def route_table(id: str = "rtb-1", vpc: str = "vpc-1", routes: Mapping[str, str] | Iterable[m.Route] = (),
                subnets: Iterable[str] = (), main: bool = False, local: str = "10.0.0.0/16",
                name: str = "") -> m.RouteTable:
    """`routes` maps destination -> target id (or is a list of Route); a local route is added."""
    rs = [route(d, t) for d, t in routes.items()] if isinstance(routes, Mapping) else list(routes)
    if local:
        rs.insert(0, m.Route(destination_cidr=local, target_kind="local", target_id="local"))
    assocs = [m.RouteTableAssociation(id=f"rtbassoc-{id}-main", main=True)] if main else []
    assocs += [m.RouteTableAssociation(id=f"rtbassoc-{id}-{s}", subnet_id=s) for s in subnets]
    return m.RouteTable(id=id, vpc_id=vpc, routes=tuple(rs), associations=tuple(assocs),
                        tags={"Name": name} if name else {})


def igw(id: str = "igw-1", vpc: str | None = "vpc-1", name: str = "") -> m.InternetGateway:
    """An internet gateway attached to `vpc` (None or "" for a detached one)."""
    att = (m.Attachment(vpc_id=vpc, state="available"),) if vpc else ()
    return m.InternetGateway(id=id, attachments=att, tags={"Name": name} if name else {})


def eigw(id: str = "eigw-1", vpc: str = "vpc-1") -> m.EgressOnlyInternetGateway:
    return m.EgressOnlyInternetGateway(id=id, attachments=(m.Attachment(vpc_id=vpc, state="attached"),))


def nat(id: str = "nat-1", vpc: str = "vpc-1", subnet: str = "subnet-pub", state: str = "available") -> m.NatGateway:
    return m.NatGateway(id=id, vpc_id=vpc, subnet_id=subnet, state=state)


def entry(number: int, action: str = "allow", egress: bool = False, protocol: str = "-1",
          cidr: str = "0.0.0.0/0", ports: tuple[int, int] | None = None, ipv6: str = "") -> m.NaclEntry:
    return m.NaclEntry(rule_number=number, egress=egress, action=action, protocol=protocol,
                       cidr_block="" if ipv6 else cidr, ipv6_cidr_block=ipv6,
                       port_from=ports[0] if ports else None, port_to=ports[1] if ports else None)


OPEN_ENTRIES = (entry(100), entry(32767, "deny"), entry(100, egress=True), entry(32767, "deny", egress=True))


def nacl(id: str = "acl-1", vpc: str = "vpc-1", subnets: Iterable[str] = (),
         entries: Iterable[m.NaclEntry] = OPEN_ENTRIES, default: bool = False, name: str = "") -> m.NetworkAcl:
    return m.NetworkAcl(id=id, vpc_id=vpc, is_default=default, entries=tuple(entries),
                        associations=tuple(m.NaclAssociation(id=f"aclassoc-{id}-{s}", subnet_id=s) for s in subnets),
                        tags={"Name": name} if name else {})


def public_vpc(n: int = 1, default: bool = False, public_ip: bool = True) -> list[Any]:
    """A healthy public layout: vpc-n, igw-n, subnet-n (maps public IPs), rtb-n main with 0.0.0.0/0 -> igw-n,
    and an open default NACL acl-n."""
    cidr = f"10.{n}.0.0/16"
    return [vpc(f"vpc-{n}", cidr, default=default), igw(f"igw-{n}", f"vpc-{n}"),
            subnet(f"subnet-{n}", f"vpc-{n}", f"10.{n}.1.0/24", public_ip=public_ip),
            route_table(f"rtb-{n}", f"vpc-{n}", {"0.0.0.0/0": f"igw-{n}"}, main=True, local=cidr),
            nacl(f"acl-{n}", f"vpc-{n}", [f"subnet-{n}"], default=True)]


# --- running rules ------------------------------------------------------------------------------

def as_plan(plan: Plan | Mapping[str, Any] | None) -> Plan | None:
    if plan is None or isinstance(plan, Plan):
        return plan
    return plan_from_dict(dict(plan), "test-plan")


_SCENARIO_CACHE: dict[tuple[str, str], tuple[m.Inventory, dict[str, str]]] = {}


def _needs_amis(seed: Callable[[Any], None] | str) -> bool:
    """moto loads ~5000 AMIs per region (over a second); network scenarios never use them."""
    if isinstance(seed, str):
        from preflight.collect.sandbox import get_scenario

        return get_scenario(seed).seed.__module__ != "preflight.collect.scenarios.net"
    return True


def collect_seeded(seed: Callable[[Any], None] | str, region: str = REGION,
                   amis: bool | None = None) -> tuple[m.Inventory, dict[str, str]]:
    """Seed moto (a scenario name or a function of the Seeder) and read it back with the real collector.

    A scenario is collected once per test session (inventories are frozen, so sharing is safe).
    `amis=False` skips moto's default AMI catalogue (faster); the default loads it unless the seed is a
    network scenario.
    """
    from preflight.collect import sandbox as sb
    from preflight.collect.aws import collect

    key = (seed, region) if isinstance(seed, str) else None
    if key is not None and key in _SCENARIO_CACHE:
        inv, ids = _SCENARIO_CACHE[key]
        return inv, dict(ids)
    load = _needs_amis(seed) if amis is None else amis
    keys = {k: os.environ.get(k) or "testing" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    with patch.dict(os.environ, {**keys, "MOTO_EC2_LOAD_DEFAULT_AMIS": "true" if load else "false"}):
        os.environ.pop("AWS_ENDPOINT_URL", None)
        if isinstance(seed, str):
            with sb.sandbox(seed, region) as (session, seeder):
                result = collect(session, region), dict(seeder.ids)
            _SCENARIO_CACHE[(seed, region)] = result
            return result[0], dict(result[1])
        from moto import mock_aws

        from preflight.collect.aws import AwsSession

        with mock_aws():
            session = AwsSession(region=region)
            seeder = sb.Seeder(session, region)
            seed(seeder)
            return collect(session, region), dict(seeder.ids)


def run_rules(source: Any, plan: Plan | Mapping[str, Any] | None = None, select: Iterable[str] = ("ALL",),
              ignore: Iterable[str] = (), config: dict[str, Any] | None = None, region: str = REGION,
              amis: bool | None = None) -> Findings:
    """Findings of the selected rules on a scenario name, a seed function, an Inventory or a list of them."""
    sources = list(source) if isinstance(source, (list, tuple)) else [source]
    inventories: list[m.Inventory] = []
    ids: dict[str, str] = {}
    for src in sources:
        if isinstance(src, m.Inventory):
            inventories.append(src)
        else:
            inv, seeded = collect_seeded(src, region, amis)
            inventories.append(inv)
            ids.update(seeded)
    rules = engine.select_rules(engine.load_rules(), list(select), list(ignore))
    report = engine.run(inventories, rules, as_plan(plan), config)
    out = Findings(report.findings)
    out.ids = ids
    out.inventories = inventories
    return out


@pytest.fixture(name="run_rules")
def run_rules_fixture() -> Callable[..., Findings]:
    return run_rules


@pytest.fixture(name="inventory")
def inventory_fixture() -> Callable[..., m.Inventory]:
    return inventory
