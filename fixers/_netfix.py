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

Concurrent runs (issue 16 item 7: three `fix --apply` at once on one account). EC2 has no
"create if absent", so two runs can both find no table tagged for a subnet and both create one.
The design, for a subnet's own route table (`$RTB`):

- The subnet's association is the commit point. A subnet has one explicit association (AWS answers
  a second AssociateRouteTable with Resource.AlreadyAssociated), and a chain associates its table
  last, after its routes are in, so a tagged table associated with the subnet is complete: it is
  *the* table, whoever made it.
- Creating: a table already tagged for the subnet is adopted (the associated one, else the lowest
  id), never a second one made. A run that made a table pins it: its later steps resolve `$RTB` to
  the committed table if there is one, else to the table this run made or adopted (`actx.made`,
  `actx.pins`), so one run's routes and association always go to one table.
- "Already exists and equal" is done: CreateRoute answered RouteAlreadyExists whose route has the
  same destination and target, or a subnet already associated with the table tagged for it, is
  "already" (not FAILED). A route to another target, or a subnet associated with a table that is
  not preflight's for it, is a real conflict: FAILED, saying what is there.
- The loser cleans up after itself: a run that finds the subnet associated with another run's
  tagged table deletes the table(s) *it* made for that subnet (unassociated by construction), and
  journals them `undone`. A run deletes only what it made, and only once another table is
  committed, so a table being filled by an adopting run is never deleted under it unless it lost
  too; a step whose table vanished that way re-resolves `$RTB` to the committed table and retries.
  Net effect of any interleaving: one table per tag, associated, with its routes.

The same holds for a VPC's created internet gateway (`$IGW`): the attachment is the commit point
(a VPC has one), the gateway attached is adopted, and a run deletes the gateway it made if another
one got attached first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from preflight.errors import PreflightError
from preflight.fix import AlreadyDone, ApplyContext, Call, Change, error_code
from preflight.semantics import remedies as rm
from preflight.semantics.remedies import IGW, RTB, TAG, Step, igw_tag, params_target, rtb_tag

Guard = Callable[[ApplyContext, Change], "Change | AlreadyDone | None"]

# The table (or gateway) a step resolved to was deleted meanwhile by the run that made it, because
# another run's won: resolve again and retry.
VANISHED = frozenset({"InvalidRouteTableID.NotFound", "InvalidInternetGatewayID.NotFound"})


# --- fresh reads (guards only; planning reads the inventory) ---------------------------------------

def attached_igw(ec2: Any, vpc: str) -> str:
    found = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    for g in found.get("InternetGateways", []):
        if any(a.get("VpcId") == vpc and a.get("State") in ("available", "attached")
               for a in g.get("Attachments") or []):
            return str(g["InternetGatewayId"])
    return ""


def tagged_items(ec2: Any, kind: str, value: str) -> list[dict[str, Any]]:
    """Gateways ("igw") or route tables ("rtb") carrying `preflight:fix=value`, lowest id first."""
    flt = [{"Name": f"tag:{TAG}", "Values": [value]}]
    if kind == "igw":
        items = ec2.describe_internet_gateways(Filters=flt).get("InternetGateways", [])
        return sorted(items, key=lambda g: str(g["InternetGatewayId"]))
    return sorted(ec2.describe_route_tables(Filters=flt).get("RouteTables", []), key=lambda t: str(t["RouteTableId"]))


def tagged(ec2: Any, kind: str, value: str) -> str:
    """The lowest id carrying the tag ("" when none): one deterministic answer for every run."""
    items = tagged_items(ec2, kind, value)
    return str(items[0]["InternetGatewayId" if kind == "igw" else "RouteTableId"]) if items else ""


def committed_table(tables: list[dict[str, Any]], subnet: str) -> str:
    """The one of `tables` associated with `subnet` ("" when none)."""
    for t in tables:
        if any(a.get("SubnetId") == subnet and not a.get("Main") for a in t.get("Associations") or []):
            return str(t["RouteTableId"])
    return ""


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


def _pin_key(placeholder: str, ref: dict[str, str]) -> str:
    return placeholder + json.dumps(ref, sort_keys=True)


def _defined_ref(change: Change) -> dict[str, str]:
    """What the placeholder a creating change defines stands for: the subnet or the VPC."""
    return {"subnet": change.data["subnet"]} if change.data.get("produces") == RTB else {"vpc": change.data["vpc"]}


def produced_id(change: Change, response: dict[str, Any]) -> str:
    """The id of the resource a creating call made, read from its answer."""
    value: Any = response
    for part in rm.PLACEHOLDERS[change.data["produces"]][1].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return str(value or "")


