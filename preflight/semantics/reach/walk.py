"""The walk: every hop a packet meets between two resolved ends, in order, with its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflight.errors import PreflightError
from preflight.inventory.model import Inventory, NaclEntry, NetworkAcl, Route, RouteTable, Subnet
from preflight.semantics import nacl as nacl_sem
from preflight.semantics.reach.model import (
    EPHEMERAL,
    PERMISSION,
    PROTOCOLS,
    Direction,
    Endpoint,
    Hop,
    HopCode,
    PathResult,
)
from preflight.semantics.reach.remedies import (
    fix_add_route,
    fix_attach_igw,
    fix_inbound_via_igw,
    fix_ipv6,
    fix_nacl,
    fix_public_ip,
    fix_replace_blackhole,
    fix_sg,
    fix_start_instance,
)
from preflight.semantics.reach.resolve import Resolver, explicit_version, with_address
from preflight.semantics.routes import Topology
from preflight.semantics.secgroups import atoms as sg_atoms
from preflight.semantics.secgroups import describe_protocol_ports, rules_admitting

_RUNNING = frozenset({"running", "pending", ""})


@dataclass
class _Walk:
    inv: Inventory
    topo: Topology
    protocol: str
    port: int | None
    version: int
    hops: list[Hop] = field(default_factory=list)
    _acls: dict[str, NetworkAcl] | None = None

    def add(self, hop: Hop) -> Hop:
        self.hops.append(hop)
        return hop

    def unreadable(self, rtype: str, kind: str, hid: str, direction: Direction) -> Hop | None:
        if rtype in self.inv.unreadable_types():
            return self.add(Hop(kind, hid, direction, "unknown",
                                f"{rtype} could not be read; grant {PERMISSION.get(rtype, 'the Describe permission')}",
                                code="UNREADABLE"))
        return None

    @property
    def what(self) -> str:
        return f"{self.protocol}/{self.port}" if self.port is not None else self.protocol

    # --- endpoint hops
    def endpoint(self, ep: Endpoint, direction: Direction) -> None:
        if ep.kind == "instance" and ep.state not in _RUNNING:
            self.add(Hop("instance", ep.id, direction, "blocked", f"{ep.id} is {ep.state}",
                         code="INSTANCE_NOT_RUNNING",
                         fix=fix_start_instance(ep.id, self.inv.region)))
            return
        if ep.kind == "subnet":
            assert ep.subnet is not None
            groups = ", ".join(ep.group_ids) or "no security group"
            if ep.groups_from == "default":
                groups += f" (the default group of {ep.subnet.vpc_id}; --security-group names the launch's)"
            detail = f"an instance launched in {ep.subnet.id} ({ep.subnet.cidr_block or '-'}) with {groups}"
        else:
            detail = f"{ep.id} at {ep.cidr or '-'} in {ep.subnet.id if ep.subnet else '-'}"
        self.add(Hop(ep.kind, ep.id, direction, "ok", detail))

    def address(self, ep: Endpoint, direction: Direction) -> None:
        """The endpoint needs an address the internet can use: public IPv4, or any IPv6."""
        assert ep.subnet is not None
        if self.version == 6:
            if ep.ipv6:
                self.add(Hop("public_ip", ep.id, direction, "ok", f"IPv6 address {ep.ipv6}", rule=ep.ipv6))
            else:
                why = ("the subnet has no IPv6 CIDR" if not ep.subnet.ipv6_cidr_blocks else
                       "the subnet does not assign IPv6 addresses on launch") if ep.kind == "subnet" else \
                      f"{ep.id} has no IPv6 address"
                self.add(Hop("public_ip", ep.id, direction, "blocked",
                             f"{why}, so it cannot take part in an IPv6 path", code="NO_IPV6_ADDRESS",
                             fix=fix_ipv6(ep, self.inv.region)))
            return
        if ep.public_ip:
            src = "mapped on launch by " + ep.subnet.id if ep.public_ip == "on launch" else ep.public_ip
            self.add(Hop("public_ip", ep.id, direction, "ok", f"public IPv4 address {src}", rule=ep.public_ip))
            return
        why = (f"{ep.subnet.id} does not map public IPv4 addresses on launch and the plan does not ask for one"
               if ep.kind == "subnet" else f"{ep.id} has no public IPv4 address")
        self.add(Hop("public_ip", ep.id, direction, "blocked",
                     f"{why}, so the internet gateway has no address to translate to",
                     code="NO_PUBLIC_IP", fix=fix_public_ip(ep, self.inv.region)))

    def sg(self, ep: Endpoint, peer: str, egress: bool, peer_groups: tuple[str, ...] = ()) -> None:
        """Security groups of `ep` for traffic from (to, when egress) `peer`; inside the account
        `peer_groups` are the other end's groups, which rules may reference instead of a CIDR."""
        direction: Direction = "outbound" if egress else "inbound"
        hid = ",".join(ep.group_ids) or "-"
        if self.unreadable("security_groups", "security_group", hid, direction):
            return
        groups = [g for g in self.inv.security_groups if g.id in ep.group_ids]
        if not groups:
            self.add(Hop("security_group", hid, direction, "unknown",
                         f"the security groups of {ep.id} ({hid}) are not in the inventory", code="UNREADABLE"))
            return
        if not peer:
            return
        proto = "icmpv6" if self.protocol == "icmp" and self.version == 6 else self.protocol
        proto = "-1" if proto == "all" else proto
        rules = rules_admitting(groups, proto, self.port, peer, egress=egress)
        via = peer
        for gid in peer_groups:
            if rules:
                break
            rules, via = rules_admitting(groups, proto, self.port, gid, egress=egress), gid
        verb, prep = ("egress", "to") if egress else ("ingress", "from")
        if rules:
            r = rules[0]
            atom = sg_atoms(r)[0]
            allowed = describe_protocol_ports(atom.protocol, atom.ports)
            peer_txt = atom.peer.value or via
            self.add(Hop("security_group", r.group_id, direction, "ok",
                         f"{r.group_id} {verb} rule {r.id or '(no id)'} allows {allowed} {prep} {peer_txt}",
                         rule=f"{r.id} {allowed} {prep} {peer_txt}".strip(),
                         refs=tuple(x.id for x in rules if x.id)))
            return
        code: HopCode = "SG_NO_EGRESS" if egress else "SG_NO_INGRESS"
        target = groups[0].id
        self.add(Hop("security_group", target, direction, "blocked",
                     f"no {verb} rule in {', '.join(g.id for g in groups)} allows {self.what} {prep} {peer}"
                     + (f" (nor from its groups {', '.join(peer_groups)})" if peer_groups and not egress else ""),
                     code=code, refs=tuple(g.id for g in groups),
                     fix=fix_sg(target, self.protocol, self.port, peer, egress, self.inv.region)))

    def acl_of(self, subnet: Subnet) -> NetworkAcl | None:
        if self._acls is None:
            self._acls = nacl_sem.subnet_acls(self.inv)
        return self._acls.get(subnet.id)

    def nacl(self, subnet: Subnet, peer: str, egress: bool, ret: bool) -> None:
        direction: Direction = "return" if ret else ("outbound" if egress else "inbound")
        if self.unreadable("network_acls", "network_acl", subnet.id, direction):
            return
        acl = self.acl_of(subnet)
        if acl is None:
            self.add(Hop("network_acl", subnet.id, direction, "unknown",
                         f"no network ACL is recorded for {subnet.id}", code="NACL_NOT_FOUND"))
            return
        if not peer:
            return
        proto = "icmpv6" if self.protocol == "icmp" and self.version == 6 else self.protocol
        proto = "-1" if proto == "all" else proto
        way = "out" if egress else "in"
        prep = "to" if egress else "from"
        if ret and proto in ("tcp", "udp"):
            bad = nacl_sem.blocked_ephemeral(acl, egress, proto, peer)
            if not bad:
                self.add(Hop("network_acl", acl.id, direction, "ok",
                             f"{acl.id} lets replies {way} {prep} {peer} on ports {EPHEMERAL[0]}-{EPHEMERAL[1]}",
                             rule=self._entry_text(nacl_sem.first_match(acl, egress, proto, EPHEMERAL[0], peer))))
                return
            entry = nacl_sem.first_match(acl, egress, proto, bad[0], peer)
            self.add(Hop("network_acl", acl.id, direction, "blocked",
                         f"{acl.id} denies replies {way} {prep} {peer} on ephemeral port {bad[0]}"
                         f"{' and others' if len(bad) > 1 else ''} by {self._entry_text(entry)}; the request "
                         f"gets in but no answer gets back",
                         code="NACL_DENY_RETURN", rule=self._entry_text(entry),
                         fix=fix_nacl(acl, egress, proto, EPHEMERAL, peer, entry, self.inv.region)))
            return
        entry = nacl_sem.first_match(acl, egress, proto, self.port, peer)
        what = self.what + (" (reply)" if ret else "")
        if entry is not None and entry.action == "allow":
            self.add(Hop("network_acl", acl.id, direction, "ok",
                         f"{acl.id} {self._entry_text(entry)} lets {what} {way} {prep} {peer}",
                         rule=self._entry_text(entry)))
            return
        code: HopCode = "NACL_DENY_RETURN" if ret else ("NACL_DENY_OUTBOUND" if egress else "NACL_DENY_INBOUND")
        ports = None if self.port is None else (self.port, self.port)
        self.add(Hop("network_acl", acl.id, direction, "blocked",
                     f"{acl.id} {self._entry_text(entry)} denies {what} {way} {prep} {peer}",
                     code=code, rule=self._entry_text(entry),
                     fix=fix_nacl(acl, egress, proto if proto != "-1" else "all", ports, peer, entry,
                                   self.inv.region)))

    @staticmethod
    def _entry_text(entry: NaclEntry | None) -> str:
        if entry is None:
            return "rule * (implicit deny)"
        proto = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(entry.protocol, entry.protocol)
        ports = ""
        if entry.protocol in ("6", "17") and entry.port_from is not None:
            ports = f" {entry.port_from}" if entry.port_from == entry.port_to else f" {entry.port_from}-{entry.port_to}"
        return f"rule #{entry.rule_number} {entry.action} {proto}{ports} {entry.cidr_block or entry.ipv6_cidr_block}"

    # --- routes and gateways
    def route(self, subnet: Subnet, dest: str, direction: Direction,
              purpose: str) -> tuple[RouteTable | None, Route | None]:
        """The route `subnet` takes to `dest`; adds a route_table hop. Returns (table, route) with
        route None when there is none (already reported as blocked)."""
        if self.unreadable("route_tables", "route_table", subnet.id, direction):
            return None, None
        choice = self.topo.effective_route_table(subnet.id)
        if choice is None:
            self.add(Hop("route_table", subnet.id, direction, "blocked",
                         f"{subnet.id} has no route table (no explicit association and its VPC has no main table)",
                         code="NO_ROUTE_TO_DESTINATION"))
            return None, None
        table = choice.table
        route = self.topo.select_route(table, dest)
        assoc = (f"explicitly associated with {subnet.id}" if choice.association == "explicit"
                 else f"the main table of {table.vpc_id}, used by {subnet.id}")
        wanted = f"default route ({dest})" if dest in ("0.0.0.0/0", "::/0") else f"route that covers {dest}"
        if route is None:
            self.add(Hop("route_table", table.id, direction, "blocked",
                         f"{table.id} ({assoc}) has no {wanted}, so {purpose} has nowhere to go",
                         code="NO_ROUTE_TO_DESTINATION",
                         fix=fix_add_route(self.topo, table, dest, outbound=direction == "outbound")))
            return table, None
        return table, route

    def route_hop(self, table: RouteTable, route: Route, subnet: Subnet, direction: Direction, ok_detail: str) -> bool:
        """Report the route itself; False when it is a blackhole (target gone)."""
        state = self.topo.route_state(route, table.vpc_id)
        text = f"{route.destination} -> {route.target_id or route.target_kind}"
        igw = self.topo.igws.get(route.target_id) if route.target_kind == "internet_gateway" else None
        # a gateway that exists but is detached is reported at the gateway hop (IGW_NOT_ATTACHED)
        detached_igw = igw is not None and table.vpc_id not in igw.attached_vpcs()
        if state == "blackhole" and not detached_igw:
            self.add(Hop("route_table", table.id, direction, "blocked",
                         f"{table.id} route {text} is a blackhole: {route.target_id or 'its target'} no longer "
                         f"exists or is not usable", code="ROUTE_BLACKHOLE", rule=text,
                         refs=(route.target_id,) if route.target_id else (),
                         fix=fix_replace_blackhole(self.topo, table, route)))
            return False
        self.add(Hop("route_table", table.id, direction, "ok", f"{table.id} route {text} {ok_detail}",
                     rule=text, refs=(route.target_id,) if route.target_id else ()))
        return True

    def igw_hop(self, igw_id: str, vpc_id: str, direction: Direction) -> bool:
        igw = self.topo.igws.get(igw_id)
        if igw is not None and vpc_id in igw.attached_vpcs():
            self.add(Hop("internet_gateway", igw_id, direction, "ok", f"{igw_id} is attached to {vpc_id}"))
            return True
        where = (f"attached to {', '.join(igw.attached_vpcs())}" if igw is not None and igw.attached_vpcs()
                 else "detached")
        self.add(Hop("internet_gateway", igw_id, direction, "blocked",
                     f"{igw_id} is {where}, not attached to {vpc_id}, so traffic routed to it is dropped",
                     code="IGW_NOT_ATTACHED", fix=fix_attach_igw(self.topo, igw_id, vpc_id)))
        return False

    def any_igw_hop(self, vpc_id: str, direction: Direction, note: str = "no route leads to it") -> None:
        """No usable route told us which gateway: is there any IGW attached to the VPC?"""
        if self.unreadable("internet_gateways", "internet_gateway", vpc_id, direction):
            return
        attached = [g.id for g in self.topo.igws_by_vpc.get(vpc_id, [])]
        if attached:
            self.add(Hop("internet_gateway", attached[0], direction, "ok",
                         f"{attached[0]} is attached to {vpc_id} ({note})"))
            return
        detached = [g.id for g in self.topo.igws.values() if not g.attached_vpcs()]
        candidate = detached[0] if detached else ""
        self.add(Hop("internet_gateway", candidate or vpc_id, direction, "blocked",
                     f"{vpc_id} has no internet gateway attached"
                     + (f" ({candidate} exists, detached)" if candidate else ""),
                     code="IGW_NOT_ATTACHED", fix=fix_attach_igw(self.topo, candidate, vpc_id)))

    def to_internet(self, subnet: Subnet, dest: str, ep: Endpoint | None, via_nat: bool = False) -> None:
        """Outbound from `subnet` to the internet address `dest`: route, then the gateway it names.
        `ep` is the sender (None for a NAT gateway's own subnet, which needs no address check)."""
        table, route = self.route(subnet, dest, "outbound",
                                  "traffic from the NAT gateway" if via_nat else "traffic to the internet")
        if table is None:
            return
        if route is None:
            self.any_igw_hop(subnet.vpc_id, "outbound")
            if ep is not None:
                self.address(ep, "outbound")
            return
        kind = route.target_kind
        if kind == "local":
            self.add(Hop("route_table", table.id, "outbound", "blocked",
                         f"{table.id} sends {dest} to the VPC itself (local route), not to the internet",
                         code="NO_ROUTE_TO_DESTINATION", rule=f"{route.destination} -> local"))
            return
        note = f"(longest prefix match{', route table of the NAT gateway subnet' if via_nat else ''})"
        if not self.route_hop(table, route, subnet, "outbound", note):
            return
        if kind == "internet_gateway":
            self.igw_hop(route.target_id, subnet.vpc_id, "outbound")
            if ep is not None:
                self.address(ep, "outbound")
        elif kind == "egress_only_igw":
            self.add(Hop("egress_only_igw", route.target_id, "outbound", "ok",
                         f"{route.target_id} lets IPv6 traffic out (and only replies back in)"))
            if ep is not None:
                self.address(ep, "outbound")
        elif kind == "nat_gateway" and not via_nat:
            self.nat(route.target_id, dest)
        else:
            self.add(Hop(kind, route.target_id or kind, "outbound", "unknown",
                         f"{route.target_id or kind} is a {kind.replace('_', ' ')}; preflight does not follow "
                         f"routes through it, so it cannot tell whether {dest} is reached",
                         code="ROUTE_TARGET_UNSUPPORTED", rule=f"{route.destination} -> {route.target_id or kind}"))

    def nat(self, nat_id: str, dest: str) -> None:
        if self.unreadable("nat_gateways", "nat_gateway", nat_id, "outbound"):
            return
        nat = self.topo.nats[nat_id]
        if nat.connectivity_type == "private":
            self.add(Hop("nat_gateway", nat_id, "outbound", "blocked",
                         f"{nat_id} is a private NAT gateway; it cannot reach the internet",
                         code="NAT_NOT_PUBLIC"))
            return
        addr = ", ".join(nat.public_ips) or "its Elastic IP"
        self.add(Hop("nat_gateway", nat_id, "outbound", "ok",
                     f"{nat_id} in {nat.subnet_id} translates to {addr}", refs=(nat.subnet_id,)))
        subnet = self.topo.subnets.get(nat.subnet_id)
        if subnet is None:
            self.add(Hop("nat_gateway", nat_id, "outbound", "unknown",
                         f"the subnet of {nat_id} ({nat.subnet_id}) is not in the inventory", code="UNREADABLE"))
            return
        self.to_internet(subnet, dest, None, via_nat=True)

    def from_internet(self, ep: Endpoint, source: str) -> None:
        """Inbound from `source` (an internet address): IGW, the route back, the public address."""
        assert ep.subnet is not None
        subnet = ep.subnet
        mark = len(self.hops)
        table, route = self.route(subnet, source, "return",
                                  "the reply to " + ("the internet" if source in ("0.0.0.0/0", "::/0") else source))
        route_hops = self.hops[mark:]
        del self.hops[mark:]  # shown after the gateway hop, in the order the packet meets them
        if table is None or route is None:
            self.any_igw_hop(subnet.vpc_id, "inbound")
            self.hops.extend(route_hops)
        elif route.target_kind == "internet_gateway" and route.target_id in self.topo.igws:
            self.igw_hop(route.target_id, subnet.vpc_id, "inbound")
            self.route_hop(table, route, subnet, "return", f"(longest prefix match for {source})")
        else:
            self.any_igw_hop(subnet.vpc_id, "inbound", "but the way back does not lead to it")
            text = f"{route.destination} -> {route.target_id or route.target_kind}"
            if route.target_kind == "egress_only_igw":
                self.add(Hop("route_table", table.id, "return", "blocked",
                             f"{table.id} sends replies to {source} through egress-only gateway {route.target_id}, "
                             f"which lets connections out but never in", code="EGRESS_ONLY_INBOUND",
                             rule=text, refs=(route.target_id,),
                             fix=fix_inbound_via_igw(self.topo, table, route)))
            elif self.topo.route_state(route, table.vpc_id) == "blackhole" or route.target_kind == "internet_gateway":
                self.route_hop(table, route, subnet, "return", "")
            else:
                kind = route.target_kind.replace("_", " ")
                self.add(Hop("route_table", table.id, "return", "blocked",
                             f"{table.id} sends replies to {source} through {route.target_id or kind} ({kind}), "
                             f"not an internet gateway, so the internet cannot open connections to {subnet.id}",
                             code="RETURN_ROUTE_NOT_IGW", rule=text,
                             refs=(route.target_id,) if route.target_id else ()))
        self.address(ep, "inbound")

    def internal_route(self, a: Endpoint, b: Endpoint, direction: Direction) -> bool:
        """Route from a's subnet to b's address: local inside one VPC, else an active peering."""
        assert a.subnet is not None and b.subnet is not None
        if self.unreadable("route_tables", "route_table", a.subnet.id, direction):
            return False
        choice = self.topo.effective_route_table(a.subnet.id)
        table = choice.table if choice else None
        route = self.topo.select_route(table, b.cidr) if table is not None else None
        same_vpc = a.vpc_id == b.vpc_id
        if same_vpc and (route is None or route.target_kind == "local"):
            tid = table.id if table is not None else a.subnet.id
            self.add(Hop("route_table", tid, direction, "ok", f"{b.cidr} is inside {a.vpc_id} (local route)",
                         rule=f"{route.destination} -> local" if route else "local"))
            return True
        if table is None or route is None:
            tid = table.id if table is not None else a.subnet.id
            self.add(Hop("route_table", tid, direction, "blocked",
                         f"{tid} has no route to {b.cidr} in {b.vpc_id}",
                         code="NO_ROUTE_TO_DESTINATION"))
            return False
        text = f"{route.destination} -> {route.target_id or route.target_kind}"
        if route.target_kind == "vpc_peering":
            pcx = self.inv.index("vpc_peering_connections").get(route.target_id)
            ok = pcx is not None and pcx.status == "active" and \
                {pcx.requester_vpc_id, pcx.accepter_vpc_id} == {a.vpc_id, b.vpc_id}
            if ok:
                self.add(Hop("route_table", table.id, direction, "ok", f"{table.id} route {text}", rule=text))
                self.add(Hop("vpc_peering", route.target_id, direction, "ok",
                             f"{route.target_id} connects {a.vpc_id} and {b.vpc_id}"))
                return True
            self.add(Hop("route_table", table.id, direction, "blocked",
                         f"{table.id} route {text}: the peering connection is "
                         f"{pcx.status if pcx else 'gone'} or does not join {a.vpc_id} and {b.vpc_id}",
                         code="ROUTE_BLACKHOLE", rule=text, refs=(route.target_id,)))
            return False
        if self.topo.route_state(route, table.vpc_id) == "blackhole":
            self.add(Hop("route_table", table.id, direction, "blocked", f"{table.id} route {text} is a blackhole",
                         code="ROUTE_BLACKHOLE", rule=text, fix=fix_replace_blackhole(self.topo, table, route)))
            return False
        self.add(Hop("route_table", table.id, direction, "unknown",
                     f"{table.id} route {text} goes through a {route.target_kind.replace('_', ' ')}; "
                     f"preflight does not follow it", code="ROUTE_TARGET_UNSUPPORTED", rule=text))
        return False


