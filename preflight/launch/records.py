"""Launch records: what a `preflight launch` created, so `preflight down` can remove exactly that.

One JSON file per launch in `<state dir>/launches/<launch id>.json` (state dir: the `state_dir`
argument, else $PREFLIGHT_STATE_DIR, else platformdirs' user state dir), 0600 in 0700 directories.
The record is written as soon as instances exist and updated after every later stage, so a launch
that fails half-way can still be taken down. Everything a launch creates is also tagged
`preflight:launch-id`, so `down` finds it even when the record is behind.

In memory a record is a `LaunchRecord` (typed); on disk it is the JSON of `to_dict()`, schema
`preflight-launch-record/v1`, the same keys every earlier version wrote, so `down` reads records
written before the dataclass existed (missing keys take their defaults) and keys it does not know
are kept as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from preflight.errors import PreflightError
from preflight.ports import private_dir, state_dir

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
SCHEMA = "preflight-launch-record/v1"

RecordState = Literal["launching", "running", "failed", "ended", "down", "down-failed"]
STATES: tuple[str, ...] = get_args(RecordState)


class RecordError(ValueError):
    """A JSON object that is not a launch record this version can read."""


def _str(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RecordError(f"{key}: not a string")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise RecordError(f"{key}: not a list")
    return value


@dataclass
class GroupRecord:
    """The launch's security group: made by the launch (`created`, deleted by down) or the user's, to
    which the launch added `authorized` rules that down revokes with the `undo` calls."""

    id: str = ""
    name: str = ""
    created: bool = False
    authorized: list[dict[str, Any]] = field(default_factory=list)  # Change.to_dict() of each rule set added
    undo: list[dict[str, Any]] = field(default_factory=list)  # Call.to_dict() that revoke them

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created": self.created, "authorized": self.authorized,
                "undo": self.undo}

    @classmethod
    def from_dict(cls, data: Any) -> GroupRecord:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise RecordError("security_group: not an object")
        undo = _list(data, "undo")
        if not all(isinstance(c, dict) and isinstance(c.get("operation"), str)
                   and isinstance(c.get("params", {}), dict) for c in undo):
            raise RecordError("security_group.undo: not a list of calls")
        return cls(id=_str(data, "id"), name=_str(data, "name"), created=data.get("created") is True,
                   authorized=_list(data, "authorized"), undo=undo)


@dataclass(frozen=True)
class ReplicaRecord:
    replica: int
    host: str
    port: int
    service: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"replica": self.replica, "service": self.service, "host": self.host, "port": self.port}

    @classmethod
    def from_dict(cls, data: Any) -> ReplicaRecord:
        if not (isinstance(data, dict) and isinstance(data.get("host"), str)
                and type(data.get("port")) is int and type(data.get("replica", 0)) is int):
            raise RecordError("replicas: each needs a host and an integer port")
        return cls(replica=data.get("replica", 0), host=data["host"], port=data["port"],
                   service=_str(data, "service"))


# Keys written only once they have a value (as before the dataclass): absent means empty.
_OPTIONAL = ("updated_at", "error", "ended_reason", "ledger", "down_at")


@dataclass
class LaunchRecord:
    """What one `preflight launch` created and where, for `preflight down` (see the module docstring)."""

    launch_id: str
    region: str
    state: RecordState = "launching"
    created_at: str = ""
    account: str = ""
    source: str = "aws"  # "aws" or "sandbox:<scenario>"
    endpoint_url: str = ""
    plan: str = ""  # the plan file it was launched from
    name: str = ""
    vpc: str = ""
    subnet: str = ""
    security_group: GroupRecord = field(default_factory=GroupRecord)
    instances: list[str] = field(default_factory=list)
    replicas: list[ReplicaRecord] = field(default_factory=list)
    fix_journal: str = ""
    journal: str = ""
    ledger: str = ""  # the port ledger URL the replicas are reserved in
    updated_at: str = ""
    error: str = ""
    ended_reason: str = ""
    down_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # keys of a newer writer, kept as they were

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.extra, "schema": SCHEMA, "launch_id": self.launch_id, "state": self.state,
            "created_at": self.created_at, "region": self.region, "account": self.account, "source": self.source,
            "endpoint_url": self.endpoint_url, "plan": self.plan, "name": self.name, "vpc": self.vpc,
            "subnet": self.subnet, "security_group": self.security_group.to_dict(), "instances": list(self.instances),
            "replicas": [r.to_dict() for r in self.replicas], "fix_journal": self.fix_journal,
            "journal": self.journal,
        }
        out.update({key: getattr(self, key) for key in _OPTIONAL if getattr(self, key)})
        return out

    @classmethod
    def from_dict(cls, data: Any) -> LaunchRecord:
        """A record from its JSON; RecordError names the first key that does not fit."""
        if not _valid(data):
            raise RecordError("not a launch record (no launch_id and region)")
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise RecordError(f"schema {schema!r} is not {SCHEMA} (written by another preflight version?)")
        state = data.get("state", "launching")
        if state not in STATES:
            raise RecordError(f"state: {state!r} is not one of {', '.join(STATES)}")
        instances = _list(data, "instances")
        if not all(isinstance(i, str) for i in instances):
            raise RecordError("instances: not a list of instance ids")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"} | {"schema"}
        return cls(
            launch_id=data["launch_id"], region=data["region"], state=state, created_at=_str(data, "created_at"),
            account=_str(data, "account"), source=_str(data, "source", "aws"), endpoint_url=_str(data, "endpoint_url"),
            plan=_str(data, "plan"), name=_str(data, "name"), vpc=_str(data, "vpc"), subnet=_str(data, "subnet"),
            security_group=GroupRecord.from_dict(data.get("security_group")), instances=instances,
            replicas=[ReplicaRecord.from_dict(r) for r in _list(data, "replicas")],
            fix_journal=_str(data, "fix_journal"), journal=_str(data, "journal"), ledger=_str(data, "ledger"),
            updated_at=_str(data, "updated_at"), error=_str(data, "error"), ended_reason=_str(data, "ended_reason"),
            down_at=_str(data, "down_at"), extra={k: v for k, v in data.items() if k not in known})

    @property
    def sandbox(self) -> bool:
        return self.source.startswith("sandbox")


def new_launch_id() -> str:
    return f"launch-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def records_dir(override: str | Path | None = None) -> Path:
    return state_dir(override) / "launches"


def record_path(launch_id: str, override: str | Path | None = None) -> Path:
    if not _ID.match(launch_id):
        raise PreflightError(f"{launch_id!r} is not a launch id (like launch-20260101-120000-ab12)")
    return records_dir(override) / f"{launch_id}.json"


def save_record(record: LaunchRecord, override: str | Path | None = None) -> Path:
    path = record_path(record.launch_id, override)
    try:
        private_dir(state_dir(override), tighten=True)
        private_dir(path.parent, tighten=True)
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a stale .tmp an older version left 0644
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)  # atomic: a reader never sees half a record
    except OSError as exc:
        raise PreflightError(f"cannot write the launch record {path}: {exc.strerror}") from None
    return path


def load_record(launch_id: str, override: str | Path | None = None) -> LaunchRecord:
    path = record_path(launch_id, override)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(r.launch_id for r in list_records(override)[-5:]) or "none"
        raise PreflightError(f"no launch {launch_id!r} in {path.parent} (recent: {known})") from None
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8
        raise PreflightError(f"cannot read the launch record {path}: {exc}") from None
    try:
        return LaunchRecord.from_dict(data)
    except RecordError as exc:
        raise PreflightError(f"cannot read the launch record {path}: {exc}") from None


def _valid(record: Any) -> bool:
    return (isinstance(record, dict) and isinstance(record.get("launch_id"), str)
            and isinstance(record.get("region"), str))


def list_records(override: str | Path | None = None) -> list[LaunchRecord]:
    """Every readable launch record, oldest first; damaged files are skipped."""
    out = []
    for p in sorted(records_dir(override).glob("*.json")):
        try:
            out.append(LaunchRecord.from_dict(json.loads(p.read_text(encoding="utf-8"))))
        except (OSError, ValueError):  # RecordError is a ValueError too
            continue
    return sorted(out, key=lambda r: r.created_at)
