"""Reachability: can a packet go from SRC to DST, and if not, which hop stops it and why.

One truth for `preflight path` and NET001 (whose per-subnet reasons come from `internet_blockers`).
Pure: reads an Inventory through `Topology` (routes), `nacl` (network ACLs) and `secgroups`
(security groups); never a cloud. Evaluation is linear in the size of the tables it touches.

The hops, in the order a packet meets them:

- internet -> IGW -> route back (the subnet's route for the source, longest prefix match, must
  lead to that IGW) -> public address -> subnet NACL inbound -> security group ingress -> ENI,
  then the reply through the subnet NACL outbound on ephemeral ports 1024-65535;
- ENI -> security group egress -> subnet NACL outbound -> route (longest prefix match) -> IGW
  (needs a public address) | egress-only IGW (IPv6 only, outbound only) | NAT gateway (whose
  own subnet must route to an attached IGW) -> internet, then the reply through the subnet NACL
  inbound on ephemeral ports;
- between two places in the account: security group egress, NACLs of both subnets (not within
  one subnet), the route (local, or an active peering connection both ways), security group
  ingress, and the return NACLs.

Every hop is evaluated even after one blocks (so `--all-blockers` can list them all); hops that
depend on a missing piece (the gateway behind a missing route) are skipped. A hop whose data
could not be read is `unknown`, never `ok`.

Stable codes (documented in README "Why can't I reach it?"):
NO_ROUTE_TO_DESTINATION, ROUTE_BLACKHOLE, IGW_NOT_ATTACHED, NO_PUBLIC_IP, NACL_DENY_INBOUND,
NACL_DENY_RETURN, NACL_DENY_OUTBOUND, SG_NO_INGRESS, SG_NO_EGRESS, and also:
NO_IPV6_ADDRESS (IPv6 path but the endpoint has no IPv6 address), EGRESS_ONLY_INBOUND (the
route back to an internet source goes to an egress-only IGW, which never admits inbound
connections), RETURN_ROUTE_NOT_IGW (the route back goes to a NAT gateway or another target that
is not an IGW), NAT_NOT_PUBLIC (a private NAT gateway cannot reach the internet),
INSTANCE_NOT_RUNNING, and for `unknown` hops ROUTE_TARGET_UNSUPPORTED (transit gateway, VPC
endpoint... not followed), NACL_NOT_FOUND and UNREADABLE.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

from preflight.errors import PreflightError
from preflight.findings import Fix
from preflight.inventory.model import (
    Instance,
    Inventory,
    NaclEntry,
    NetworkAcl,
    NetworkInterface,
    Route,
    RouteTable,
    Subnet,
)
from preflight.semantics import nacl as nacl_sem
from preflight.semantics import remedies as rm
from preflight.semantics.routes import IPV4_DEFAULT, Topology
from preflight.semantics.secgroups import atoms as sg_atoms
from preflight.semantics.secgroups import describe_protocol_ports, resolve_group, rules_admitting

SCHEMA = "preflight-path/v1"
PROTOCOLS = ("tcp", "udp", "icmp", "all")
EPHEMERAL = nacl_sem.EPHEMERAL
INTERNET = "internet"

# code -> (fixer id or None, one-line meaning). The README table is written from this.
CODES: dict[str, tuple[str | None, str]] = {
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

_PERMISSION = {
    "security_groups": "ec2:DescribeSecurityGroups and ec2:DescribeSecurityGroupRules",
    "network_acls": "ec2:DescribeNetworkAcls",
    "route_tables": "ec2:DescribeRouteTables",
    "internet_gateways": "ec2:DescribeInternetGateways",
    "egress_only_internet_gateways": "ec2:DescribeEgressOnlyInternetGateways",
    "nat_gateways": "ec2:DescribeNatGateways",
}

_RUNNING = frozenset({"running", "pending", ""})


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hop:
    """One place the packet passes, and what it found there."""

    kind: str  # internet_gateway, egress_only_igw, nat_gateway, route_table, public_ip, network_acl,
    #           security_group, instance, network_interface, subnet, vpc_peering
    id: str
    direction: str  # inbound | outbound | return
    status: str  # ok | blocked | unknown
    detail: str
    code: str = ""
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


@dataclass(frozen=True)
class Endpoint:
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


@dataclass(frozen=True)
class PathResult:
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
    def verdict(self) -> str:
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
    def code(self) -> str | None:
        hop = self.first_blocker
        return hop.code if hop else None

    @property
    def codes(self) -> list[str]:
        return [h.code for h in self.blockers]

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


# --- resolving SRC and DST ---------------------------------------------------------------------
def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _contains(outer: str, inner: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    net = _net(outer) if outer else None
    return net is not None and net.version == inner.version and inner.subnet_of(net)  # type: ignore[arg-type]


def _overlaps(outer: str, inner: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    net = _net(outer) if outer else None
    return net is not None and net.version == inner.version and inner.overlaps(net)  # type: ignore[arg-type]


def _explicit_version(text: str) -> int | None:
    if text.strip().lower() == INTERNET:
        return None
    net = _net(text.strip())
    return net.version if net is not None else None


class _Resolver:
    def __init__(self, inv: Inventory, topo: Topology, groups: tuple[str, ...], public_ip: bool | None) -> None:
        self.inv, self.topo = inv, topo
        self.groups_override = groups
        self.public_override = public_ip
        self.instances: dict[str, Instance] = inv.index("instances")
        self.enis: dict[str, NetworkInterface] = inv.index("network_interfaces")

    def _need(self, rtype: str, what: str) -> None:
        if rtype in self.inv.unreadable_types():
            raise PreflightError(f"cannot resolve {what}: {rtype} could not be read in {self.inv.region} "
                                 f"(grant {_PERMISSION.get(rtype, 'the Describe permission')})")

    def _subnet(self, subnet_id: str, what: str) -> Subnet:
        subnet = self.topo.subnets.get(subnet_id)
        if subnet is None:
            self._need("subnets", what)
            raise PreflightError(f"{what} is in {subnet_id}, which is not in the inventory of {self.inv.region}")
        return subnet

    def plan_groups(self, vpc_id: str, what: str) -> tuple[str, ...]:
        """The groups an instance launched in `vpc_id` would get: the plan's, else the VPC default."""
        if self.groups_override:
            out = []
            for g in self.groups_override:
                found = [sg for sg in resolve_group(self.inv.security_groups, g, vpc_id) if sg.vpc_id == vpc_id]
                if not found:
                    self._need("security_groups", f"security group {g}")
                    raise PreflightError(f"security group {g!r} is not in {vpc_id} ({what})")
                out.append(found[0].id)
            return tuple(out)
        default = [sg.id for sg in self.inv.security_groups if sg.vpc_id == vpc_id and sg.group_name == "default"]
        return tuple(default[:1])

    def resolve(self, text: str) -> Endpoint:
        t = text.strip()
        if t.lower() == INTERNET:
            return Endpoint(kind=INTERNET, id=INTERNET, input=text)
        if t.startswith("i-"):
            inst = self.instances.get(t)
            if inst is None:
                self._need("instances", t)
                raise PreflightError(f"unknown instance {t} in {self.inv.region}")
            return self._instance(inst, text)
        if t.startswith("eni-"):
            eni = self.enis.get(t)
            if eni is None:
                self._need("network_interfaces", t)
                raise PreflightError(f"unknown network interface {t} in {self.inv.region}")
            return self._eni(eni, text)
        if t.startswith("subnet-"):
            subnet = self.topo.subnets.get(t)
            if subnet is None:
                self._need("subnets", t)
                raise PreflightError(f"unknown subnet {t} in {self.inv.region}")
            return self._subnet_endpoint(subnet, text)
        net = _net(t)
        if net is not None:
            return self._address(net, text)
        named = self._by_name(t)
        if len(named) == 1:
            return named[0]
        if named:
            raise PreflightError(f"the Name {t!r} fits several resources ({', '.join(e.id for e in named)}); "
                                 f"give an id")
        raise PreflightError(f"{text!r} is not an instance id, ENI id, subnet id, IP address or CIDR, the Name tag "
                             f"of one of them, nor the word 'internet'")

    def _by_name(self, name: str) -> list[Endpoint]:
        """Instances, ENIs and subnets whose Name tag is `name` (sandbox ids change every run)."""
        found = [self._instance(i, name) for i in self.inv.instances if i.name == name]
        found += [self._eni(e, name) for e in self.inv.network_interfaces if e.name == name]
        found += [self._subnet_endpoint(s, name) for s in self.inv.subnets if s.name == name]
        return found

    def _instance(self, inst: Instance, text: str) -> Endpoint:
        subnet = self._subnet(inst.subnet_id, inst.id)
        return Endpoint(kind="instance", id=inst.id, input=text, subnet=subnet, group_ids=inst.group_ids,
                        public_ip=inst.public_ip, ipv6=inst.ipv6_addresses[0] if inst.ipv6_addresses else "",
                        state=inst.state, label=inst.name, cidr=inst.private_ip)

    def _eni(self, eni: NetworkInterface, text: str) -> Endpoint:
        subnet = self._subnet(eni.subnet_id, eni.id)
        return Endpoint(kind="network_interface", id=eni.id, input=text, subnet=subnet, group_ids=eni.group_ids,
                        public_ip=eni.public_ip, ipv6=eni.ipv6_addresses[0] if eni.ipv6_addresses else "",
                        label=eni.name, cidr=eni.private_ip)

    def _subnet_endpoint(self, subnet: Subnet, text: str, address: str = "") -> Endpoint:
        # As NET001 reads a plan: `public_ip: true` asks for one; otherwise the subnet's attribute decides.
        public = bool(self.public_override) or subnet.map_public_ip_on_launch
        ipv6 = "on launch" if subnet.ipv6_cidr_blocks and subnet.assign_ipv6_address_on_creation else ""
        return Endpoint(kind="subnet", id=subnet.id, input=text, subnet=subnet,
                        group_ids=self.plan_groups(subnet.vpc_id, subnet.id),
                        groups_from="plan" if self.groups_override else "default",
                        public_ip="on launch" if public else "", ipv6=ipv6, label=subnet.name, cidr=address)

    def _address(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network, text: str) -> Endpoint:
        inside = [s for s in self.inv.subnets
                  if _contains(s.cidr_block, net) or any(_contains(c, net) for c in s.ipv6_cidr_blocks)]
        if len(inside) > 1:
            raise PreflightError(f"{text} is in several subnets ({', '.join(s.id for s in inside)}); "
                                 f"give a subnet, instance or ENI id")
        if inside:
            subnet = inside[0]
            single = net.num_addresses == 1
            if single:
                addr = str(net.network_address)
                for eni in self.inv.network_interfaces:
                    if eni.subnet_id == subnet.id and (eni.private_ip == addr or addr in eni.ipv6_addresses):
                        inst = self.instances.get(eni.instance_id)
                        ep = self._instance(inst, text) if inst else self._eni(eni, text)
                        return replace(ep, cidr=str(net))
            return self._subnet_endpoint(subnet, text, address=str(net))
        touched = [s.id for s in self.inv.subnets
                   if _overlaps(s.cidr_block, net) or any(_overlaps(c, net) for c in s.ipv6_cidr_blocks)]
        if touched:
            raise PreflightError(f"{text} is not inside one subnet (it overlaps {', '.join(touched)}); give a range "
                                 f"inside one subnet, or a subnet, instance or ENI id")
        for vpc in self.inv.vpcs:
            if any(_overlaps(c, net) for c in (*vpc.cidr_blocks, *vpc.ipv6_cidr_blocks)):
                raise PreflightError(f"{text} is inside {vpc.id} but in none of its subnets")
        return Endpoint(kind=INTERNET, id=INTERNET, input=text, cidr=str(net))


