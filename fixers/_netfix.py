"""Shared pieces of the network fixers (not a fixer module: it registers nothing).

Some fixes are chains whose later calls need ids that only exist once an earlier call has run
(create an internet gateway, then attach *it*; create a route table, then route and associate
*it*). A `Change` is plain data planned before anything runs, so such params hold a placeholder
(`$IGW`, `$RTB`, the shell variables the printed AWS CLI commands use too) and the change's guard
resolves it right before the call, from a fresh read: the gateway attached to the VPC, else the
one this fix created, found by its `preflight:fix` tag. Tagging is also what makes an interrupted
chain safe to re-run: a resource already created by an earlier, crashed run is found and reused,
never duplicated.

Every guard re-reads what it is about to change and returns None when the desired state already
holds, so a second `--apply` makes no change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from preflight.errors import PreflightError
from preflight.fix import ApplyContext, Call, Change

TAG = "preflight:fix"
IGW = "$IGW"
RTB = "$RTB"

DESCRIBE = ("ec2:DescribeRouteTables", "ec2:DescribeInternetGateways", "ec2:DescribeSubnets")
Guard = Callable[[ApplyContext, Change], "Change | None"]


def igw_tag(vpc: str) -> str:
    return f"igw-for:{vpc}"


def rtb_tag(subnet: str) -> str:
    return f"rtb-for:{subnet}"


def tag_spec(resource_type: str, value: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": TAG, "Value": value}, {"Key": "Name", "Value": name}]}]


# --- fresh reads (guards only; planning reads the inventory) ---------------------------------------

def attached_igw(ec2: Any, vpc: str) -> str:
    found = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    for g in found.get("InternetGateways", []):
        if any(a.get("VpcId") == vpc and a.get("State") in ("available", "attached")
               for a in g.get("Attachments") or []):
            return str(g["InternetGatewayId"])
    return ""


def tagged(ec2: Any, kind: str, value: str) -> str:
    flt = [{"Name": f"tag:{TAG}", "Values": [value]}]
    if kind == "igw":
        items = ec2.describe_internet_gateways(Filters=flt).get("InternetGateways", [])
        return str(items[0]["InternetGatewayId"]) if items else ""
    items = ec2.describe_route_tables(Filters=flt).get("RouteTables", [])
    return str(items[0]["RouteTableId"]) if items else ""


def route_table(ec2: Any, table_id: str) -> dict[str, Any]:
    tables = ec2.describe_route_tables(RouteTableIds=[table_id]).get("RouteTables", [])
    return tables[0] if tables else {}


def find_route(table: dict[str, Any], destination: str) -> dict[str, Any] | None:
    key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
    return next((r for r in table.get("Routes") or [] if r.get(key) == destination), None)


# --- placeholders -------------------------------------------------------------------------------

def _substitute(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    return value


def _lookup(ec2: Any, placeholder: str, ref: dict[str, str]) -> str:
    if placeholder == IGW:
        return attached_igw(ec2, ref["vpc"]) or tagged(ec2, "igw", igw_tag(ref["vpc"]))
    return tagged(ec2, "rtb", rtb_tag(ref["subnet"]))


def resolve(actx: ApplyContext, change: Change, attempts: int = 4, pause: float = 0.5) -> Change:
    """The change with its placeholders replaced by the ids they stand for now."""
    refs: dict[str, dict[str, str]] = change.data.get("refs") or {}
    if not refs:
        return change
    ec2 = actx.client("ec2", change.call.region)
    mapping: dict[str, str] = {}
    for placeholder, ref in refs.items():
        found = ""
        for n in range(attempts):  # a resource created a moment ago may not be listed yet
            found = _lookup(ec2, placeholder, ref)
            if found:
                break
            time.sleep(pause * (n + 1))
        if not found:
            what = "internet gateway" if placeholder == IGW else "route table"
            raise PreflightError(f"{change.description}: the {what} this fix created earlier ({placeholder}) "
                                 f"cannot be found; re-run the fix")
        mapping[placeholder] = found
    call = replace(change.call, params=_substitute(change.call.params, mapping))
    undo = replace(change.undo, params=_substitute(change.undo.params, mapping)) if change.undo else None
    return replace(change, call=call, undo=undo, data={**change.data, "refs": {}, "resolved": mapping})


def guarded(check: Guard) -> Guard:
    """A guard that first resolves placeholders, then asks `check` whether the call is still needed."""
    def guard(actx: ApplyContext, change: Change) -> Change | None:
        return check(actx, resolve(actx, change))
    return guard


# --- the changes themselves --------------------------------------------------------------------

def _ec2(actx: ApplyContext, change: Change) -> Any:
    return actx.client("ec2", change.call.region)


def _guard_create_igw(actx: ApplyContext, change: Change) -> Change | None:
    ec2, vpc = _ec2(actx, change), change.data["vpc"]
    if attached_igw(ec2, vpc) or tagged(ec2, "igw", igw_tag(vpc)):
        return None
    return change


def create_igw(region: str, vpc: str, rules: tuple[str, ...], fixer: str) -> Change:
    return Change(
        fixer=fixer, resource=vpc,
        description=f"create an internet gateway for {vpc} (tagged {TAG}={igw_tag(vpc)})",
        call=Call("ec2", "create_internet_gateway",
                  {"TagSpecifications": tag_spec("internet-gateway", igw_tag(vpc), f"preflight-{vpc}")}, region),
        undo=None,  # the id is known only from the response
        permissions=("ec2:CreateInternetGateway", "ec2:CreateTags", "ec2:DeleteInternetGateway", *DESCRIBE),
        rules=rules, before=None, data={"vpc": vpc},
        guard=_guard_create_igw,
        undo_from_response=lambda resp: Call("ec2", "delete_internet_gateway", {
            "InternetGatewayId": resp["InternetGateway"]["InternetGatewayId"]}, region),
    )


def attach_igw(region: str, igw: str, vpc: str, rules: tuple[str, ...], fixer: str) -> Change:
    refs = {IGW: {"vpc": vpc}} if igw == IGW else {}
    return Change(
        fixer=fixer, resource=igw if igw != IGW else vpc,
        description=f"attach internet gateway {igw} to {vpc}",
        call=Call("ec2", "attach_internet_gateway", {"InternetGatewayId": igw, "VpcId": vpc}, region),
        undo=Call("ec2", "detach_internet_gateway", {"InternetGatewayId": igw, "VpcId": vpc}, region),
        permissions=("ec2:AttachInternetGateway", "ec2:DetachInternetGateway", *DESCRIBE),
        rules=rules, before={"attached_to": None}, data={"vpc": vpc, "refs": refs},
        guard=_guard_attach_resolving,
    )


def _guard_attach_resolving(actx: ApplyContext, change: Change) -> Change | None:
    # Check before resolving: once attached, $IGW would resolve to the attached gateway itself.
    if attached_igw(_ec2(actx, change), change.data["vpc"]):
        return None
    refs = change.data.get("refs") or {}
    if refs:
        ec2 = _ec2(actx, change)
        found = tagged(ec2, "igw", igw_tag(change.data["vpc"]))
        if not found:
            raise PreflightError(f"{change.description}: the internet gateway this fix created earlier "
                                 f"cannot be found; re-run the fix")
        mapping = {IGW: found}
        change = replace(change, resource=found,
                         call=replace(change.call, params=_substitute(change.call.params, mapping)),
                         undo=replace(change.undo, params=_substitute(change.undo.params, mapping))
                         if change.undo else None,
                         data={**change.data, "refs": {}})
    return change


def _route_target(params: dict[str, Any]) -> tuple[str, str]:
    for key in ("GatewayId", "NatGatewayId", "EgressOnlyInternetGatewayId", "TransitGatewayId",
                "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId", "CarrierGatewayId",
                "LocalGatewayId", "VpcEndpointId", "CoreNetworkArn"):
        if params.get(key):
            return key, str(params[key])
    return "", ""


def _dest_params(destination: str) -> dict[str, str]:
    if destination.startswith("pl-"):
        return {"DestinationPrefixListId": destination}
    return {"DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock": destination}


def _guard_create_route(actx: ApplyContext, change: Change) -> Change | None:
    table = route_table(_ec2(actx, change), change.call.params["RouteTableId"])
    existing = find_route(table, change.data["destination"]) if table else None
    if existing is not None:
        key, target = _route_target(change.call.params)
        if existing.get(key) == target or (key == "GatewayId" and existing.get("GatewayId") == target):
            return None  # already there (an earlier run, or someone else)
    return change


def create_route(region: str, table: str, destination: str, target: dict[str, str], rules: tuple[str, ...],
                 fixer: str, *, description: str, refs: dict[str, dict[str, str]] | None = None,
                 safe: bool = True) -> Change:
    dest = _dest_params(destination)
    return Change(
        fixer=fixer, resource=table, description=description,
        call=Call("ec2", "create_route", {"RouteTableId": table, **dest, **target}, region),
        undo=Call("ec2", "delete_route", {"RouteTableId": table, **dest}, region),
        permissions=("ec2:CreateRoute", "ec2:DeleteRoute", *DESCRIBE),
        rules=rules, before={"route": None}, safe=safe,
        data={"destination": destination, "refs": refs or {}},
        guard=guarded(_guard_create_route),
    )


def _guard_replace_route(actx: ApplyContext, change: Change) -> Change | None:
    table = route_table(_ec2(actx, change), change.call.params["RouteTableId"])
    existing = find_route(table, change.data["destination"]) if table else None
    key, target = _route_target(change.call.params)
    if existing is not None and existing.get(key) == target:
        return None
    return change


def replace_route(region: str, table: str, destination: str, target: dict[str, str], old: dict[str, str],
                  old_alive: bool, rules: tuple[str, ...], fixer: str, *, description: str,
                  safe: bool = True) -> Change:
    dest = _dest_params(destination)
    return Change(
        fixer=fixer, resource=table, description=description,
        call=Call("ec2", "replace_route", {"RouteTableId": table, **dest, **target}, region),
        # A dead target cannot be routed to again (EC2 refuses), so there is no faithful undo.
        undo=Call("ec2", "replace_route", {"RouteTableId": table, **dest, **old}, region) if old_alive else None,
        permissions=("ec2:ReplaceRoute", *DESCRIBE),
        rules=rules, before={"route": {"destination": destination, **old}}, safe=safe,
        data={"destination": destination, "refs": {}},
        guard=guarded(_guard_replace_route),
    )


def _guard_create_table(actx: ApplyContext, change: Change) -> Change | None:
    return None if tagged(_ec2(actx, change), "rtb", rtb_tag(change.data["subnet"])) else change


def create_route_table(region: str, vpc: str, subnet: str, rules: tuple[str, ...], fixer: str,
                       description: str) -> Change:
    return Change(
        fixer=fixer, resource=subnet, description=description,
        call=Call("ec2", "create_route_table", {
            "VpcId": vpc, "TagSpecifications": tag_spec("route-table", rtb_tag(subnet), f"preflight-{subnet}")},
            region),
        undo=None,  # known only from the response
        permissions=("ec2:CreateRouteTable", "ec2:CreateTags", "ec2:DeleteRouteTable", *DESCRIBE),
        rules=rules, before=None, safe=True, data={"subnet": subnet, "vpc": vpc},
        guard=_guard_create_table,
        undo_from_response=lambda resp: Call("ec2", "delete_route_table", {
            "RouteTableId": resp["RouteTable"]["RouteTableId"]}, region),
    )


def _guard_associate(actx: ApplyContext, change: Change) -> Change | None:
    ec2 = _ec2(actx, change)
    subnet, table = change.call.params["SubnetId"], change.call.params["RouteTableId"]
    found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    for t in found.get("RouteTables", []):
        for a in t.get("Associations") or []:
            if a.get("SubnetId") == subnet and not a.get("Main"):
                if t["RouteTableId"] == table:
                    return None
                raise PreflightError(f"{subnet} was associated with {t['RouteTableId']} meanwhile; "
                                     f"not moving it to {table} (re-run the check)")
    return change


def associate(region: str, table: str, subnet: str, rules: tuple[str, ...], fixer: str) -> Change:
    return Change(
        fixer=fixer, resource=subnet,
        description=f"associate {table} with {subnet} only",
        call=Call("ec2", "associate_route_table", {"RouteTableId": table, "SubnetId": subnet}, region),
        undo=None,  # the association id comes with the response
        permissions=("ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", *DESCRIBE),
        rules=rules, before={"association": "main"},
        data={"refs": {RTB: {"subnet": subnet}} if table == RTB else {}},
        guard=guarded(_guard_associate),
        undo_from_response=lambda resp: Call("ec2", "disassociate_route_table", {
            "AssociationId": resp["AssociationId"]}, region),
    )


class AttributeCall(Call):
    """A Call whose `{"Value": bool}` params print as the AWS CLI's boolean flags
    (`--map-public-ip-on-launch` / `--no-map-public-ip-on-launch`), as a user would type them."""

    def cli(self) -> str:
        flat = {k: (v["Value"] if isinstance(v, dict) and set(v) == {"Value"} and isinstance(v["Value"], bool)
                    else v) for k, v in self.params.items()}
        return Call(self.service, self.operation, flat, self.region).cli()


def _guard_map_public_ip(actx: ApplyContext, change: Change) -> Change | None:
    subnet = change.call.params["SubnetId"]
    found = _ec2(actx, change).describe_subnets(SubnetIds=[subnet]).get("Subnets", [])
    if found and bool(found[0].get("MapPublicIpOnLaunch")) == change.data["value"]:
        return None
    return change


def map_public_ip(region: str, subnet: str, rules: tuple[str, ...], fixer: str, description: str) -> Change:
    return Change(
        fixer=fixer, resource=subnet, description=description,
        call=AttributeCall("ec2", "modify_subnet_attribute",
                           {"SubnetId": subnet, "MapPublicIpOnLaunch": {"Value": True}}, region),
        undo=AttributeCall("ec2", "modify_subnet_attribute",
                           {"SubnetId": subnet, "MapPublicIpOnLaunch": {"Value": False}}, region),
        permissions=("ec2:ModifySubnetAttribute", "ec2:DescribeSubnets"),
        rules=rules, before={"MapPublicIpOnLaunch": False}, data={"value": True},
        guard=_guard_map_public_ip,
    )


TARGET_PARAM = {
    "internet_gateway": "GatewayId", "nat_gateway": "NatGatewayId", "egress_only_igw": "EgressOnlyInternetGatewayId",
    "transit_gateway": "TransitGatewayId", "vpc_peering": "VpcPeeringConnectionId",
    "network_interface": "NetworkInterfaceId", "instance": "InstanceId", "carrier_gateway": "CarrierGatewayId",
    "local_gateway": "LocalGatewayId", "vpc_endpoint": "VpcEndpointId", "virtual_private_gateway": "GatewayId",
    "core_network": "CoreNetworkArn",
}
