"""The fix attached to a blocking hop: the same remedies the rules print and the fixers apply
(built from `preflight.semantics.remedies`), worded for the hop that needs them."""

from __future__ import annotations

from typing import Any

from preflight.findings import Fix
from preflight.inventory.model import NaclEntry, NetworkAcl, Route, RouteTable
from preflight.semantics import remedies as rm
from preflight.semantics.reach.model import Endpoint
from preflight.semantics.routes import IPV4_DEFAULT, Topology


# --- fixes: the same remedies the rules print and the fixers apply (preflight.semantics.remedies) ---
def fix_from_steps(steps: list[rm.Step] | tuple[rm.Step, ...], description: str, fixer: str | None = None) -> Fix:
    return Fix(fixer=fixer, commands=tuple(s.cli() for s in steps), description=description)


def fix_add_route(topo: Topology, table: RouteTable, dest: str, outbound: bool) -> Fix:
    region, vpc = topo.inventory.region, table.vpc_id
    default = "::/0" if ":" in dest else IPV4_DEFAULT
    eigws = sorted(e.id for e in topo.eigws.values() if vpc in e.attached_vpcs())
    if outbound and ":" in dest and eigws and not topo.igws_by_vpc.get(vpc):
        target, steps = {"EgressOnlyInternetGatewayId": eigws[0]}, list[rm.Step]()
    else:
        igw, steps, _ = rm.igw_steps(topo, region, vpc)
        target = {"GatewayId": igw}
    step = rm.create_route(region, table.id, default, target, vpc=vpc,
                           description=f"add a default route {default} to {next(iter(target.values()))} in {table.id}")
    first = f" (first get an internet gateway attached to {vpc})" if steps else ""
    return fix_from_steps([*steps, step], step.description + first, "route-add-default")


def fix_replace_blackhole(topo: Topology, table: RouteTable, route: Route) -> Fix:
    """Point the dead route at a live target: the remedy NET004 prints; when it has none, a NAT or
    internet gateway to create first (printed, never applied by a fixer)."""
    region = topo.inventory.region
    remedy = rm.blackhole_remedy(topo, region, table, route)
    if remedy.fixer is not None or route.target_kind != "nat_gateway":
        # Only a remedy a fixer would apply names one: `or: preflight fix …` must not promise a change
        # the fixer then refuses (several live NAT gateways, nothing to point at).
        return fix_from_steps(remedy.steps, remedy.description, remedy.fixer)
    public = [s.id for s in topo.subnets_by_vpc.get(table.vpc_id, []) if topo.internet_route(s.id)[2] == "ok"]
    where = public[0] if public else "PUBLIC_SUBNET_ID"
    eip = rm.Step(rm.ec2("allocate_address", region, Domain="vpc"), "allocate an address", table.vpc_id)
    nat = rm.Step(rm.ec2("create_nat_gateway", region, SubnetId=where, AllocationId="EIPALLOC_ID"),
                  "create a NAT gateway", where)
    repoint = rm.replace_route(region, table.id, route.destination, {"NatGatewayId": "NAT_ID"},
                               rm.target_params(route.target_kind, route.target_id), description="repoint")
    return fix_from_steps([eip, nat, repoint], f"create a NAT gateway in a public subnet ({where}) and point "
                                               f"{route.destination} in {table.id} at it instead of the deleted "
                                               f"{route.target_id}")


def fix_attach_igw(topo: Topology, igw_id: str, vpc_id: str) -> Fix:
    region = topo.inventory.region
    if igw_id:
        igw = topo.igws.get(igw_id)
        steps = [rm.Step(rm.ec2("detach_internet_gateway", region, InternetGatewayId=igw_id, VpcId=v),
                         f"detach {igw_id} from {v}", igw_id)
                 for v in (igw.attached_vpcs() if igw is not None else ()) if v != vpc_id]
        return fix_from_steps([*steps, rm.attach_igw(region, igw_id, vpc_id)], f"attach {igw_id} to {vpc_id}",
                              "igw-attach")
    return fix_from_steps([rm.create_igw(region, vpc_id), rm.attach_igw(region, rm.IGW, vpc_id)],
                          f"create an internet gateway and attach it to {vpc_id}", "igw-attach")


def fix_inbound_via_igw(topo: Topology, table: RouteTable, route: Route) -> Fix:
    """The way back to an internet source goes to an egress-only gateway: route it through an
    internet gateway (creating and attaching one first when the VPC has none)."""
    region = topo.inventory.region
    igw, get, _ = rm.igw_steps(topo, region, table.vpc_id)
    step = rm.replace_route(region, table.id, route.destination, {"GatewayId": igw},
                            rm.target_params(route.target_kind, route.target_id), vpc=table.vpc_id,
                            old_alive=True, description="repoint")
    return fix_from_steps([*get, step], "route IPv6 through an internet gateway to accept inbound connections")


def fix_start_instance(instance_id: str, region: str) -> Fix:
    step = rm.Step(rm.ec2("start_instances", region, InstanceIds=[instance_id]), f"start {instance_id}", instance_id)
    return fix_from_steps([step], f"start {instance_id}")


def fix_public_ip(ep: Endpoint, region: str) -> Fix:
    if ep.kind == "subnet":
        assert ep.subnet is not None
        return fix_from_steps([rm.map_public_ip(region, ep.subnet.id)],
                              f"make {ep.subnet.id} give instances a public IPv4 address on launch "
                              f"(or set public_ip: true in the plan)", "subnet-map-public-ip")
    target = {"InstanceId": ep.id} if ep.kind == "instance" else {"NetworkInterfaceId": ep.id}
    return fix_from_steps([rm.Step(rm.ec2("allocate_address", region, Domain="vpc"), "allocate an address", ep.id),
                           rm.Step(rm.ec2("associate_address", region, **target, AllocationId="EIPALLOC_ID"),
                                   "associate it", ep.id)], f"give {ep.id} an Elastic IP address")


def fix_ipv6(ep: Endpoint, region: str) -> Fix:
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


def fix_nacl(acl: NetworkAcl, egress: bool, protocol: str, ports: tuple[int, int] | None, peer: str,
              blocking: NaclEntry | None, region: str) -> Fix:
    number = _free_rule_number(acl, egress, blocking)
    cidr = {"Ipv6CidrBlock" if ":" in peer else "CidrBlock": peer}
    call = rm.ec2("create_network_acl_entry", region, NetworkAclId=acl.id, Egress=egress, RuleNumber=number,
                  **_port_params(protocol, ports), **cidr, RuleAction="allow")
    where = f"before deny rule #{blocking.rule_number}" if blocking else "before the implicit deny"
    return Fix(commands=(call.cli(),), description=f"allow it in {acl.id} with rule #{number} ({where})")


def fix_sg(group_id: str, protocol: str, port: int | None, peer: str, egress: bool, region: str) -> Fix:
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