def _with_address(ep: Endpoint, version: int) -> Endpoint:
    """Fill `cidr` with this end's address in the path's family ("" when it has none)."""
    if ep.kind == INTERNET:
        if ep.cidr:
            return ep
        return replace(ep, cidr="0.0.0.0/0" if version == 4 else "::/0")
    if ep.cidr and _net(ep.cidr) is not None and _net(ep.cidr).version == version:  # type: ignore[union-attr]
        return replace(ep, cidr=str(_net(ep.cidr)))
    assert ep.subnet is not None
    if version == 6:
        if ep.kind != "subnet" and ep.ipv6:
            return replace(ep, cidr=f"{ep.ipv6}/128")
        if ep.kind == "subnet" and ep.subnet.ipv6_cidr_blocks:
            return replace(ep, cidr=str(_net(ep.subnet.ipv6_cidr_blocks[0])))
        return replace(ep, cidr="")
    return replace(ep, cidr=str(_net(ep.subnet.cidr_block)) if ep.subnet.cidr_block else "")


# --- fixes: the same remedies the rules print and the fixers apply (preflight.semantics.remedies) ---
def _fix(steps: list[rm.Step] | tuple[rm.Step, ...], description: str, fixer: str | None = None) -> Fix:
    return Fix(fixer=fixer, commands=tuple(s.cli() for s in steps), description=description)