def made_here(actx: ApplyContext, placeholder: str, ref: dict[str, str]) -> list[tuple[str, int]]:
    """(id, journal seq) of each resource this run made for `placeholder` standing for `ref`."""
    return [(produced_id(m.change, m.response), m.seq) for m in actx.made
            if m.change.data.get("produces") == placeholder and _defined_ref(m.change) == ref]


def _lookup(actx: ApplyContext, ec2: Any, placeholder: str, ref: dict[str, str]) -> str:
    """What the placeholder stands for now: the committed resource (the table associated with the
    subnet, the gateway attached to the VPC), else the one this run made or adopted, else the
    lowest id carrying the tag (see the module docstring)."""
    mine = made_here(actx, placeholder, ref)
    pinned = mine[-1][0] if mine else actx.pins.get(_pin_key(placeholder, ref), "")
    if placeholder == IGW:
        return attached_igw(ec2, ref["vpc"]) or pinned or tagged(ec2, "igw", igw_tag(ref["vpc"]))
    tables = tagged_items(ec2, "rtb", rtb_tag(ref["subnet"]))
    committed = committed_table(tables, ref["subnet"])
    return committed or pinned or (str(tables[0]["RouteTableId"]) if tables else "")


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
            found = _lookup(actx, ec2, placeholder, ref)
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
    # `unresolved`: to resolve again if the table vanishes under the call (see `_retry_resolved`).
    return replace(change, call=call, undo=undo,
                   data={**change.data, "refs": {}, "resolved": mapping, "unresolved": change})


def _retry_resolved(actx: ApplyContext, change: Change, exc: Exception) -> Change | None:
    """The change resolved again when the table or gateway it named vanished (its maker lost the race
    and deleted it): a narrowed change naming the committed one, or None if nothing new resolves."""
    original = change.data.get("unresolved")
    if error_code(exc) not in VANISHED or original is None:
        return None
    again = resolve(actx, original)
    return again if again.call.params != change.call.params else None


def guarded(check: Guard) -> Guard:
    """A guard that first resolves placeholders, then asks `check` whether the call is still needed
    (resolving once more if what it resolved to vanished before the re-read)."""
    def guard(actx: ApplyContext, change: Change) -> Change | AlreadyDone | None:
        resolved = resolve(actx, change)
        try:
            return check(actx, resolved)
        except Exception as exc:
            again = _retry_resolved(actx, resolved, exc)
            if again is None:
                raise
            return check(actx, again)
    return guard


# --- guards, per operation ----------------------------------------------------------------------

def _ec2(actx: ApplyContext, change: Change) -> Any:
    return actx.client("ec2", change.call.region)


def _drop_own(actx: ApplyContext, change: Change, placeholder: str, ref: dict[str, str], keep: str) -> str:
    """Delete what this run made for `placeholder`/`ref` other than `keep` (the one a concurrent run
    committed), journal it `undone` with the changes made inside it, and say so ("" if nothing)."""
    ec2 = _ec2(actx, change)
    dropped = []
    for rid, seq in made_here(actx, placeholder, ref):
        if rid == keep:
            continue
        try:
            if placeholder == IGW:
                ec2.delete_internet_gateway(InternetGatewayId=rid)
            else:
                ec2.delete_route_table(RouteTableId=rid)
        except Exception as exc:
            if error_code(exc) not in VANISHED:
                op = "delete-internet-gateway --internet-gateway-id" if placeholder == IGW else \
                    "delete-route-table --route-table-id"
                raise PreflightError(f"{keep} was made by a concurrent run and won, but {rid}, which this run made, "
                                     f"could not be deleted ({error_code(exc)}): delete it with "
                                     f"`aws ec2 {op} {rid} --region {change.call.region}`") from None
        why = f"{rid} deleted by this run: a concurrent run's {keep} won"
        for m in actx.made:  # the creation, and the routes this run put in it
            if m.seq == seq or rid in m.change.call.params.values():
                actx.withdraw(m.seq, why)
        dropped.append(rid)
    return f"deleted {', '.join(dropped)}, made by this run and now unused" if dropped else ""


def _guard_create_igw(actx: ApplyContext, change: Change) -> Change | AlreadyDone | None:
    ec2, vpc = _ec2(actx, change), change.data["vpc"]
    if attached_igw(ec2, vpc):
        return None
    found = tagged(ec2, "igw", igw_tag(vpc))
    if found:  # made by an earlier or a concurrent run, not attached yet: adopt it
        actx.pins[_pin_key(IGW, {"vpc": vpc})] = found
        return AlreadyDone(f"adopted {found} ({TAG}={igw_tag(vpc)}), made by an earlier or concurrent run")
    return change


