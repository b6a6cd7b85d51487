"""`preflight undo JOURNAL`: reverse what a `fix --apply` (or a launch's fix stage) changed.

The journal (see preflight.fix) has a `begin` line written before each call and one outcome line
after it. Undo walks the changes in reverse order:

- `done`: run its recorded undo call (the one refined from the call's response, e.g. the id of
  the route table it created);
- `begin` with no outcome: the process died during the call, so it is *in doubt*; its planned
  undo is tried, and a NotFound answer means the call never happened. A creation whose id only
  came back in the lost answer (a route table, an internet gateway) is looked up by the
  `preflight:fix` tag its call gave it, an association by its subnet and table, at undo time
  (see `find_in_doubt`): found and still unused -> reversed; not found -> it never happened; found
  but used since (a later run adopted it) -> left alone, said so. An in-doubt association that is
  found is never taken back, nor an in-doubt gateway attachment: it cannot be told from a
  concurrent run's association of the same subnet with the same (adopted) table, or attachment of
  the same (adopted) gateway, and taking that back would undo the other run's fix. The step says
  whose it is when another journal beside this one records it, else how to take it back by hand
  if no other run was at work. Any other in-doubt call is undone as before, unless another journal
  beside this one records the very same change as made: then what is there is that run's;
- `already`, `failed`, `retry`: nothing was changed by us, nothing to undo.

An undo call answered with NotFound (the route, association or gateway is already gone) counts as
undone. Undo stops at the first real failure, since later steps may depend on it (a route table
cannot be deleted while a subnet is still associated). Each step's result is appended to the same
journal as an `undone` line, so running undo twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError
from preflight.fix import Call, error_code, read_journal_lines

GONE_CODES = frozenset({
    "InvalidRoute.NotFound", "InvalidRouteTableID.NotFound", "InvalidAssociationID.NotFound",
    "InvalidInternetGatewayID.NotFound", "Gateway.NotAttached", "InvalidPermission.NotFound",
    "InvalidGroup.NotFound", "InvalidInstanceID.NotFound", "InvalidSubnetID.NotFound",
    "InvalidSecurityGroupRuleId.NotFound", "InvalidNetworkInterfaceID.NotFound",
})


# In-doubt calls whose undo needs the answer's id: how `find_in_doubt` finds what they made.
FINDABLE = frozenset({"create_route_table", "create_internet_gateway", "associate_route_table"})


@dataclass
class UndoStep:
    seq: int
    description: str
    call: Call | None
    in_doubt: bool = False
    find: Call | None = None  # an in-doubt FINDABLE call: its undo is looked up when undo runs
    status: str = "planned"  # planned | undone | gone | failed | not-undoable | not-attempted
    error: str = ""
    cli: str = ""  # the AWS CLI equivalent as the journal recorded it

    @property
    def command(self) -> str:
        if self.find is not None and self.call is None:
            return f"(found when undo runs: {_find_words(self.find)})"
        return self.cli or (self.call.cli() if self.call else "")

    @property
    def todo(self) -> bool:
        return self.call is not None or self.find is not None

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "description": self.description, "in_doubt": self.in_doubt,
                "call": self.call.to_dict() if self.call else None, "cli": self.command, "status": self.status,
                "error": self.error, "found_by": _find_words(self.find) if self.find else ""}


@dataclass
class UndoRun:
    journal: str
    header: dict[str, Any]
    steps: list[UndoStep] = field(default_factory=list)
    applied: bool = False
    already_undone: int = 0
    torn_line: int = 0  # the last line, cut short by a crash while writing it (0: none)

    def exit_code(self) -> int:
        if any(s.status == "failed" for s in self.steps):
            return 1
        if not self.applied:
            return 1 if any(s.todo for s in self.steps) else 0
        return 1 if any(s.status == "not-undoable" for s in self.steps) else 0

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "preflight-undo/v1", "journal": self.journal, "applied": self.applied,
                "run": self.header.get("run", ""), "already_undone": self.already_undone,
                "torn_line": self.torn_line,
                "steps": [s.to_dict() for s in self.steps], "exit_code": self.exit_code()}


def plan_undo(path: str | Path) -> UndoRun:
    """Read a journal and list the undo steps, newest change first. No AWS calls."""
    entries, torn = read_journal_lines(path)
    if not entries or entries[0].get("event") != "run":
        raise PreflightError(f"{path}: not a preflight journal (no run header on line 1)")
    begins: dict[int, dict[str, Any]] = {}
    outcomes: dict[int, dict[str, Any]] = {}
    undone: set[int] = set()
    for e in entries[1:]:
        event, seq = e.get("event"), e.get("seq")
        if not isinstance(seq, int):
            continue
        if event == "begin":
            begins[seq] = e
        elif event == "undone":
            if e.get("status") in ("undone", "gone"):
                undone.add(seq)
        else:
            outcomes[seq] = e
    run = UndoRun(journal=str(path), header=entries[0], torn_line=torn)
    for seq in sorted(begins, reverse=True):
        change = begins[seq].get("change") or {}
        if not isinstance(change, dict):
            raise PreflightError(f"{path}: change {seq} is not a JSON object (the journal is damaged)")
        out = outcomes.get(seq)
        if out is not None and out.get("event") != "done":
            continue  # already / failed / retry: nothing of ours to reverse
        if seq in undone:
            run.already_undone += 1
            continue
        raw = (out or {}).get("undo") or change.get("undo")
        step = UndoStep(seq=seq, description=str(change.get("description", "")), call=_undo_call(path, seq, raw),
                        in_doubt=out is None, cli=str((raw or {}).get("cli") or ""))
        made = Call.from_dict(change["call"]) if out is None and isinstance(change.get("call"), dict) else None
        if step.call is None and made is not None and made.operation in FINDABLE:
            step.find = made
        elif step.call is None:
            step.status = "not-undoable"
            step.error = ("in doubt and no undo is known: check by hand" if out is None else
                          f"no automatic undo; before: {json.dumps(change.get('before'), default=str)}")
        run.steps.append(step)
    return run


def _undo_call(path: str | Path, seq: int, raw: Any) -> Call | None:
    """The recorded undo call of change `seq`, or None; a malformed one is a damaged journal (exit 2)."""
    if not raw:
        return None
    if (not isinstance(raw, dict) or not isinstance(raw.get("service"), str)
            or not isinstance(raw.get("operation"), str) or not isinstance(raw.get("params") or {}, dict)
            or not isinstance(raw.get("region", ""), str)):
        raise PreflightError(f"{path}: the undo of change {seq} is not a service/operation/params call "
                             "(the journal is damaged)")
    return Call.from_dict(raw)


def _append(path: str | Path, record: dict[str, Any], torn_line: int = 0) -> None:
    with open(path, "a+", encoding="utf-8") as fh:
        fh.seek(0, os.SEEK_END)
        if torn_line and fh.tell():
            fh.seek(fh.tell() - 1)
            if fh.read(1) != "\n":  # close the torn line, and mark it so the journal stays readable
                fh.write("\n" + json.dumps({"event": "torn", "line": torn_line}, sort_keys=True) + "\n")
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def check_target(run: UndoRun, session: Any, identity: dict[str, str] | None) -> None:
    """Refuse to undo in another account than the journal's, or a sandbox run that no longer exists."""
    source = str(run.header.get("source", ""))
    if source.startswith("sandbox") and not getattr(session, "sandbox_ok", False):
        raise PreflightError(f"{run.journal} was written in the in-process sandbox, which ended with that command; "
                             "there is nothing to undo (nothing was changed in any real account)")
    want = str(run.header.get("account", ""))
    have = (identity or {}).get("account", "")
    if want and have and want != have:
        raise PreflightError(f"{run.journal} was written in account {want}, but these credentials are for {have}: "
                             "nothing was changed (use the profile of that account)")