def _fix_add_route(topo: Topology, table: RouteTable, dest: str, outbound: bool) -> Fix:
    region, vpc = topo.inventory.region, table.vpc_id
    default = "::/0" if ":" in dest else IPV4_DEFAULT
    eigws = sorted(e.id for e in topo.eigws.values() if vpc in e.attached_vpcs())
    if outbound and ":" in dest and eigws and not topo.igws_by_vpc.get(vpc):
        target, steps = {"EgressOnlyInternetGatewayId": eigws[0]}, []
    else:
        igw, steps, _ = rm.igw_steps(topo, region, vpc)
        target = {"GatewayId": igw}
    step = rm.create_route(region, table.id, default, target, vpc=vpc,
                           description=f"add a default route {default} to {next(iter(target.values()))} in {table.id}")
    first = f" (first get an internet gateway attached to {vpc})" if steps else ""
    return _fix([*steps, step], step.description + first, "route-add-default")


def _fix_replace_blackhole(topo: Topology, table: RouteTable, route: Route) -> Fix:
    """Point the dead route at a live target: the remedy NET004 prints; when it has none, a NAT or
    internet gateway to create first (printed, never applied by a fixer)."""
    region = topo.inventory.region
    remedy = rm.blackhole_remedy(topo, region, table, route)
    if remedy.fixer is not None or route.target_kind != "nat_gateway":
        return _fix(remedy.steps, remedy.description, remedy.fixer or "route-replace-blackhole")
    public = [s.id for s in topo.subnets_by_vpc.get(table.vpc_id, []) if topo.internet_route(s.id)[2] == "ok"]
    where = public[0] if public else "PUBLIC_SUBNET_ID"
    eip = rm.Step(rm.ec2("allocate_address", region, Domain="vpc"), "allocate an address", table.vpc_id)
    nat = rm.Step(rm.ec2("create_nat_gateway", region, SubnetId=where, AllocationId="EIPALLOC_ID"),
                  "create a NAT gateway", where)
    repoint = rm.replace_route(region, table.id, route.destination, {"NatGatewayId": "NAT_ID"},
                               rm.target_params(route.target_kind, route.target_id), description="repoint")
    return _fix([eip, nat, repoint], f"create a NAT gateway in a public subnet ({where}) and point "
                                     f"{route.destination} in {table.id} at it instead of the deleted "
                                     f"{route.target_id}", "route-replace-blackhole")