def _igw_attached_elsewhere(actx: ApplyContext, change: Change) -> AlreadyDone | None:
    """The VPC has a gateway attached already (this one, a concurrent run's, or one attached
    meanwhile): done, and a gateway this run made for it, left unattached, is deleted."""
    vpc = change.data["vpc"]
    attached = attached_igw(_ec2(actx, change), vpc)
    if not attached:
        return None
    dropped = _drop_own(actx, change, IGW, {"vpc": vpc}, attached)
    if attached == change.call.params.get("InternetGatewayId") and not dropped:
        return AlreadyDone()
    return AlreadyDone(f"{vpc} has {attached} attached" + (f"; {dropped}" if dropped else ""))


def _guard_attach_resolving(actx: ApplyContext, change: Change) -> Change | AlreadyDone | None:
    # Check before resolving: once attached, $IGW would resolve to the attached gateway itself.
    done = _igw_attached_elsewhere(actx, change)
    if done is not None:
        return done
    if change.data.get("refs"):
        change = resolve(actx, change)
        change = replace(change, resource=change.call.params["InternetGatewayId"])
    return change


def _recover_attach(actx: ApplyContext, change: Change, exc: Exception) -> Change | AlreadyDone | None:
    if error_code(exc) == "Resource.AlreadyAssociated":  # the VPC got a gateway meanwhile
        return _igw_attached_elsewhere(actx, change)
    return _retry_resolved(actx, change, exc)


def _route_conflict(change: Change, existing: dict[str, Any]) -> str:
    key, target = params_target(change.call.params)
    kind, now = rm.route_target(existing)
    return (f"{change.data['destination']} in {change.call.params['RouteTableId']} now goes to "
            f"{now or kind} (changed meanwhile, by someone else), not {target}: not replacing it; "
            f"re-run the check")


def _guard_create_route(actx: ApplyContext, change: Change) -> Change | AlreadyDone | None:
    table = route_table(_ec2(actx, change), change.call.params["RouteTableId"])
    existing = find_route(table, change.data["destination"]) if table else None
    if existing is not None:
        key, target = params_target(change.call.params)
        if existing.get(key) == target:
            return None  # already there (an earlier run, or someone else)
        raise PreflightError(_route_conflict(change, existing))
    return change


def _recover_create_route(actx: ApplyContext, change: Change, exc: Exception) -> Change | AlreadyDone | None:
    """RouteAlreadyExists: made meanwhile (a concurrent run): done if it has the same target, a
    conflict said in words if not. A vanished table: the committed one, again."""
    if error_code(exc) != "RouteAlreadyExists":
        return _retry_resolved(actx, change, exc)
    existing = find_route(route_table(_ec2(actx, change), change.call.params["RouteTableId"]),
                          change.data["destination"])
    if existing is None:
        return None
    key, target = params_target(change.call.params)
    if existing.get(key) == target:
        return AlreadyDone(f"the same route ({change.data['destination']} -> {target}) was made meanwhile, "
                           "by a concurrent run")
    raise PreflightError(_route_conflict(change, existing))


def _guard_replace_route(actx: ApplyContext, change: Change) -> Change | None:
    table = route_table(_ec2(actx, change), change.call.params["RouteTableId"])
    existing = find_route(table, change.data["destination"]) if table else None
    key, target = params_target(change.call.params)
    if existing is not None and existing.get(key) == target:
        return None
    return change


def _guard_create_table(actx: ApplyContext, change: Change) -> Change | AlreadyDone | None:
    subnet = change.data["subnet"]
    tables = tagged_items(_ec2(actx, change), "rtb", rtb_tag(subnet))
    if not tables:
        return change
    # Made by an earlier or a concurrent run: adopt it (the one associated with the subnet if any,
    # else the lowest id), never make a second one.
    chosen = committed_table(tables, subnet) or str(tables[0]["RouteTableId"])
    actx.pins[_pin_key(RTB, {"subnet": subnet})] = chosen
    return AlreadyDone(f"adopted {chosen} ({TAG}={rtb_tag(subnet)}), made by an earlier or concurrent run")


def subnet_association(ec2: Any, subnet: str) -> tuple[str, dict[str, str]] | None:
    """(table id, its tags) of the subnet's explicit association, None when it uses the main table."""
    found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    for t in found.get("RouteTables", []):
        for a in t.get("Associations") or []:
            if a.get("SubnetId") == subnet and not a.get("Main"):
                return str(t["RouteTableId"]), {x["Key"]: x["Value"] for x in t.get("Tags") or []}
    return None