def apply_undo(run: UndoRun, session: Any) -> UndoRun:
    """Make the undo calls in order, appending an `undone` line per step to the journal."""
    import botocore.exceptions

    run.applied = True
    failed = False
    for step in run.steps:
        if not step.todo:
            continue
        if failed:
            step.status = "not-attempted"
            continue
        if step.call is None and step.find is not None:
            try:
                step.call, why = find_in_doubt(session, step.find, run)
            except botocore.exceptions.ClientError as exc:
                step.call, why = None, f"looking it up: {error_code(exc)}"
            if step.call is None:
                step.status = "gone" if not why else "not-undoable"
                step.error = why or "not found: the call never happened, or what it made was taken back since"
                failed = bool(why)  # in use since: the earlier steps it built on are left alone too
                _record(run, step)
                continue
        call = step.call
        assert call is not None
        try:
            foreign = ("" if not step.in_doubt else _in_doubt_attachment(session, call, run)
                       if call.operation == "detach_internet_gateway" else _made_by_another_run(session, run, call))
            foreign = foreign or _used_by_another_run(session, call, own_associations(run))
        except botocore.exceptions.ClientError as exc:
            foreign = "" if error_code(exc) in GONE_CODES else f"looking it up: {error_code(exc)}"
        if foreign:
            step.status, step.error = "not-undoable", foreign
            failed = True  # the steps before it built that table or gateway: left alone with it
            _record(run, step)
            continue
        try:
            client = session.client(call.service, call.region)
            operation = None if call.operation.startswith("_") else getattr(client, call.operation, None)
            if not callable(operation):
                raise PreflightError(f"{call.service} has no operation {call.operation!r} (the journal is damaged)")
            operation(**call.params)
            step.status = "undone"
        except (PreflightError, botocore.exceptions.ParamValidationError) as exc:
            step.status, step.error = "failed", str(exc).replace("\n", " ")
            failed = True
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in GONE_CODES:
                step.status, step.error = "gone", code
            else:
                step.status, step.error = "failed", code
                failed = True
        _record(run, step)
    return run


