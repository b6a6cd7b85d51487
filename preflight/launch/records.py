"""Launch records: what a `preflight launch` created, so `preflight down` can remove exactly that.

One JSON file per launch in `<state dir>/launches/<launch id>.json` (state dir: the `state_dir`
argument, else $PREFLIGHT_STATE_DIR, else platformdirs' user state dir), 0600 in 0700 directories.
The record is written as soon as instances exist and updated after every later stage, so a launch
that fails half-way can still be taken down. Everything a launch creates is also tagged
`preflight:launch-id`, so `down` finds it even when the record is behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError
from preflight.ports import private_dir, state_dir

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


def new_launch_id() -> str:
    return f"launch-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def records_dir(override: str | Path | None = None) -> Path:
    return state_dir(override) / "launches"


def record_path(launch_id: str, override: str | Path | None = None) -> Path:
    if not _ID.match(launch_id):
        raise PreflightError(f"{launch_id!r} is not a launch id (like launch-20260101-120000-ab12)")
    return records_dir(override) / f"{launch_id}.json"


def save_record(record: dict[str, Any], override: str | Path | None = None) -> Path:
    path = record_path(record["launch_id"], override)
    try:
        private_dir(state_dir(override), tighten=True)
        private_dir(path.parent, tighten=True)
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a stale .tmp an older version left 0644
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)  # atomic: a reader never sees half a record
    except OSError as exc:
        raise PreflightError(f"cannot write the launch record {path}: {exc.strerror}") from None
    return path


def load_record(launch_id: str, override: str | Path | None = None) -> dict[str, Any]:
    path = record_path(launch_id, override)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(r["launch_id"] for r in list_records(override)[-5:]) or "none"
        raise PreflightError(f"no launch {launch_id!r} in {path.parent} (recent: {known})") from None
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8
        raise PreflightError(f"cannot read the launch record {path}: {exc}") from None
    if not _valid(record):
        raise PreflightError(f"cannot read the launch record {path}: not a launch record (no launch_id and region)")
    return record


def _valid(record: Any) -> bool:
    return (isinstance(record, dict) and isinstance(record.get("launch_id"), str)
            and isinstance(record.get("region"), str))


def list_records(override: str | Path | None = None) -> list[dict[str, Any]]:
    """Every readable launch record, oldest first; damaged files are skipped."""
    out = []
    for p in sorted(records_dir(override).glob("*.json")):
        try:
            record = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _valid(record):
            out.append(record)
    return sorted(out, key=lambda r: str(r.get("created_at", "")))