def _fix_attach_igw(topo: Topology, igw_id: str, vpc_id: str) -> Fix:
    region = topo.inventory.region
    if igw_id:
        igw = topo.igws.get(igw_id)
        steps = [rm.Step(rm.ec2("detach_internet_gateway", region, InternetGatewayId=igw_id, VpcId=v),
                         f"detach {igw_id} from {v}", igw_id)
                 for v in (igw.attached_vpcs() if igw is not None else ()) if v != vpc_id]
        return _fix([*steps, rm.attach_igw(region, igw_id, vpc_id)], f"attach {igw_id} to {vpc_id}", "igw-attach")
    return _fix([rm.create_igw(region, vpc_id), rm.attach_igw(region, rm.IGW, vpc_id)],
                f"create an internet gateway and attach it to {vpc_id}", "igw-attach")


def _fix_public_ip(ep: Endpoint, region: str) -> Fix:
    if ep.kind == "subnet":
        assert ep.subnet is not None
        return _fix([rm.map_public_ip(region, ep.subnet.id)],
                    f"make {ep.subnet.id} give instances a public IPv4 address on launch "
                    f"(or set public_ip: true in the plan)", "subnet-map-public-ip")
    target = {"InstanceId": ep.id} if ep.kind == "instance" else {"NetworkInterfaceId": ep.id}
    return _fix([rm.Step(rm.ec2("allocate_address", region, Domain="vpc"), "allocate an address", ep.id),
                 rm.Step(rm.ec2("associate_address", region, **target, AllocationId="EIPALLOC_ID"),
                         "associate it", ep.id)], f"give {ep.id} an Elastic IP address")