def _record(run: UndoRun, step: UndoStep) -> None:
    """The journal's `undone` line for `step`, as it ended."""
    _append(run.journal, {"event": "undone", "seq": step.seq, "status": step.status, "error": step.error,
                          "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")},
            run.torn_line)


def own_associations(run: UndoRun) -> set[str]:
    """The route table associations this run made (the ones its own steps take back)."""
    return {str(s.call.params.get("AssociationId")) for s in run.steps
            if s.call is not None and s.call.operation == "disassociate_route_table"}


def _used_by_another_run(session: Any, call: Call, own: set[str]) -> str:
    """Why `call` (a route's or a route table's removal) must not be made, or "": the table is one
    preflight made (it carries a `preflight:fix` tag) and a subnet uses it through an association
    this run did not make. Concurrent runs adopt each other's tables (see fixers/_netfix.py): the
    run that made a table can lose the association to one that adopted it, and taking the table's
    routes back would undo that other run's fix. A user's table that this run only added a route to
    carries no tag, and its route is taken back as before."""
    if call.operation not in ("delete_route", "delete_route_table") or not call.params.get("RouteTableId"):
        return ""
    from preflight.semantics.remedies import TAG

    table_id = str(call.params["RouteTableId"])
    found = session.client("ec2", call.region).describe_route_tables(RouteTableIds=[table_id]).get("RouteTables", [])
    for table in found:
        if not any(t.get("Key") == TAG for t in table.get("Tags") or []):
            continue
        others = [a for a in table.get("Associations") or []
                  if a.get("SubnetId") and a.get("RouteTableAssociationId") not in own]
        if others:
            subnets = ", ".join(str(a["SubnetId"]) for a in others)
            return (f"route table {table_id} is used by {subnets} through an association this run did not make "
                    "(another run adopted the table); left alone with the steps before it: undo that run "
                    "first, or check by hand")
    return ""


def _tag_value(call: Call) -> str:
    from preflight.semantics.remedies import TAG

    for spec in call.params.get("TagSpecifications") or []:
        for tag in spec.get("Tags") or []:
            if tag.get("Key") == TAG:
                return str(tag.get("Value", ""))
    return ""


def _find_words(call: Call) -> str:
    if call.operation == "associate_route_table":
        return (f"the association of {call.params.get('SubnetId', '?')} with {call.params.get('RouteTableId', '?')}; "
                "if there, left alone and said so: an in-doubt association cannot be told from a concurrent run's")
    what = "route table" if call.operation == "create_route_table" else "internet gateway"
    op = "delete-route-table" if call.operation == "create_route_table" else "delete-internet-gateway"
    return f"the {what} tagged preflight:fix={_tag_value(call)}, then aws ec2 {op}"


