"""What a path evaluation returns: the hops, the two ends and the verdict, and the stable codes."""

from __future__ import annotations

from typing import Any, Literal, get_args

from msgspec import Struct

from preflight.findings import Fix
from preflight.inventory.model import Subnet
from preflight.semantics import nacl as nacl_sem

SCHEMA = "preflight-path/v1"
PROTOCOLS = ("tcp", "udp", "icmp", "all")
EPHEMERAL = nacl_sem.EPHEMERAL
INTERNET = "internet"

HopStatus = Literal["ok", "blocked", "unknown"]
Direction = Literal["inbound", "outbound", "return"]
Verdict = Literal["reachable", "unreachable", "unknown"]
# The stable codes of a hop that is not ok (README "Why can't I reach it?"); "" on an ok hop.
HopCode = Literal[
    "NO_ROUTE_TO_DESTINATION", "ROUTE_BLACKHOLE", "IGW_NOT_ATTACHED", "NO_PUBLIC_IP", "NO_IPV6_ADDRESS",
    "EGRESS_ONLY_INBOUND", "RETURN_ROUTE_NOT_IGW", "NAT_NOT_PUBLIC", "INSTANCE_NOT_RUNNING", "NACL_DENY_INBOUND",
    "NACL_DENY_OUTBOUND", "NACL_DENY_RETURN", "SG_NO_INGRESS", "SG_NO_EGRESS", "ROUTE_TARGET_UNSUPPORTED",
    "NACL_NOT_FOUND", "UNREADABLE",
]
HOP_CODES: tuple[HopCode, ...] = get_args(HopCode)

# code -> (fixer id or None, one-line meaning). The README table is written from this.
CODES: dict[HopCode, tuple[str | None, str]] = {
    "NO_ROUTE_TO_DESTINATION": ("route-add-default", "no route covers the destination (or the way back)"),
    "ROUTE_BLACKHOLE": ("route-replace-blackhole", "the chosen route's target is gone (blackhole)"),
    "IGW_NOT_ATTACHED": ("igw-attach", "the internet gateway is not attached to the VPC"),
    "NO_PUBLIC_IP": ("subnet-map-public-ip", "no public IPv4 address, so the internet cannot address it"),
    "NO_IPV6_ADDRESS": (None, "IPv6 path but the endpoint has no IPv6 address"),
    "EGRESS_ONLY_INBOUND": (None, "the way back is an egress-only IGW, which admits no inbound connection"),
    "RETURN_ROUTE_NOT_IGW": (None, "the way back to the internet goes through a NAT gateway or other non-IGW"),
    "NAT_NOT_PUBLIC": (None, "a private NAT gateway cannot reach the internet"),
    "INSTANCE_NOT_RUNNING": (None, "the instance is not running"),
    "NACL_DENY_INBOUND": (None, "the subnet's network ACL denies the packet inbound"),
    "NACL_DENY_OUTBOUND": (None, "the subnet's network ACL denies the packet outbound"),
    "NACL_DENY_RETURN": (None, "the network ACL denies the reply on ephemeral ports 1024-65535"),
    "SG_NO_INGRESS": ("sg-open-missing-ports", "no security group rule admits the packet inbound"),
    "SG_NO_EGRESS": (None, "no security group egress rule lets the packet out"),
    "ROUTE_TARGET_UNSUPPORTED": (None, "unknown: the route goes through a target preflight does not follow"),
    "NACL_NOT_FOUND": (None, "unknown: no network ACL is recorded for the subnet"),
    "UNREADABLE": (None, "unknown: data needed for this hop could not be read"),
}

PERMISSION = {
    "security_groups": "ec2:DescribeSecurityGroups and ec2:DescribeSecurityGroupRules",
    "network_acls": "ec2:DescribeNetworkAcls",
    "route_tables": "ec2:DescribeRouteTables",
    "internet_gateways": "ec2:DescribeInternetGateways",
    "egress_only_internet_gateways": "ec2:DescribeEgressOnlyInternetGateways",
    "nat_gateways": "ec2:DescribeNatGateways",
}


