"""The inventory: plain, frozen data read from one account in one region.

Collectors produce it, snapshots store it, the graph and the rules read it. Nothing here talks to a
cloud. Every field has a default so that snapshots written by an older preflight still load, and
new fields can be added without touching the snapshot code (which is driven by the type hints).

The classes are frozen msgspec Structs (copy one with `msgspec.structs.replace`): msgspec decodes a
snapshot straight into them, checking every type and refusing unknown keys, and a Struct class costs
a few microseconds to define where a frozen dataclass costs over a millisecond, which is most of what
an offline check spends before reading its snapshot. `gc=False`: an inventory is a tree of frozen
values (strings, numbers, tuples, string-to-string tag dicts) that cannot form a reference cycle, so
the cyclic collector has nothing to find in it; only `Inventory` itself, whose `extra` holds
collectors' JSON-able data, stays tracked.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field


class Model(Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """The base of every inventory class (the options are inherited; each class repeats
    `frozen=True` for type checkers, which do not see inherited Struct options)."""

# Resource type names: the keys of `Inventory` collections, of `unreadable`, and of rule `needs`.
RESOURCE_TYPES = (
    "vpcs",
    "subnets",
    "route_tables",
    "internet_gateways",
    "egress_only_internet_gateways",
    "nat_gateways",
    "network_acls",
    "security_groups",
    "instances",
    "network_interfaces",
    "vpc_peering_connections",
)


class Tagged(Model, frozen=True):
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.tags.get("Name", "")


class Vpc(Tagged, frozen=True):
    id: str = ""
    cidr_blocks: tuple[str, ...] = ()
    ipv6_cidr_blocks: tuple[str, ...] = ()
    is_default: bool = False
    state: str = "available"
    owner_id: str = ""


class Subnet(Tagged, frozen=True):
    id: str = ""
    vpc_id: str = ""
    cidr_block: str = ""
    ipv6_cidr_blocks: tuple[str, ...] = ()
    availability_zone: str = ""
    availability_zone_id: str = ""
    map_public_ip_on_launch: bool = False
    assign_ipv6_address_on_creation: bool = False
    default_for_az: bool = False
    available_ip_address_count: int = 0
    state: str = "available"


class Route(Model, frozen=True):
    """One route. Exactly one destination and (usually) one target is set.

    `target_kind` is one of: local, internet_gateway, egress_only_igw, nat_gateway, instance,
    network_interface, vpc_peering, transit_gateway, vpc_endpoint, carrier_gateway,
    local_gateway, core_network, unknown.
    """

    destination_cidr: str = ""
    destination_ipv6_cidr: str = ""
    destination_prefix_list: str = ""
    target_kind: str = "unknown"
    target_id: str = ""
    state: str = "active"
    origin: str = ""

    @property
    def destination(self) -> str:
        return self.destination_cidr or self.destination_ipv6_cidr or self.destination_prefix_list


class RouteTableAssociation(Model, frozen=True):
    id: str = ""
    subnet_id: str = ""
    gateway_id: str = ""
    main: bool = False
    state: str = "associated"


class RouteTable(Tagged, frozen=True):
    id: str = ""
    vpc_id: str = ""
    routes: tuple[Route, ...] = ()
    associations: tuple[RouteTableAssociation, ...] = ()

    @property
    def is_main(self) -> bool:
        return any(a.main for a in self.associations)


class Attachment(Model, frozen=True):
    vpc_id: str = ""
    # An attached internet gateway reports "available" (EC2's own wording), others "attached".
    state: str = ""

    @property
    def is_attached(self) -> bool:
        return self.state in ("available", "attached")


class InternetGateway(Tagged, frozen=True):
    id: str = ""
    attachments: tuple[Attachment, ...] = ()
    owner_id: str = ""

    def attached_vpcs(self) -> tuple[str, ...]:
        return tuple(a.vpc_id for a in self.attachments if a.is_attached)


class EgressOnlyInternetGateway(Tagged, frozen=True):
    id: str = ""
    attachments: tuple[Attachment, ...] = ()

    def attached_vpcs(self) -> tuple[str, ...]:
        return tuple(a.vpc_id for a in self.attachments if a.is_attached)


class NatGateway(Tagged, frozen=True):
    id: str = ""
    vpc_id: str = ""
    subnet_id: str = ""
    state: str = "available"
    connectivity_type: str = "public"
    public_ips: tuple[str, ...] = ()


class NaclEntry(Model, frozen=True):
    rule_number: int = 0
    egress: bool = False
    action: str = "allow"  # allow | deny
    protocol: str = "-1"  # "-1" all, or an IP protocol number as text ("6" tcp, "17" udp, "1" icmp)
    cidr_block: str = ""
    ipv6_cidr_block: str = ""
    port_from: int | None = None
    port_to: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None


class NaclAssociation(Model, frozen=True):
    id: str = ""
    subnet_id: str = ""


class NetworkAcl(Tagged, frozen=True):
    id: str = ""
    vpc_id: str = ""
    is_default: bool = False
    entries: tuple[NaclEntry, ...] = ()
    associations: tuple[NaclAssociation, ...] = ()


class UserIdGroupPair(Model, frozen=True):
    group_id: str = ""
    user_id: str = ""
    vpc_id: str = ""
    vpc_peering_connection_id: str = ""
    peering_status: str = ""


class SecurityGroupRule(Model, frozen=True):
    """One rule as AWS's DescribeSecurityGroupRules returns it: one peer per rule, with its id.

    `ip_protocol` is "-1" (all protocols, all ports), "tcp", "udp", "icmp", "icmpv6" or a number.
    For icmp, from_port/to_port carry type/code as AWS does. Exactly one peer field is set.
    """

    id: str = ""
    group_id: str = ""
    egress: bool = False
    ip_protocol: str = "-1"
    from_port: int | None = None
    to_port: int | None = None
    cidr_ipv4: str = ""
    cidr_ipv6: str = ""
    prefix_list_id: str = ""
    referenced_group: UserIdGroupPair | None = None
    description: str = ""


class SecurityGroup(Tagged, frozen=True):
    id: str = ""
    group_name: str = ""
    vpc_id: str = ""
    owner_id: str = ""
    description: str = ""
    rules: tuple[SecurityGroupRule, ...] = ()

    @property
    def ingress(self) -> tuple[SecurityGroupRule, ...]:
        return tuple(r for r in self.rules if not r.egress)

    @property
    def egress(self) -> tuple[SecurityGroupRule, ...]:
        return tuple(r for r in self.rules if r.egress)


class NetworkInterface(Tagged, frozen=True):
    id: str = ""
    subnet_id: str = ""
    vpc_id: str = ""
    private_ip: str = ""
    public_ip: str = ""
    ipv6_addresses: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    instance_id: str = ""
    status: str = ""
    interface_type: str = "interface"


class Instance(Tagged, frozen=True):
    id: str = ""
    instance_type: str = ""
    state: str = ""
    subnet_id: str = ""
    vpc_id: str = ""
    availability_zone: str = ""
    image_id: str = ""
    key_name: str = ""
    private_ip: str = ""
    public_ip: str = ""
    ipv6_addresses: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    network_interface_ids: tuple[str, ...] = ()
    instance_profile_arn: str = ""
    lifecycle: str = ""  # "" (on-demand) or "spot"


class VpcPeeringConnection(Tagged, frozen=True):
    id: str = ""
    requester_vpc_id: str = ""
    accepter_vpc_id: str = ""
    status: str = ""


class Unreadable(Model, frozen=True):
    """A resource type that could not be read, and why. Rules needing it report UNKNOWN."""

    resource_type: str = ""
    error_code: str = ""
    permission: str = ""  # the IAM action that would make it readable
    message: str = ""


class Inventory(Model, frozen=True, gc=True):
    """Everything collected from one account in one region."""

    cloud: str = "aws"
    account: str = ""
    region: str = ""
    collected_at: str = ""
    source: str = ""  # "aws", "sandbox:<scenario>", "snapshot:<file>"
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    internet_gateways: tuple[InternetGateway, ...] = ()
    egress_only_internet_gateways: tuple[EgressOnlyInternetGateway, ...] = ()
    nat_gateways: tuple[NatGateway, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    instances: tuple[Instance, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    vpc_peering_connections: tuple[VpcPeeringConnection, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    # Data collected by other issues' collectors (IAM, quotas, offerings...), keyed by name.
    # Plain JSON-able values only, so snapshots stay simple.
    extra: dict[str, Any] = field(default_factory=dict)

    def permission_data(self) -> dict[str, Any] | None:
        """The permission data an IAM collector stored (AWS `iam`, GCP `gcp`), None if none was.
        The IAM rules look here before importing the permission machinery (YAML catalogue, policy
        evaluator), which an offline check of a snapshot without permission data never needs."""
        return self.extra.get("gcp" if self.cloud == "gcp" else "iam") or None

    def unreadable_types(self) -> set[str]:
        return {u.resource_type for u in self.unreadable}

    def index(self, collection: str) -> dict[str, Any]:
        """Resources of one collection by id (built on demand; callers may cache it)."""
        return {r.id: r for r in getattr(self, collection)}