def find_in_doubt(session: Any, made: Call, run: UndoRun | None = None) -> tuple[Call | None, str]:
    """(the undo of an in-doubt call whose id was in the lost answer, "") when what it made is found
    and still as it left it; (None, "") when it is not there (the call never happened); (None, why)
    when it is there but used since, e.g. adopted by a later run: that is not this run's to take back.

    A created route table or gateway carries the `preflight:fix` tag its call gave it (runs adopt a
    tagged one rather than make a second, so there is at most one in use). An association is the
    subnet's association with the journalled table, and it is never this run's to take back: see
    `_in_doubt_association`."""
    ec2 = session.client("ec2", made.region)
    params = made.params
    if made.operation == "associate_route_table":
        subnet, table = params.get("SubnetId"), params.get("RouteTableId")
        found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
        for t in found.get("RouteTables", []):
            for a in t.get("Associations") or []:
                if a.get("SubnetId") == subnet and t.get("RouteTableId") == table and not a.get("Main"):
                    return None, _in_doubt_association(session, made, str(a["RouteTableAssociationId"]), run)
        return None, ""
    value = _tag_value(made)
    if not value:
        return None, "in doubt and no preflight:fix tag to find it by: check by hand"
    flt = [{"Name": "tag:preflight:fix", "Values": [value]}]
    if made.operation == "create_route_table":
        flt.append({"Name": "vpc-id", "Values": [str(params.get("VpcId", ""))]})
        tables = ec2.describe_route_tables(Filters=flt).get("RouteTables", [])
        unused = [t["RouteTableId"] for t in tables if not t.get("Associations")]
        if len(unused) == 1 and len(tables) == 1:
            return Call("ec2", "delete_route_table", {"RouteTableId": unused[0]}, made.region), ""
        kind, ids = "route table", [t["RouteTableId"] for t in tables]
    else:
        gateways = ec2.describe_internet_gateways(Filters=flt).get("InternetGateways", [])
        unused = [g["InternetGatewayId"] for g in gateways if not g.get("Attachments")]
        if len(unused) == 1 and len(gateways) == 1:
            return Call("ec2", "delete_internet_gateway", {"InternetGatewayId": unused[0]}, made.region), ""
        kind, ids = "internet gateway", [g["InternetGatewayId"] for g in gateways]
    if not ids:
        return None, ""
    return None, (f"in doubt: {kind} {', '.join(ids)} tagged preflight:fix={value} is in use (or not the only one) "
                  "since, e.g. adopted by a later run; left alone with the steps before it: undo the later run "
                  "first, or check by hand")


def _in_doubt_association(session: Any, made: Call, association: str, run: UndoRun | None) -> str:
    """Why an in-doubt association that is there is left alone (see `_kept_in_doubt`)."""
    subnet, table = made.params.get("SubnetId", "?"), made.params.get("RouteTableId", "?")
    undo = Call("ec2", "disassociate_route_table", {"AssociationId": association}, made.region)
    return _kept_in_doubt(session, run, undo, f"{subnet}'s association with {table} ({association})",
                          f"{subnet} is associated with {table} ({association})", "association", table, subnet)


def _in_doubt_attachment(session: Any, detach: Call, run: UndoRun) -> str:
    """Why the undo of an in-doubt AttachInternetGateway (`detach`) is not made: the gateway is
    attached to the VPC, and that cannot be told from a concurrent run's attachment of the gateway
    it adopted (see `_kept_in_doubt`); "" when it is not attached (the call never happened)."""
    igw, vpc = str(detach.params.get("InternetGatewayId", "")), str(detach.params.get("VpcId", ""))
    found = session.client("ec2", detach.region).describe_internet_gateways(InternetGatewayIds=[igw])
    if not any(a.get("VpcId") == vpc and a.get("State") in ("available", "attached")
               for g in found.get("InternetGateways", []) for a in g.get("Attachments") or []):
        return ""
    return _kept_in_doubt(session, run, detach, f"the attachment of {igw} to {vpc}", f"{igw} is attached to {vpc}",
                          "attachment", igw, vpc)


def _kept_in_doubt(session: Any, run: UndoRun | None, undo: Call, made: str, there: str, kind: str, adopted: str,
                   scope: str) -> str:
    """Why an in-doubt call's effect that is there (`there`) is left alone, and what to do about it.

    The association of a subnet with its table and the attachment of a VPC's gateway are the commit
    points of the network chains (see fixers/_netfix.py), and nothing in the account says who made
    one: a concurrent run that adopted the table or gateway makes the very same association or
    attachment, and AWS answers the other's call with Resource.AlreadyAssociated, changing nothing.
    A run that died during its call (or lost the answer) cannot tell its own from that one, and
    taking the other run's back would undo its fix (then, with no foreign association left, the
    route and the table would go too). So it is left alone, with the steps before it, even when the
    crashed run was alone: that is the case undo cannot finish by itself, and the message gives the
    two commands that do. A journal beside this one (or in the state dir) that records the same
    undo as made is proof it is another run's: the message then names that run instead."""
    maker = _journal_that_made(run, undo) if run is not None else None
    if maker is not None:
        return _theirs(f"{made} was made by run {maker[0]}, not this one", maker[1], _account_flags(session))
    flags = _account_flags(session)
    again = f" && preflight undo {shlex.quote(run.journal)}{flags}" if run is not None else ""
    return (f"in doubt: {there}, but this run never got the answer to its call, so it cannot tell whether it made "
            f"that {kind} or a concurrent run that adopted {adopted} did (taking another run's {kind} back would "
            f"undo its fix); left alone with the steps before it. If no other preflight run was fixing {scope} "
            f"then, take it back and undo again: {undo.cli()}{flags}{again}")


