"""`preflight down LAUNCH_ID`: remove exactly what a launch created.

Terminates the launch's instances (from its record, plus anything tagged with its launch id),
waits until they are gone, revokes the rules the launch added to a security group you made
(unless another running launch still uses that group), deletes the security group only if the
launch created it, releases the launch's replica ports and marks the record `down`. Every step
tolerates "already gone", so running it twice is harmless. Network fixes made by `launch --fix`
are not touched: they are in the fix journal, reversed with `preflight undo JOURNAL`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from preflight.errors import PreflightError
from preflight.launch.records import GroupRecord, LaunchRecord, list_records, load_record, save_record
from preflight.launch.retry import NOT_FOUND_CODES, RetryPolicy, call_with_retry
from preflight.ports import LAUNCH_TAG, PortsError, open_ledger, parse_ledger_url, resolve_ledger_url
from preflight.semantics.remedies import aws_cli

GONE = frozenset({"InvalidInstanceID.NotFound", "InvalidGroup.NotFound", "InvalidPermission.NotFound",
                  "InvalidSecurityGroupRuleId.NotFound"})


@dataclass
class DownResult:
    launch_id: str
    dry_run: bool
    steps: list[tuple[str, str]] = field(default_factory=list)  # (status, text)
    ok: bool = True

    def add(self, status: str, text: str) -> None:
        self.steps.append((status, text))
        if status == "failed":
            self.ok = False

    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "preflight-down/v1", "launch_id": self.launch_id, "dry_run": self.dry_run, "ok": self.ok,
                "steps": [{"status": s, "text": t} for s, t in self.steps], "exit_code": self.exit_code()}


def check_record_target(record: LaunchRecord, identity: dict[str, str] | None) -> None:
    if record.sandbox:
        raise PreflightError(f"launch {record.launch_id} ran in the in-process sandbox, which ended with that "
                             "command: there is nothing to take down")
    want, have = record.account, (identity or {}).get("account", "")
    if want and have and want != have:
        raise PreflightError(f"launch {record.launch_id} is in account {want}, but these credentials are for "
                             f"{have}: nothing was changed (use the profile of that account)")


def _code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def down(session: Any, launch_id: str, *, dry_run: bool = False, retry: RetryPolicy | None = None,
         timeout: float = 600.0, poll: float = 5.0, state_dir: str | None = None,
         identity: dict[str, str] | None = None, ledger: str | None = None,
         config_ledger: str | None = None) -> DownResult:
    """`ledger`: the --ledger URL; by default the ledger the launch recorded it reserved in, else
    $PREFLIGHT_PORTS_LEDGER / `config_ledger` / the local file."""
    record = load_record(launch_id, state_dir)
    check_record_target(record, identity)
    res = DownResult(launch_id, dry_run)
    try:
        return _down(session, record, res, retry or RetryPolicy(), timeout, poll, state_dir, ledger, config_ledger)
    except botocore.exceptions.ClientError as exc:  # e.g. a missing permission: one line, record kept
        res.add("failed", f"AWS answered {_code(exc)}: {exc.response.get('Error', {}).get('Message', '')[:200]}")
        return _finish(record, res, state_dir)


def _down(session: Any, record: LaunchRecord, res: DownResult, policy: RetryPolicy, timeout: float,
          poll: float, state_dir: str | None, ledger: str | None = None,
          config_ledger: str | None = None) -> DownResult:
    launch_id, dry_run = res.launch_id, res.dry_run
    region = record.region
    ec2 = session.client("ec2", region)

    # Instances: the record's, plus any tagged with the launch id (a crash may have beaten the record).
    ids = _alive(ec2, list(record.instances))
    found = ec2.describe_instances(Filters=[
        {"Name": f"tag:{LAUNCH_TAG}", "Values": [launch_id]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    ids += [i["InstanceId"] for r in found.get("Reservations", []) for i in r.get("Instances", [])
            if i["InstanceId"] not in ids]
    if not ids:
        res.add("skipped", "no instances")
    elif dry_run:
        res.add("planned", f"would terminate {', '.join(ids)}")
    else:
        try:
            ec2.terminate_instances(InstanceIds=ids)  # throttling: botocore's retries
            res.add("ok", f"terminating {', '.join(ids)}")
            _wait_terminated(ec2, ids, policy, timeout, poll)
            res.add("ok", f"terminated {', '.join(ids)}")
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in GONE:
                res.add("ok", f"{', '.join(ids)}: already gone")
            else:
                res.add("failed", f"cannot terminate {', '.join(ids)}: {_code(exc)}")
                return _finish(record, res, state_dir)
        except PreflightError as exc:
            res.add("failed", str(exc))
            return _finish(record, res, state_dir)

    sg = record.security_group
    if not sg.id:  # cut short before the record knew its group: the group carries the launch tag
        tagged = ec2.describe_security_groups(Filters=[{"Name": f"tag:{LAUNCH_TAG}", "Values": [launch_id]}])
        found_groups = tagged.get("SecurityGroups") or []
        if found_groups:
            sg = GroupRecord(id=found_groups[0]["GroupId"], created=True)
    gid = sg.id
    users = [r.launch_id for r in list_records(state_dir) if r.launch_id != launch_id
             and r.state in ("running", "launching") and r.security_group.id == gid] if gid else []
    if gid and sg.created and users:  # a later launch reused the group this one made
        res.add("skipped", f"security group {gid} (created by this launch) is kept, since {', '.join(users)} "
                           f"still use(s) it; once they are down: "
                           f"`{aws_cli('ec2', 'delete_security_group', {'GroupId': gid}, region)}`")
    elif gid and sg.created:
        if dry_run:
            res.add("planned", f"would delete security group {gid} (created by this launch)")
        else:
            # The group stays "in use" a little after its instances terminate.
            _attempt(res, lambda: call_with_retry(lambda: ec2.delete_security_group(GroupId=gid), policy,
                                                  what=f"delete security group {gid}",
                                                  retry_on=frozenset({"DependencyViolation"})),
                     f"deleted security group {gid}", f"security group {gid}: already gone",
                     f"cannot delete security group {gid}")
    elif gid:
        undo = sg.undo
        if not undo:
            res.add("skipped", f"security group {gid} is yours: kept, and this launch added no rule to it")
        elif users:
            res.add("skipped", f"security group {gid} is yours: kept, with the rules this launch added, since "
                               f"{', '.join(users)} still use(s) it")
        elif dry_run:
            res.add("planned", f"would revoke the {len(undo)} rule set(s) this launch added to your group {gid} "
                               f"(the group itself is kept)")
        else:
            for call in undo:
                _attempt(res, lambda c=call: call_with_retry(lambda: getattr(ec2, c["operation"])(**c["params"]),
                                                             policy, what=f"revoke the launch's rules on {gid}"),
                         f"revoked the rules this launch added to {gid} (group kept: it is yours)",
                         f"rules on {gid}: already gone", f"cannot revoke the launch's rules on {gid}")

    if dry_run:
        res.add("planned", f"would release the replica ports of {launch_id}")
    else:
        url = parse_ledger_url(ledger, "--ledger") if ledger else (
            parse_ledger_url(record.ledger, f"launch record {launch_id}") if record.ledger
            else resolve_ledger_url(None, config_ledger, state_dir))
        try:
            with open_ledger(url, session) as book:
                n = book.release_owner(launch_id)
            res.add("ok", f"released {n} replica port(s)")
        except PortsError as exc:
            res.add("failed", f"cannot release the replica ports: {exc}; retry `preflight down {launch_id}` "
                              f"or `preflight ports release --owner {launch_id}`")
    if record.fix_journal:
        res.add("note", f"network fixes made by --fix are kept; reverse them with "
                        f"`preflight undo {record.fix_journal}`")
    return _finish(record, res, state_dir)


def _attempt(res: DownResult, action: Any, done: str, gone: str, cannot: str) -> None:
    """Run one removal: `done` on success, `gone` when AWS says it is already gone, else a failed step."""
    try:
        action()
        res.add("ok", done)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in GONE:
            res.add("ok", gone)
        else:
            res.add("failed", f"{cannot}: {_code(exc)}")
    except PreflightError as exc:  # retries exhausted (still in use): one failed step, the record is kept
        res.add("failed", str(exc))


def _alive(ec2: Any, ids: list[str]) -> list[str]:
    """The ids among `ids` that still exist and are not terminated (a second `down` finds none)."""
    if not ids:
        return []
    try:
        resp = ec2.describe_instances(InstanceIds=ids)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in NOT_FOUND_CODES:
            return []
        raise
    states = {i["InstanceId"]: i["State"]["Name"] for r in resp.get("Reservations", []) for i in r.get("Instances", [])}
    return [i for i in ids if states.get(i, "terminated") not in ("terminated", "shutting-down")]


def _wait_terminated(ec2: Any, ids: list[str], policy: RetryPolicy, timeout: float, poll: float) -> None:
    deadline = policy.clock() + timeout
    while True:
        try:
            resp = ec2.describe_instances(InstanceIds=ids)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in NOT_FOUND_CODES:
                return
            raise
        states = {i["InstanceId"]: i["State"]["Name"] for r in resp.get("Reservations", [])
                  for i in r.get("Instances", [])}
        left = [i for i in ids if states.get(i, "terminated") != "terminated"]
        if not left:
            return
        if policy.clock() >= deadline:
            raise PreflightError(f"instances {', '.join(left)} still not terminated after {timeout:.0f}s")
        policy.sleep(poll)


def _finish(record: LaunchRecord, res: DownResult, state_dir: str | None) -> DownResult:
    if not res.dry_run:
        record.state = "down" if res.ok else "down-failed"
        record.down_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        save_record(record, state_dir)
    return res
