"""A hand-built, healthy two-subnet VPC (public + private behind NAT, IPv4 and IPv6), and small
mutators, for the reachability table and property tests. Built directly as Inventory objects: fast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from preflight.inventory.model import (
    Attachment,
    EgressOnlyInternetGateway,
    Instance,
    InternetGateway,
    Inventory,
    NaclAssociation,
    NaclEntry,
    NatGateway,
    NetworkAcl,
    NetworkInterface,
    Route,
    RouteTable,
    RouteTableAssociation,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    UserIdGroupPair,
    Vpc,
)

VPC = "vpc-1"
PUB, PRIV = "subnet-pub", "subnet-priv"
IGW, EIGW, NAT = "igw-1", "eigw-1", "nat-1"
RTB_PUB, RTB_PRIV, RTB_MAIN = "rtb-pub", "rtb-priv", "rtb-main"
ACL = "acl-1"
SG_WEB, SG_DEFAULT = "sg-web", "sg-default"
WEB, PRIV_I = "i-web", "i-priv"
V6_VPC = "2600:1f18:aa::/56"
V6_PUB, V6_PRIV = "2600:1f18:aa:1::/64", "2600:1f18:aa:2::/64"
V4_DEFAULT_IGW_ROUTE = Route(destination_cidr="0.0.0.0/0", target_kind="internet_gateway", target_id=IGW)


def local_routes() -> tuple[Route, ...]:
    return (Route(destination_cidr="10.0.0.0/16", target_kind="local", target_id="local"),
            Route(destination_ipv6_cidr=V6_VPC, target_kind="local", target_id="local"))


def allow_all_entries() -> tuple[NaclEntry, ...]:
    return tuple(NaclEntry(rule_number=n, egress=eg, action="allow", protocol="-1", cidr_block=c4, ipv6_cidr_block=c6)
                 for eg in (False, True)
                 for n, c4, c6 in ((100, "0.0.0.0/0", ""), (101, "", "::/0")))


def sg_rule(rid: str, group: str, *, egress: bool = False, proto: str = "tcp", lo: int | None = None,
            hi: int | None = None, cidr: str = "", cidr6: str = "", ref: str = "") -> SecurityGroupRule:
    return SecurityGroupRule(id=rid, group_id=group, egress=egress, ip_protocol=proto, from_port=lo,
                             to_port=hi if hi is not None else lo, cidr_ipv4=cidr, cidr_ipv6=cidr6,
                             referenced_group=UserIdGroupPair(group_id=ref) if ref else None)


def egress_all(group: str) -> tuple[SecurityGroupRule, ...]:
    return (sg_rule(f"sgr-{group}-e4", group, egress=True, proto="-1", cidr="0.0.0.0/0"),
            sg_rule(f"sgr-{group}-e6", group, egress=True, proto="-1", cidr6="::/0"))


def healthy() -> Inventory:
    return Inventory(
        region="eu-south-1", account="123456789012", source="test",
        vpcs=(Vpc(id=VPC, cidr_blocks=("10.0.0.0/16",), ipv6_cidr_blocks=(V6_VPC,)),),
        subnets=(
            Subnet(id=PUB, vpc_id=VPC, cidr_block="10.0.1.0/24", ipv6_cidr_blocks=(V6_PUB,),
                   map_public_ip_on_launch=True, assign_ipv6_address_on_creation=True, tags={"Name": "pub"}),
            Subnet(id=PRIV, vpc_id=VPC, cidr_block="10.0.2.0/24", ipv6_cidr_blocks=(V6_PRIV,),
                   assign_ipv6_address_on_creation=True),
        ),
        route_tables=(
            RouteTable(id=RTB_MAIN, vpc_id=VPC, routes=local_routes(),
                       associations=(RouteTableAssociation(id="rtbassoc-m", main=True),)),
            RouteTable(id=RTB_PUB, vpc_id=VPC, routes=local_routes() + (
                Route(destination_cidr="0.0.0.0/0", target_kind="internet_gateway", target_id=IGW),
                Route(destination_ipv6_cidr="::/0", target_kind="internet_gateway", target_id=IGW)),
                associations=(RouteTableAssociation(id="rtbassoc-p", subnet_id=PUB),)),
            RouteTable(id=RTB_PRIV, vpc_id=VPC, routes=local_routes() + (
                Route(destination_cidr="0.0.0.0/0", target_kind="nat_gateway", target_id=NAT),
                Route(destination_ipv6_cidr="::/0", target_kind="egress_only_igw", target_id=EIGW)),
                associations=(RouteTableAssociation(id="rtbassoc-q", subnet_id=PRIV),)),
        ),
        internet_gateways=(InternetGateway(id=IGW, attachments=(Attachment(VPC, "available"),)),),
        egress_only_internet_gateways=(EgressOnlyInternetGateway(id=EIGW, attachments=(Attachment(VPC, "attached"),)),),
        nat_gateways=(NatGateway(id=NAT, vpc_id=VPC, subnet_id=PUB, public_ips=("198.51.100.7",)),),
        network_acls=(NetworkAcl(id=ACL, vpc_id=VPC, is_default=True, entries=allow_all_entries(),
                                 associations=(NaclAssociation("aclassoc-1", PUB),
                                               NaclAssociation("aclassoc-2", PRIV))),),
        security_groups=(
            SecurityGroup(id=SG_WEB, group_name="web", vpc_id=VPC, rules=(
                sg_rule("sgr-8000", SG_WEB, lo=8000, cidr="0.0.0.0/0"),
                sg_rule("sgr-8000v6", SG_WEB, lo=8000, cidr6="::/0"),
                sg_rule("sgr-22", SG_WEB, lo=22, cidr="10.0.0.0/16")) + egress_all(SG_WEB)),
            SecurityGroup(id=SG_DEFAULT, group_name="default", vpc_id=VPC,
                          rules=(sg_rule("sgr-self", SG_DEFAULT, proto="-1", ref=SG_DEFAULT),)
                          + egress_all(SG_DEFAULT)),
        ),
        instances=(
            Instance(id=WEB, state="running", subnet_id=PUB, vpc_id=VPC, private_ip="10.0.1.10",
                     public_ip="203.0.113.10", ipv6_addresses=("2600:1f18:aa:1::10",), group_ids=(SG_WEB,),
                     network_interface_ids=("eni-web",)),
            Instance(id=PRIV_I, state="running", subnet_id=PRIV, vpc_id=VPC, private_ip="10.0.2.20",
                     ipv6_addresses=("2600:1f18:aa:2::20",), group_ids=(SG_WEB,), network_interface_ids=("eni-priv",)),
        ),
        network_interfaces=(
            NetworkInterface(id="eni-web", subnet_id=PUB, vpc_id=VPC, private_ip="10.0.1.10", public_ip="203.0.113.10",
                             ipv6_addresses=("2600:1f18:aa:1::10",), group_ids=(SG_WEB,), instance_id=WEB),
            NetworkInterface(id="eni-priv", subnet_id=PRIV, vpc_id=VPC, private_ip="10.0.2.20",
                             ipv6_addresses=("2600:1f18:aa:2::20",), group_ids=(SG_WEB,), instance_id=PRIV_I),
        ),
    )


# --- mutators: each returns a function Inventory -> Inventory ------------------------------------
Mut = Callable[[Inventory], Inventory]


def _swap(inv: Inventory, collection: str, rid: str, **changes: Any) -> Inventory:
    items = tuple(replace(x, **changes) if x.id == rid else x for x in getattr(inv, collection))
    return replace(inv, **{collection: items})


def change(collection: str, rid: str, **changes: Any) -> Mut:
    return lambda inv: _swap(inv, collection, rid, **changes)


def drop(collection: str, rid: str) -> Mut:
    def f(inv: Inventory) -> Inventory:
        return replace(inv, **{collection: tuple(x for x in getattr(inv, collection) if x.id != rid)})
    return f


def drop_routes(table: str, *destinations: str) -> Mut:
    def f(inv: Inventory) -> Inventory:
        t = inv.index("route_tables")[table]
        return _swap(inv, "route_tables", table, routes=tuple(r for r in t.routes if r.destination not in destinations))
    return f


def add_routes(table: str, *routes: Route) -> Mut:
    def f(inv: Inventory) -> Inventory:
        t = inv.index("route_tables")[table]
        return _swap(inv, "route_tables", table, routes=t.routes + routes)
    return f


def nacl_entries(*entries: NaclEntry, acl: str = ACL) -> Mut:
    """Add entries to the ACL."""
    def f(inv: Inventory) -> Inventory:
        a = inv.index("network_acls")[acl]
        return _swap(inv, "network_acls", acl, entries=a.entries + entries)
    return f


def sg_rules(group: str, *rules: SecurityGroupRule, keep: bool = True) -> Mut:
    def f(inv: Inventory) -> Inventory:
        g = inv.index("security_groups")[group]
        return _swap(inv, "security_groups", group, rules=(g.rules if keep else ()) + rules)
    return f


def sg_without(group: str, *rule_ids: str) -> Mut:
    def f(inv: Inventory) -> Inventory:
        g = inv.index("security_groups")[group]
        return _swap(inv, "security_groups", group, rules=tuple(r for r in g.rules if r.id not in rule_ids))
    return f


def unreadable(rtype: str) -> Mut:
    from preflight.inventory.model import Unreadable

    return lambda inv: replace(inv, unreadable=inv.unreadable + (
        Unreadable(rtype, "UnauthorizedOperation", "ec2:Describe"),), **{rtype: ()})


def apply(*muts: Mut) -> Inventory:
    inv = healthy()
    for m in muts:
        inv = m(inv)
    return inv