def _account_flags(session: Any) -> str:
    """The --profile and --endpoint-url this undo runs with, for the commands it prints to finish by
    hand (both the aws CLI and preflight take them): the exact command reaches the same account.
    A user name or password in the endpoint is never printed."""
    from preflight.errors import redact_url

    inner = getattr(session, "session", None)
    profile = getattr(inner, "profile_name", None) if inner is not None else None
    endpoint = getattr(session, "endpoint_url", None)
    flags = f" --profile {shlex.quote(profile)}" if profile and profile != "default" else ""
    return flags + (f" --endpoint-url {shlex.quote(redact_url(endpoint))}" if endpoint else "")


def _made_by_another_run(session: Any, run: UndoRun, undo: Call) -> str:
    """Why the undo of an in-doubt call is not made: another run's journal records the very same
    change as made (e.g. the process died before its call left, and a later run made it), so what
    is there is that run's, and taking it back would undo that run's fix; "" with no such journal.
    Without one, undo goes ahead as before: for a route or a subnet attribute that is what a lone
    crashed run needs, and only the commit points (`_kept_in_doubt`) are left alone on doubt alone."""
    maker = _journal_that_made(run, undo)
    if maker is None:
        return ""
    return _theirs(f"run {maker[0]} made this very change, so what is there is that run's", maker[1],
                   _account_flags(session))


def _theirs(whose: str, path: Path, flags: str) -> str:
    return (f"{whose} (its journal {path} says so); left alone with the steps before it: undo that run first "
            f"(preflight undo {shlex.quote(str(path))}{flags}), then this one")


def _journal_that_made(run: UndoRun, undo: Call) -> tuple[str, Path] | None:
    """(run id, journal) of another journal, beside this one or in the state dir, whose run made
    what `undo` takes back (a `done` change whose recorded undo is the same call), or None."""
    from preflight.fix.journal import journal_dir

    mine = Path(run.journal).resolve()
    try:
        places = {Path(run.journal).parent.resolve(), journal_dir().resolve()}
    except OSError:
        places = {Path(run.journal).parent.resolve()}
    for place in sorted(places):
        try:
            paths = sorted(place.glob("*.jsonl"))
        except OSError:
            continue
        for path in paths:
            if path.resolve() == mine:
                continue
            try:
                entries, _ = read_journal_lines(path)
            except (PreflightError, OSError):
                continue  # unreadable or not a journal: no evidence either way
            taken_back = {e.get("seq") for e in entries if e.get("event") == "undone"
                          and e.get("status") in ("undone", "gone")}  # that run's undo (or its own) took it back
            for e in entries:
                recorded = e.get("undo") if e.get("event") == "done" and e.get("seq") not in taken_back else None
                if (isinstance(recorded, dict) and recorded.get("operation") == undo.operation
                        and recorded.get("params") == undo.params):
                    return str(entries[0].get("run") or path.stem), path
    return None


def render_undo(run: UndoRun, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(run.to_dict(), indent=2) + "\n"
    todo = [s for s in run.steps if s.todo]
    head = (f"preflight undo: {len(todo)} step(s) reversing {run.journal}" if run.applied else
            f"preflight undo --dry-run: {len(todo)} step(s) would reverse {run.journal} (nothing changed)")
    lines = [head, ""]
    if run.torn_line:
        lines += [f"line {run.torn_line} of the journal is torn (the run stopped while writing it): what it "
                  f"recorded is in doubt; the change it belongs to is undone if it may have happened", ""]
    marks = {"undone": "undone", "gone": "already gone", "failed": "FAILED", "not-attempted": "not attempted",
             "not-undoable": "cannot undo"}
    for s in run.steps:
        tag = f"[{marks[s.status]}] " if s.status in marks and (run.applied or s.status == "not-undoable") else ""
        doubt = " (in doubt: the run stopped during this call)" if s.in_doubt else ""
        if s.in_doubt and s.call is not None and s.call.operation == "detach_internet_gateway" and not run.applied:
            doubt = doubt[:-1] + ("; if the gateway is attached, left alone and said so: an in-doubt attachment "
                                  "cannot be told from a concurrent run's)")
        err = f" ({s.error})" if s.error else ""
        lines.append(f"{s.seq}. {tag}undo: {s.description}{doubt}{err}")
        if s.call or s.find:
            lines.append(f"   $ {s.command}")
    if not run.steps:
        lines.append("nothing to undo" + (f" ({run.already_undone} change(s) already undone)" if run.already_undone
                                          else "") + ".")
    return "\n".join(lines) + "\n"
