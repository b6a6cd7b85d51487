"""Resolving SRC and DST of a path: ids, addresses, CIDRs and Name tags to an `Endpoint`."""

from __future__ import annotations

import ipaddress

from msgspec.structs import replace

from preflight.errors import PreflightError
from preflight.inventory.model import Instance, Inventory, NetworkInterface, Subnet
from preflight.semantics.reach.model import INTERNET, PERMISSION, Endpoint
from preflight.semantics.routes import Topology
from preflight.semantics.secgroups import resolve_group


# --- resolving SRC and DST ---------------------------------------------------------------------
def network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _contains(outer: str, inner: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    net = network(outer) if outer else None
    return net is not None and net.version == inner.version and inner.subnet_of(net)  # type: ignore[arg-type]


def _overlaps(outer: str, inner: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    net = network(outer) if outer else None
    return net is not None and net.version == inner.version and inner.overlaps(net)


def explicit_version(text: str) -> int | None:
    if text.strip().lower() == INTERNET:
        return None
    net = network(text.strip())
    return net.version if net is not None else None


class Resolver:
    def __init__(self, inv: Inventory, topo: Topology, groups: tuple[str, ...], public_ip: bool | None) -> None:
        self.inv, self.topo = inv, topo
        self.groups_override = groups
        self.public_override = public_ip
        self.instances: dict[str, Instance] = inv.index("instances")
        self.enis: dict[str, NetworkInterface] = inv.index("network_interfaces")

    def _need(self, rtype: str, what: str) -> None:
        if rtype in self.inv.unreadable_types():
            raise PreflightError(f"cannot resolve {what}: {rtype} could not be read in {self.inv.region} "
                                 f"(grant {PERMISSION.get(rtype, 'the Describe permission')})")

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
        net = network(t)
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


def with_address(ep: Endpoint, version: int) -> Endpoint:
    """Fill `cidr` with this end's address in the path's family ("" when it has none)."""
    if ep.kind == INTERNET:
        if ep.cidr:
            return ep
        return replace(ep, cidr="0.0.0.0/0" if version == 4 else "::/0")
    if ep.cidr and network(ep.cidr) is not None and network(ep.cidr).version == version:  # type: ignore[union-attr]
        return replace(ep, cidr=str(network(ep.cidr)))
    assert ep.subnet is not None
    if version == 6:
        if ep.kind != "subnet" and ep.ipv6:
            return replace(ep, cidr=f"{ep.ipv6}/128")
        if ep.kind == "subnet" and ep.subnet.ipv6_cidr_blocks:
            return replace(ep, cidr=str(network(ep.subnet.ipv6_cidr_blocks[0])))
        return replace(ep, cidr="")
    return replace(ep, cidr=str(network(ep.subnet.cidr_block)) if ep.subnet.cidr_block else "")
