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
from preflight.semantics import remedies as rm
from preflight.semantics.remedies import IGW, TAG, Step, igw_tag, params_target, rtb_tag

Guard = Callable[[ApplyContext, Change], "Change | None"]


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


# --- guards, per operation ----------------------------------------------------------------------

def _ec2(actx: ApplyContext, change: Change) -> Any:
    return actx.client("ec2", change.call.region)


def _guard_create_igw(actx: ApplyContext, change: Change) -> Change | None:
    ec2, vpc = _ec2(actx, change), change.data["vpc"]
    if attached_igw(ec2, vpc) or tagged(ec2, "igw", igw_tag(vpc)):
        return None
    return change


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


def _guard_create_route(actx: ApplyContext, change: Change) -> Change | None:
    table = route_table(_ec2(actx, change), change.call.params["RouteTableId"])
    existing = find_route(table, change.data["destination"]) if table else None
    if existing is not None:
        key, target = params_target(change.call.params)
        if existing.get(key) == target:
            return None  # already there (an earlier run, or someone else)
    return change


def _guard_replace_route(actx: ApplyContext, change: Change) -> Change | None:
    table = route_table(_ec2(actx, change), change.call.params["RouteTableId"])
    existing = find_route(table, change.data["destination"]) if table else None
    key, target = params_target(change.call.params)
    if existing is not None and existing.get(key) == target:
        return None
    return change


def _guard_create_table(actx: ApplyContext, change: Change) -> Change | None:
    return None if tagged(_ec2(actx, change), "rtb", rtb_tag(change.data["subnet"])) else change


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


def _guard_map_public_ip(actx: ApplyContext, change: Change) -> Change | None:
    subnet = change.call.params["SubnetId"]
    found = _ec2(actx, change).describe_subnets(SubnetIds=[subnet]).get("Subnets", [])
    if found and bool(found[0].get("MapPublicIpOnLaunch")) == change.data["value"]:
        return None
    return change


def _undo_igw(region: str) -> Callable[[dict[str, Any]], Call | None]:
    return lambda resp: Call("ec2", "delete_internet_gateway", {
        "InternetGatewayId": resp["InternetGateway"]["InternetGatewayId"]}, region)


def _undo_table(region: str) -> Callable[[dict[str, Any]], Call | None]:
    return lambda resp: Call("ec2", "delete_route_table", {"RouteTableId": resp["RouteTable"]["RouteTableId"]}, region)


def _undo_association(region: str) -> Callable[[dict[str, Any]], Call | None]:
    return lambda resp: Call("ec2", "disassociate_route_table", {"AssociationId": resp["AssociationId"]}, region)


# operation -> (guard, undo from the answer)
_HOOKS: dict[str, tuple[Guard, Callable[[str], Callable[[dict[str, Any]], Call | None]] | None]] = {
    "create_internet_gateway": (_guard_create_igw, _undo_igw),
    "attach_internet_gateway": (_guard_attach_resolving, None),
    "create_route": (guarded(_guard_create_route), None),
    "replace_route": (guarded(_guard_replace_route), None),
    "create_route_table": (_guard_create_table, _undo_table),
    "associate_route_table": (guarded(_guard_associate), _undo_association),
    "modify_subnet_attribute": (_guard_map_public_ip, None),
}


def change(step: Step, rules: tuple[str, ...], fixer: str) -> Change:
    """A remedy step as a journalled change: the same call, with the guard that keeps it idempotent."""
    guard, undo_from = _HOOKS.get(step.call.operation, (None, None))
    return Change(fixer=fixer, resource=step.resource, description=step.description, call=step.call,
                  undo=step.undo, permissions=step.permissions, rules=rules, before=step.before, safe=step.safe,
                  data={**step.data, "refs": dict(step.refs), "produces": step.produces}, guard=guard,
                  undo_from_response=undo_from(step.call.region) if undo_from else None)


def changes(steps: list[Step] | tuple[Step, ...], rules: tuple[str, ...], fixer: str) -> list[Change]:
    return [change(s, rules, fixer) for s in steps]


TARGET_PARAM = rm.ROUTE_TARGET_PARAM