# --- results -----------------------------------------------------------------------------------
class Hop(Struct, frozen=True):
    """One place the packet passes, and what it found there."""

    kind: str  # internet_gateway, egress_only_igw, nat_gateway, route_table, public_ip, network_acl,
    #           security_group, instance, network_interface, subnet, vpc_peering
    id: str
    direction: Direction
    status: HopStatus
    detail: str
    code: HopCode | Literal[""] = ""
    rule: str = ""  # the rule or route that admitted (or blocked) the packet, as text
    refs: tuple[str, ...] = ()  # ids involved: rule ids, gateway ids
    fix: Fix | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "direction": self.direction, "status": self.status,
                "code": self.code or None, "detail": self.detail, "rule": self.rule or None,
                "refs": list(self.refs), "fix": self.fix.to_dict() if self.fix else None}


class Endpoint(Struct, frozen=True):
    kind: str  # internet | instance | network_interface | subnet
    id: str  # cloud id, or "internet"
    input: str
    cidr: str = ""  # the address (or range) of this end in the path's IP family
    subnet: Subnet | None = None
    group_ids: tuple[str, ...] = ()
    public_ip: str = ""  # an address, "on launch", or ""
    ipv6: str = ""  # an IPv6 address, "on launch", or ""
    state: str = ""
    label: str = ""
    groups_from: str = ""  # for a subnet: "plan" (the launch's groups) or "default" (the VPC's default group)

    @property
    def internal(self) -> bool:
        return self.kind != INTERNET

    @property
    def vpc_id(self) -> str:
        return self.subnet.vpc_id if self.subnet else ""

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "kind": self.kind, "id": self.id, "address": self.cidr,
                "subnet": self.subnet.id if self.subnet else None, "vpc": self.vpc_id or None,
                "security_groups": list(self.group_ids), "public_ip": self.public_ip or None,
                "ipv6": self.ipv6 or None, "name": self.label or None}


class PathResult(Struct, frozen=True):
    source: Endpoint
    destination: Endpoint
    protocol: str
    port: int | None
    version: int
    hops: tuple[Hop, ...]
    region: str = ""
    account: str = ""
    origin: str = ""  # the inventory's source: aws, sandbox:<name>, snapshot:<file>

    @property
    def blockers(self) -> tuple[Hop, ...]:
        return tuple(h for h in self.hops if h.status == "blocked")

    @property
    def unknowns(self) -> tuple[Hop, ...]:
        return tuple(h for h in self.hops if h.status == "unknown")

    @property
    def verdict(self) -> Verdict:
        if self.blockers:
            return "unreachable"
        return "unknown" if self.unknowns else "reachable"

    @property
    def reachable(self) -> bool:
        return self.verdict == "reachable"

    @property
    def first_blocker(self) -> Hop | None:
        stops = self.blockers or self.unknowns
        return stops[0] if stops else None

    @property
    def code(self) -> HopCode | None:
        hop = self.first_blocker
        return hop.code or None if hop else None

    @property
    def codes(self) -> list[HopCode]:
        return [h.code for h in self.blockers if h.code]

    def exit_code(self) -> int:
        return {"reachable": 0, "unreachable": 1, "unknown": 3}[self.verdict]

    def shown_hops(self, all_blockers: bool = False) -> tuple[Hop, ...]:
        """All hops with --all-blockers, else the hops up to and including the first stop."""
        first = self.first_blocker
        if all_blockers or first is None:
            return self.hops
        return self.hops[: self.hops.index(first) + 1]

    def to_dict(self, all_blockers: bool = False) -> dict[str, Any]:
        first = self.first_blocker
        blockers = (self.blockers + self.unknowns) if all_blockers else ((first,) if first else ())
        return {
            "schema": SCHEMA,
            "region": self.region,
            "account": self.account,
            "origin": self.origin,
            "from": self.source.to_dict(),
            "to": self.destination.to_dict(),
            "protocol": self.protocol,
            "port": self.port,
            "ip_version": self.version,
            "verdict": self.verdict,
            "code": self.code,
            "blocker": first.to_dict() if first else None,
            "blockers": [h.to_dict() for h in blockers],
            "hops": [h.to_dict() for h in self.shown_hops(all_blockers)],
        }