def _fix_ipv6(ep: Endpoint, region: str) -> Fix:
    assert ep.subnet is not None
    if ep.kind == "subnet":
        if ep.subnet.ipv6_cidr_blocks:
            call = rm.ec2("modify_subnet_attribute", region, SubnetId=ep.subnet.id,
                          AssignIpv6AddressOnCreation={"Value": True})
        else:
            call = rm.ec2("associate_subnet_cidr_block", region, SubnetId=ep.subnet.id, Ipv6CidrBlock="IPV6_CIDR/64")
        return Fix(commands=(call.cli(),), description=f"give instances in {ep.subnet.id} an IPv6 address")
    eni = ep.id if ep.kind == "network_interface" else f"ENI_ID_OF_{ep.id}"
    call = rm.ec2("assign_ipv6_addresses", region, NetworkInterfaceId=eni, Ipv6AddressCount=1)
    return Fix(commands=(call.cli(),), description=f"give {ep.id} an IPv6 address")


def _port_params(protocol: str, ports: tuple[int, int] | None) -> dict[str, Any]:
    if protocol == "all":
        return {"Protocol": "-1"}
    if protocol in ("icmp", "icmpv6"):
        return {"Protocol": "1" if protocol == "icmp" else "58", "IcmpTypeCode": {"Type": -1, "Code": -1}}
    if ports is None:
        return {"Protocol": protocol}
    lo, hi = ports
    return {"Protocol": protocol, "PortRange": {"From": lo, "To": hi}}