def _validate(protocol: str, port: int | None) -> tuple[str, int | None]:
    proto = (protocol or "").lower()
    if proto not in PROTOCOLS:
        raise PreflightError(f"--protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if proto in ("tcp", "udp"):
        if port is None:
            raise PreflightError(f"--port is needed for {proto} (or use --protocol icmp or all)")
        if not 1 <= port <= 65535:
            raise PreflightError(f"--port: {port} is out of range 1-65535")
    elif port is not None:
        raise PreflightError(f"--port applies to tcp and udp only, not {proto}")
    return proto, port


def path(inventory: Inventory, src: str, dst: str, protocol: str = "tcp", port: int | None = None, *,
         security_groups: tuple[str, ...] = (), public_ip: bool | None = None, version: int | None = None,
         topology: Topology | None = None) -> PathResult:
    """Evaluate the path SRC -> DST. Raises PreflightError on bad input (unknown ids, not a CIDR,
    port out of range, both ends outside the account).

    `security_groups` and `public_ip` describe an instance launched in a subnet endpoint (the
    plan's groups and public_ip); `version` forces IPv4 or IPv6 when neither end is an address.
    """
    proto, port = _validate(protocol, port)
    versions = {v for v in (explicit_version(src), explicit_version(dst)) if v}
    if len(versions) > 1:
        raise PreflightError(f"{src} and {dst} are not in the same IP family")
    if version is not None and versions and version not in versions:
        raise PreflightError(f"--ipv6 does not fit {src if explicit_version(src) else dst}")
    ver = version or (versions.pop() if versions else 4)
    topo = topology or Topology(inventory)
    resolver = Resolver(inventory, topo, tuple(security_groups), public_ip)
    a = with_address(resolver.resolve(src), ver)
    b = with_address(resolver.resolve(dst), ver)
    if not a.internal and not b.internal:
        raise PreflightError(f"neither {src} nor {dst} is in {inventory.region}: one end must be an instance, "
                             f"ENI, subnet or an address inside one of its subnets")
    walk = _Walk(inventory, topo, proto, port, ver)
    if not a.internal:
        _inbound(walk, a, b)
    elif not b.internal:
        _outbound(walk, a, b)
    else:
        _internal(walk, a, b)
    hops = tuple(walk.hops)
    return PathResult(source=a, destination=b, protocol=proto, port=port, version=ver, hops=hops,
                      region=inventory.region, account=inventory.account, origin=inventory.source)


def path_validate(protocol: str, port: int | None) -> None:
    """Raise PreflightError for a bad protocol/port before anything is read."""
    _validate(protocol, port)


def path_in(inventories: list[Inventory], src: str, dst: str, protocol: str = "tcp", port: int | None = None,
            **kw: Any) -> tuple[PathResult, Inventory]:
    """`path` in the first inventory (region) that holds both ends; the first region's error if none."""
    if not inventories:
        raise PreflightError("nothing was read (no region)")
    first_error: PreflightError | None = None
    for inv in inventories:
        try:
            return path(inv, src, dst, protocol, port, **kw), inv
        except PreflightError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _needs_address(walk: _Walk, ep: Endpoint, direction: Direction) -> bool:
    """IPv6 path to an endpoint without an IPv6 address: report it once and stop the address hops."""
    if ep.cidr:
        return True
    walk.address(ep, direction)
    return False


def _inbound(walk: _Walk, src: Endpoint, dst: Endpoint) -> None:
    assert dst.subnet is not None
    walk.from_internet(dst, src.cidr)
    peer = src.cidr
    walk.nacl(dst.subnet, peer, egress=False, ret=False)
    walk.sg(dst, peer, egress=False)
    walk.endpoint(dst, "inbound")
    walk.nacl(dst.subnet, peer, egress=True, ret=True)


def _outbound(walk: _Walk, src: Endpoint, dst: Endpoint) -> None:
    assert src.subnet is not None
    walk.endpoint(src, "outbound")
    peer = dst.cidr
    walk.sg(src, peer, egress=True)
    walk.nacl(src.subnet, peer, egress=True, ret=False)
    walk.to_internet(src.subnet, peer, src)
    walk.nacl(src.subnet, peer, egress=False, ret=True)


def _internal(walk: _Walk, src: Endpoint, dst: Endpoint) -> None:
    assert src.subnet is not None and dst.subnet is not None
    walk.endpoint(src, "outbound")
    have_a = _needs_address(walk, src, "outbound")
    have_b = _needs_address(walk, dst, "inbound")
    if not (have_a and have_b):
        return
    crossing = src.subnet.id != dst.subnet.id  # NACLs filter at the subnet boundary only
    walk.sg(src, dst.cidr, egress=True, peer_groups=dst.group_ids)
    if crossing:
        walk.nacl(src.subnet, dst.cidr, egress=True, ret=False)
    routed = walk.internal_route(src, dst, "outbound")
    if crossing:
        walk.nacl(dst.subnet, src.cidr, egress=False, ret=False)
    walk.sg(dst, src.cidr, egress=False, peer_groups=src.group_ids)
    walk.endpoint(dst, "inbound")
    if crossing:
        walk.nacl(dst.subnet, src.cidr, egress=True, ret=True)
        if routed and src.vpc_id != dst.vpc_id:
            walk.internal_route(dst, src, "return")
        walk.nacl(src.subnet, dst.cidr, egress=False, ret=True)


def internet_usable(inventory: Inventory, subnet_id: str, public_ip: bool | None = None,
                    topology: Topology | None = None) -> bool:
    """Can an instance launched in `subnet_id` be reached from the internet over IPv4 or IPv6
    (gateways, routes and addresses; ports aside)? NET001's test for a usable subnet."""
    topo = topology or Topology(inventory)
    if not internet_blockers(inventory, subnet_id, public_ip, 4, topo):
        return True
    return bool(topo.subnets[subnet_id].ipv6_cidr_blocks) and not internet_blockers(
        inventory, subnet_id, public_ip, 6, topo)


# --- NET001's question, answered by the same engine ----------------------------------------------
def internet_blockers(inventory: Inventory, subnet_id: str, public_ip: bool | None = None, version: int = 4,
                      topology: Topology | None = None) -> list[Hop]:
    """Why an instance launched in `subnet_id` cannot be reached from the internet, at the level of
    gateways, routes and addresses (no ports: NACLs and security groups are not looked at).
    Empty when it can. The hops are in the order `preflight path` shows them, so the first one is
    the reason `preflight path --from internet --to SUBNET` names first."""
    topo = topology or Topology(inventory)
    subnet = topo.subnets[subnet_id]
    # Built directly (no group lookup: ports aside), so NET001 stays linear in the number of subnets.
    ep = with_address(Endpoint(
        kind="subnet", id=subnet.id, input=subnet.id, subnet=subnet, label=subnet.name,
        public_ip="on launch" if bool(public_ip) or subnet.map_public_ip_on_launch else "",
        ipv6="on launch" if subnet.ipv6_cidr_blocks and subnet.assign_ipv6_address_on_creation else ""), version)
    walk = _Walk(inventory, topo, "all", None, version)
    walk.from_internet(ep, "0.0.0.0/0" if version == 4 else "::/0")
    return [h for h in walk.hops if h.status != "ok"]
