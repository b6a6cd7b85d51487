"""Route semantics: effective route table, effective route state, longest-prefix-match selection.

One truth for every rule, fixer, `path` and `launch`. Pure: reads an Inventory, never a cloud.

EC2's rules, as implemented here:
- A subnet uses its explicitly associated route table, else its VPC's main route table.
- A packet takes the most specific (longest prefix) matching route; IPv4 and IPv6 are separate.
- A route whose target is gone (deleted NAT gateway, detached or deleted IGW) is a blackhole.
  moto reports every route `active`, so the state is derived from the target as EC2 would.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from functools import cached_property
from typing import Literal

from msgspec import Struct

from preflight.inventory.model import (
    EgressOnlyInternetGateway,
    InternetGateway,
    Inventory,
    NatGateway,
    Route,
    RouteTable,
    Subnet,
)
from preflight.semantics.cidrs import Net, whole_space_cover

IPV4_DEFAULT = "0.0.0.0/0"
IPV6_DEFAULT = "::/0"
DEAD_NAT_STATES = frozenset({"deleted", "deleting", "failed"})


class RouteChoice(Struct, frozen=True):
    table: RouteTable
    association: str  # "explicit" | "main"


# Topology.internet_route's verdict on a subnet's way to the internet.
InternetVerdict = Literal["ok", "no_route_table", "no_default_route", "blackhole", "not_igw", "igw_not_attached"]
RouteState = Literal["active", "blackhole"]


class Reachability(Struct, frozen=True):
    """Can an instance launched in `subnet` be reached from the internet? (see `public_reachability`)"""

    subnet: Subnet
    choice: RouteChoice | None  # the effective route table
    route: Route | None  # the IPv4 default route (longest prefix match for 0.0.0.0/0)
    verdict: InternetVerdict  # for IPv4
    public_ip: bool  # the instance gets a public IPv4 (subnet maps one, or the launch asks for one)
    ipv6_route: Route | None = None
    ipv6_verdict: InternetVerdict | Literal[""] = ""  # "" when the subnet has no IPv6 CIDR

    @property
    def ipv4_usable(self) -> bool:
        return self.verdict == "ok" and self.public_ip

    @property
    def ipv6_usable(self) -> bool:
        return self.ipv6_verdict == "ok" and self.subnet.assign_ipv6_address_on_creation

    @property
    def usable(self) -> bool:
        return self.subnet.state in ("available", "") and (self.ipv4_usable or self.ipv6_usable)

    def candidate_rank(self, plan_vpc: str = "") -> tuple[int, ...]:
        """How close the subnet is to hosting a reachable instance, lowest first: fewest problems,
        subnets routed to something other than an internet gateway (intentionally private) last.
        NET001 fixes the closest candidate and `preflight launch` then launches there, so the two
        rank with this one function."""
        problems = (int(self.verdict != "ok") + int(not self.public_ip)
                    + int(self.subnet.state not in ("available", ""))
                    + int(bool(plan_vpc) and self.subnet.vpc_id != plan_vpc))
        return (int(self.verdict == "not_igw"), problems)


class Topology:
    """Indexes over one inventory, built once (linear time) and shared by rules via ctx.cached."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.subnets: dict[str, Subnet] = {s.id: s for s in inventory.subnets}
        self.route_tables: dict[str, RouteTable] = {t.id: t for t in inventory.route_tables}
        self.igws: dict[str, InternetGateway] = {g.id: g for g in inventory.internet_gateways}
        self.eigws: dict[str, EgressOnlyInternetGateway] = {
            g.id: g for g in inventory.egress_only_internet_gateways
        }
        self.nats: dict[str, NatGateway] = {n.id: n for n in inventory.nat_gateways}
        self.explicit: dict[str, RouteTable] = {}
        self.main: dict[str, RouteTable] = {}
        for table in inventory.route_tables:
            for assoc in table.associations:
                if assoc.state not in ("associated", ""):
                    continue
                if assoc.main:
                    self.main[table.vpc_id] = table
                elif assoc.subnet_id:
                    self.explicit[assoc.subnet_id] = table
        # Per-table answers, by table identity: thousands of subnets share a few tables, and a
        # frozen table's own hash would walk all its routes and associations on every lookup.
        self._defaults: dict[tuple[int, int], tuple[RouteTable, Route | None]] = {}
        self._nets: dict[tuple[int, int], tuple[RouteTable, list[tuple[Net, Route]]]] = {}

    @cached_property
    def subnets_by_vpc(self) -> dict[str, list[Subnet]]:
        out: dict[str, list[Subnet]] = {}
        for s in self.inventory.subnets:
            out.setdefault(s.vpc_id, []).append(s)
        return out

    @cached_property
    def igws_by_vpc(self) -> dict[str, list[InternetGateway]]:
        out: dict[str, list[InternetGateway]] = {}
        for g in self.inventory.internet_gateways:
            for vpc in g.attached_vpcs():
                out.setdefault(vpc, []).append(g)
        return out

    def effective_route_table(self, subnet_id: str) -> RouteChoice | None:
        table = self.explicit.get(subnet_id)
        if table is not None:
            return RouteChoice(table, "explicit")
        subnet = self.subnets.get(subnet_id)
        if subnet is None:
            return None
        main = self.main.get(subnet.vpc_id)
        return RouteChoice(main, "main") if main is not None else None

    def subnets_using(self, table: RouteTable) -> list[Subnet]:
        """Subnets whose effective table is `table` (explicit ones, plus implicit ones if main)."""
        out = [s for s in self.subnets_by_vpc.get(table.vpc_id, []) if self.explicit.get(s.id) is table]
        if table.is_main:
            out += [s for s in self.subnets_by_vpc.get(table.vpc_id, []) if s.id not in self.explicit]
        return out

    def route_state(self, route: Route, vpc_id: str) -> RouteState:
        """`active` or `blackhole`, judged from the target itself as EC2 would report it."""
        if route.state == "blackhole":
            return "blackhole"
        kind, tid = route.target_kind, route.target_id
        if kind == "internet_gateway":
            igw = self.igws.get(tid)
            if igw is None or vpc_id not in igw.attached_vpcs():
                return "blackhole"
        elif kind == "egress_only_igw":
            eigw = self.eigws.get(tid)
            if eigw is None or (eigw.attachments and vpc_id not in eigw.attached_vpcs()):
                return "blackhole"
        elif kind == "nat_gateway":
            nat = self.nats.get(tid)
            if nat is None or nat.state in DEAD_NAT_STATES:
                return "blackhole"
        return "active"

    def select_route(self, table: RouteTable, destination: str) -> Route | None:
        """Longest prefix match for an address or CIDR, within its IP family. Prefix lists are
        not resolved (their CIDRs are not collected) and so never match. For the whole space
        (0.0.0.0/0, ::/0: "the internet") a /0 split decides, as in `default_route`."""
        target = ipaddress.ip_network(destination, strict=False)
        if target.prefixlen == 0:
            split = self.default_split(table, target.version)
            if split:
                bad = [r for r in split if r.target_kind != "internet_gateway"
                       or self.route_state(r, table.vpc_id) == "blackhole"]
                return (bad or split)[0]
        best: Route | None = None
        best_len = -1
        for net, route in self._table_networks(table, target.version):
            if target.subnet_of(net) and net.prefixlen > best_len:  # type: ignore[arg-type]
                best, best_len = route, net.prefixlen
        return best

    def _table_networks(self, table: RouteTable, version: int) -> list[tuple[Net, Route]]:
        key = (id(table), version)
        hit = self._nets.get(key)
        if hit is None or hit[0] is not table:  # (the table is kept in the entry, so its id stays its own)
            hit = self._nets[key] = (table, list(self._networks(table, version)))
        return hit[1]

    @staticmethod
    def _networks(table: RouteTable, version: int) -> Iterable[tuple[Net, Route]]:
        """(destination network, route) for the table's CIDR routes of one IP family."""
        for route in table.routes:
            dest = route.destination_cidr if version == 4 else route.destination_ipv6_cidr
            if not dest:
                continue
            net = _network(dest)
            if net is not None and net.version == version:
                yield net, route

    def default_route(self, table: RouteTable, version: int = 4) -> Route | None:
        """The route a packet to the internet takes: the longest prefix match for 0.0.0.0/0 or ::/0,
        unless more specific routes together cover the whole address space (a /0 split such as
        0.0.0.0/1 + 128.0.0.0/1): then they decide every destination and a /0 route decides none.
        Of a split, the first route (by address) that is not an active route to an internet gateway
        is returned, else the first one (see `select_route`)."""
        key = (id(table), version)
        hit = self._defaults.get(key)
        if hit is None or hit[0] is not table:
            whole = IPV4_DEFAULT if version == 4 else IPV6_DEFAULT
            hit = self._defaults[key] = (table, self.select_route(table, whole))
        return hit[1]

    def default_split(self, table: RouteTable, version: int = 4) -> list[Route]:
        """The outermost routes (sorted by address) when routes more specific than /0 cover the
        whole IPv4 (or IPv6) space, else []."""
        return whole_space_cover(((n, r) for n, r in self._table_networks(table, version) if n.prefixlen > 0), version)

    def internet_route(self, subnet_id: str,
                       version: int = 4) -> tuple[RouteChoice | None, Route | None, InternetVerdict]:
        """(table choice, default route, verdict) where verdict is one of:
        ok, no_route_table, no_default_route, blackhole, not_igw, igw_not_attached."""
        choice = self.effective_route_table(subnet_id)
        if choice is None:
            return None, None, "no_route_table"
        route = self.default_route(choice.table, version)
        if route is None:
            return choice, None, "no_default_route"
        if route.target_kind != "internet_gateway":
            return choice, route, "not_igw"
        if self.route_state(route, choice.table.vpc_id) == "blackhole":
            igw = self.igws.get(route.target_id)
            return choice, route, "igw_not_attached" if igw is not None else "blackhole"
        return choice, route, "ok"

    def public_reachability(self, subnet_id: str, public_ip: bool | None = None) -> Reachability | None:
        """Reachability of a new instance in `subnet_id` from the internet.

        IPv4 needs an active 0.0.0.0/0 route to an internet gateway attached to the subnet's VPC
        and a public IP (`public_ip`: True when the launch asks for one, None to use the subnet's
        MapPublicIpOnLaunch). IPv6 needs an active ::/0 route to an attached internet gateway (an
        egress-only gateway is outbound only) and AssignIpv6AddressOnCreation.
        """
        subnet = self.subnets.get(subnet_id)
        if subnet is None:
            return None
        choice, route, verdict = self.internet_route(subnet_id, 4)
        v6_route: Route | None = None
        v6_verdict: InternetVerdict | Literal[""] = ""
        if subnet.ipv6_cidr_blocks:
            _, v6_route, v6_verdict = self.internet_route(subnet_id, 6)
        return Reachability(subnet, choice, route, verdict, bool(public_ip) or subnet.map_public_ip_on_launch,
                            v6_route, v6_verdict)


@functools.lru_cache(maxsize=65536)  # tables repeat the same few destinations
def _network(dest: str) -> Net | None:
    try:
        return ipaddress.ip_network(dest, strict=False)
    except ValueError:
        return None