def _settle_association(actx: ApplyContext, change: Change, found: tuple[str, dict[str, str]]) -> AlreadyDone:
    """The subnet is associated with `found`: done if that is our table or the table preflight made
    for it (a concurrent run's: then ours, unused, is deleted); a real conflict otherwise."""
    subnet, table = change.call.params["SubnetId"], change.call.params["RouteTableId"]
    other, tags = found
    if other != table and tags.get(TAG) != rtb_tag(subnet):
        raise PreflightError(f"{subnet} was associated with {other} meanwhile; not moving it to {table} "
                             f"(re-run the check)")
    dropped = _drop_own(actx, change, RTB, {"subnet": subnet}, other)
    if other == table and not dropped:
        return AlreadyDone()
    return AlreadyDone(f"{subnet} is associated with {other} ({TAG}={rtb_tag(subnet)}, a concurrent run's)"
                       + (f"; {dropped}" if dropped else ""))


def _guard_associate(actx: ApplyContext, change: Change) -> Change | AlreadyDone | None:
    found = subnet_association(_ec2(actx, change), change.call.params["SubnetId"])
    return change if found is None else _settle_association(actx, change, found)


def _recover_associate(actx: ApplyContext, change: Change, exc: Exception) -> Change | AlreadyDone | None:
    # AWS: Resource.AlreadyAssociated when the subnet got a table meanwhile; a vanished table (its maker
    # lost and deleted it) means another one is committed: either way, look at the subnet again.
    if error_code(exc) in ("Resource.AlreadyAssociated", *VANISHED):
        found = subnet_association(_ec2(actx, change), change.call.params["SubnetId"])
        if found is not None:
            return _settle_association(actx, change, found)
    return _retry_resolved(actx, change, exc)


def _confirm_associate(actx: ApplyContext, change: Change, response: dict[str, Any]) -> AlreadyDone | None:
    """moto answers AssociateRouteTable for an already associated subnet with the existing
    association's id (AWS: Resource.AlreadyAssociated): read which table the subnet is on."""
    found = subnet_association(_ec2(actx, change), change.call.params["SubnetId"])
    if found is None or found[0] == change.call.params["RouteTableId"]:
        return None
    return _settle_association(actx, change, found)


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


UndoFrom = Callable[[str], Callable[[dict[str, Any]], Call | None]]


class Hooks:
    """What keeps one operation idempotent and safe beside concurrent runs."""

    def __init__(self, guard: Guard, undo_from: UndoFrom | None = None, recover: Any = None,
                 confirm: Any = None) -> None:
        self.guard, self.undo_from, self.recover, self.confirm = guard, undo_from, recover, confirm


_HOOKS: dict[str, Hooks] = {
    "create_internet_gateway": Hooks(_guard_create_igw, _undo_igw),
    "attach_internet_gateway": Hooks(_guard_attach_resolving, recover=_recover_attach),
    "create_route": Hooks(guarded(_guard_create_route), recover=_recover_create_route),
    "replace_route": Hooks(guarded(_guard_replace_route), recover=_retry_resolved),
    "create_route_table": Hooks(_guard_create_table, _undo_table),
    "associate_route_table": Hooks(guarded(_guard_associate), _undo_association, _recover_associate,
                                   _confirm_associate),
    "modify_subnet_attribute": Hooks(_guard_map_public_ip),
}


def change(step: Step, rules: tuple[str, ...], fixer: str) -> Change:
    """A remedy step as a journalled change: the same call, with the guard that keeps it idempotent."""
    hooks = _HOOKS.get(step.call.operation)
    return Change(fixer=fixer, resource=step.resource, description=step.description, call=step.call,
                  undo=step.undo, permissions=step.permissions, rules=rules, before=step.before, safe=step.safe,
                  data={**step.data, "refs": dict(step.refs), "produces": step.produces},
                  guard=hooks.guard if hooks else None, recover=hooks.recover if hooks else None,
                  confirm=hooks.confirm if hooks else None,
                  undo_from_response=hooks.undo_from(step.call.region) if hooks and hooks.undo_from else None)


def changes(steps: list[Step] | tuple[Step, ...], rules: tuple[str, ...], fixer: str) -> list[Change]:
    return [change(s, rules, fixer) for s in steps]


TARGET_PARAM = rm.ROUTE_TARGET_PARAM