def _free_rule_number(acl: NetworkAcl, egress: bool, before: NaclEntry | None) -> int:
    used = {e.rule_number for e in acl.entries if e.egress == egress}
    if before is not None:
        for n in range(before.rule_number - 1, 0, -1):
            if n not in used:
                return n
        return 1
    top = max((n for n in used if n < 32767), default=0)
    n = (top // 10 + 1) * 10
    while n in used:
        n += 1
    return min(n, 32766)


def _fix_nacl(acl: NetworkAcl, egress: bool, protocol: str, ports: tuple[int, int] | None, peer: str,
              blocking: NaclEntry | None, region: str) -> Fix:
    number = _free_rule_number(acl, egress, blocking)
    cidr = {"Ipv6CidrBlock" if ":" in peer else "CidrBlock": peer}
    call = rm.ec2("create_network_acl_entry", region, NetworkAclId=acl.id, Egress=egress, RuleNumber=number,
                  **_port_params(protocol, ports), **cidr, RuleAction="allow")
    where = f"before deny rule #{blocking.rule_number}" if blocking else "before the implicit deny"
    return Fix(commands=(call.cli(),), description=f"allow it in {acl.id} with rule #{number} ({where})")


def _fix_sg(group_id: str, protocol: str, port: int | None, peer: str, egress: bool, region: str) -> Fix:
    verb = "egress" if egress else "ingress"
    if not egress and ":" not in peer and protocol in ("tcp", "udp") and port is not None:
        call = rm.ec2("authorize_security_group_ingress", region, GroupId=group_id, Protocol=protocol, Port=port,
                      Cidr=peer)
    else:
        proto = "-1" if protocol == "all" else ("icmpv6" if protocol == "icmp" and ":" in peer else protocol)
        lo, hi = (port, port) if port is not None else (-1, -1)
        ranges = {"Ipv6Ranges": [{"CidrIpv6": peer}]} if ":" in peer else {"IpRanges": [{"CidrIp": peer}]}
        call = rm.ec2(f"authorize_security_group_{verb}", region, GroupId=group_id,
                      IpPermissions=[{"IpProtocol": proto, "FromPort": lo, "ToPort": hi, **ranges}])
    what = f"{protocol}/{port}" if port is not None else protocol
    return Fix(fixer=None if egress else "sg-open-missing-ports", commands=(call.cli(),),
               description=f"allow {what} {'to' if egress else 'from'} {peer} in {group_id}")


# --- the engine --------------------------------------------------------------------------------
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

    def unreadable(self, rtype: str, kind: str, hid: str, direction: str) -> Hop | None:
        if rtype in self.inv.unreadable_types():
            return self.add(Hop(kind, hid, direction, "unknown",
                                f"{rtype} could not be read; grant {_PERMISSION.get(rtype, 'the Describe permission')}",
                                code="UNREADABLE"))
        return None

    @property
    def what(self) -> str:
        return f"{self.protocol}/{self.port}" if self.port is not None else self.protocol

    # --- endpoint hops
    def endpoint(self, ep: Endpoint, direction: str) -> None:
        if ep.kind == "instance" and ep.state not in _RUNNING:
            self.add(Hop("instance", ep.id, direction, "blocked", f"{ep.id} is {ep.state}",
                         code="INSTANCE_NOT_RUNNING",
                         fix=Fix(commands=(f"aws ec2 start-instances --instance-ids {ep.id}",),
                                 description=f"start {ep.id}")))
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

    def address(self, ep: Endpoint, direction: str) -> None:
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
                             fix=_fix_ipv6(ep, self.inv.region)))
            return
        if ep.public_ip:
            src = "mapped on launch by " + ep.subnet.id if ep.public_ip == "on launch" else ep.public_ip
            self.add(Hop("public_ip", ep.id, direction, "ok", f"public IPv4 address {src}", rule=ep.public_ip))
            return
        why = (f"{ep.subnet.id} does not map public IPv4 addresses on launch and the plan does not ask for one"
               if ep.kind == "subnet" else f"{ep.id} has no public IPv4 address")
        self.add(Hop("public_ip", ep.id, direction, "blocked",
                     f"{why}, so the internet gateway has no address to translate to",
                     code="NO_PUBLIC_IP", fix=_fix_public_ip(ep, self.inv.region)))

    def sg(self, ep: Endpoint, peer: str, egress: bool, peer_groups: tuple[str, ...] = ()) -> None:
        """Security groups of `ep` for traffic from (to, when egress) `peer`; inside the account
        `peer_groups` are the other end's groups, which rules may reference instead of a CIDR."""
        direction = "outbound" if egress else "inbound"
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
        code = "SG_NO_EGRESS" if egress else "SG_NO_INGRESS"
        target = groups[0].id
        self.add(Hop("security_group", target, direction, "blocked",
                     f"no {verb} rule in {', '.join(g.id for g in groups)} allows {self.what} {prep} {peer}"
                     + (f" (nor from its groups {', '.join(peer_groups)})" if peer_groups and not egress else ""),
                     code=code, refs=tuple(g.id for g in groups),
                     fix=_fix_sg(target, self.protocol, self.port, peer, egress, self.inv.region)))

    def acl_of(self, subnet: Subnet) -> NetworkAcl | None:
        if self._acls is None:
            self._acls = nacl_sem.subnet_acls(self.inv)
        return self._acls.get(subnet.id)

    def nacl(self, subnet: Subnet, peer: str, egress: bool, ret: bool) -> None:
        direction = "return" if ret else ("outbound" if egress else "inbound")
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
                         fix=_fix_nacl(acl, egress, proto, EPHEMERAL, peer, entry, self.inv.region)))
            return
        entry = nacl_sem.first_match(acl, egress, proto, self.port, peer)
        what = self.what + (" (reply)" if ret else "")
        if entry is not None and entry.action == "allow":
            self.add(Hop("network_acl", acl.id, direction, "ok",
                         f"{acl.id} {self._entry_text(entry)} lets {what} {way} {prep} {peer}",
                         rule=self._entry_text(entry)))
            return
        code = "NACL_DENY_RETURN" if ret else ("NACL_DENY_OUTBOUND" if egress else "NACL_DENY_INBOUND")
        ports = None if self.port is None else (self.port, self.port)
        self.add(Hop("network_acl", acl.id, direction, "blocked",
                     f"{acl.id} {self._entry_text(entry)} denies {what} {way} {prep} {peer}",
                     code=code, rule=self._entry_text(entry),
                     fix=_fix_nacl(acl, egress, proto if proto != "-1" else "all", ports, peer, entry,
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
    def route(self, subnet: Subnet, dest: str, direction: str, purpose: str) -> tuple[RouteTable | None, Route | None]:
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
                         fix=_fix_add_route(self.topo, table, dest, outbound=direction == "outbound")))
            return table, None
        return table, route

    def route_hop(self, table: RouteTable, route: Route, subnet: Subnet, direction: str, ok_detail: str) -> bool:
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
                         fix=_fix_replace_blackhole(self.topo, table, route)))
            return False
        self.add(Hop("route_table", table.id, direction, "ok", f"{table.id} route {text} {ok_detail}",
                     rule=text, refs=(route.target_id,) if route.target_id else ()))
        return True

    def igw_hop(self, igw_id: str, vpc_id: str, direction: str) -> bool:
        igw = self.topo.igws.get(igw_id)
        if igw is not None and vpc_id in igw.attached_vpcs():
            self.add(Hop("internet_gateway", igw_id, direction, "ok", f"{igw_id} is attached to {vpc_id}"))
            return True
        where = (f"attached to {', '.join(igw.attached_vpcs())}" if igw is not None and igw.attached_vpcs()
                 else "detached")
        self.add(Hop("internet_gateway", igw_id, direction, "blocked",
                     f"{igw_id} is {where}, not attached to {vpc_id}, so traffic routed to it is dropped",
                     code="IGW_NOT_ATTACHED", fix=_fix_attach_igw(self.topo, igw_id, vpc_id)))
        return False

    def any_igw_hop(self, vpc_id: str, direction: str, note: str = "no route leads to it") -> None:
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
                     code="IGW_NOT_ATTACHED", fix=_fix_attach_igw(self.topo, candidate, vpc_id)))

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
                igw, get, _ = rm.igw_steps(self.topo, self.inv.region, table.vpc_id)
                step = rm.replace_route(self.inv.region, table.id, route.destination, {"GatewayId": igw},
                                        rm.target_params(route.target_kind, route.target_id), vpc=table.vpc_id,
                                        old_alive=True, description="repoint")
                self.add(Hop("route_table", table.id, "return", "blocked",
                             f"{table.id} sends replies to {source} through egress-only gateway {route.target_id}, "
                             f"which lets connections out but never in", code="EGRESS_ONLY_INBOUND",
                             rule=text, refs=(route.target_id,),
                             fix=_fix([*get, step], "route IPv6 through an internet gateway to accept inbound "
                                                    "connections")))
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

    def internal_route(self, a: Endpoint, b: Endpoint, direction: str) -> bool:
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
                         code="ROUTE_BLACKHOLE", rule=text, fix=_fix_replace_blackhole(self.topo, table, route)))
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
    versions = {v for v in (_explicit_version(src), _explicit_version(dst)) if v}
    if len(versions) > 1:
        raise PreflightError(f"{src} and {dst} are not in the same IP family")
    if version is not None and versions and version not in versions:
        raise PreflightError(f"--ipv6 does not fit {src if _explicit_version(src) else dst}")
    ver = version or (versions.pop() if versions else 4)
    topo = topology or Topology(inventory)
    resolver = _Resolver(inventory, topo, tuple(security_groups), public_ip)
    a = _with_address(resolver.resolve(src), ver)
    b = _with_address(resolver.resolve(dst), ver)
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


def _needs_address(walk: _Walk, ep: Endpoint, direction: str) -> bool:
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
    ep = _with_address(Endpoint(
        kind="subnet", id=subnet.id, input=subnet.id, subnet=subnet, label=subnet.name,
        public_ip="on launch" if bool(public_ip) or subnet.map_public_ip_on_launch else "",
        ipv6="on launch" if subnet.ipv6_cidr_blocks and subnet.assign_ipv6_address_on_creation else ""), version)
    walk = _Walk(inventory, topo, "all", None, version)
    walk.from_internet(ep, "0.0.0.0/0" if version == 4 else "::/0")
    return [h for h in walk.hops if h.status != "ok"]
