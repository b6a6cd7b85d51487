"""The journal: one JSON line per event, written and fsynced before each call (see preflight.fix)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError
from preflight.fix.model import Change
from preflight.semantics.remedies import Call

JOURNAL_VERSION = 1


def journal_dir() -> Path:
    """$PREFLIGHT_JOURNAL_DIR, else the `journal` directory of preflight's state dir (which follows
    $PREFLIGHT_STATE_DIR, like the port ledger and the launch records)."""
    override = os.environ.get("PREFLIGHT_JOURNAL_DIR")
    if override:
        return Path(override)
    from preflight.ports import state_dir

    return state_dir() / "journal"


def new_run_id() -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    import secrets  # here: hashlib/hmac behind it cost start-up time to commands that write no journal

    return f"{now}-{secrets.token_hex(3)}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class Journal:
    """Append-only JSON lines, flushed and fsynced line by line (see the module docstring)."""

    def __init__(self, run_id: str | None = None, directory: Path | str | None = None,
                 header: dict[str, Any] | None = None) -> None:
        self.run_id = run_id or new_run_id()
        # preflight's own directory (not one the caller or $PREFLIGHT_JOURNAL_DIR named) is tightened
        # to 0700 even if an older version left it 0755; a named one is only created private.
        self._own = directory is None and not os.environ.get("PREFLIGHT_JOURNAL_DIR")
        self.directory = Path(directory) if directory else journal_dir()
        self.path = self.directory / f"{self.run_id}.jsonl"
        self._seq = 0
        self._header = header or {}
        self._opened = False

    @property
    def written(self) -> bool:
        """Whether the journal file exists: it is created with the first change (a run that changed
        nothing leaves no journal behind)."""
        return self._opened

    def entries(self) -> list[dict[str, Any]]:
        """The journal's lines so far (none before the first change)."""
        return read_journal(self.path) if self._opened else []

    def _open(self) -> None:
        if self._opened:
            return
        from preflight.ports import private_dir, state_dir

        try:
            if self._own:
                private_dir(state_dir(), tighten=True)
            private_dir(self.directory, tighten=self._own)
        except OSError as exc:
            raise PreflightError(f"cannot create the journal directory {self.directory}: {exc.strerror}") from None
        self._opened = True
        self._append({"event": "run", "run": self.run_id, "time": _now(), "version": JOURNAL_VERSION,
                      **self._header})

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # 0600 whatever the umask
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def begin(self, change: Change) -> int:
        self._open()
        self._seq += 1
        self._append({"event": "begin", "run": self.run_id, "seq": self._seq, "time": _now(),
                      "change": change.to_dict()})
        return self._seq

    def outcome(self, seq: int, event: str, undo: Call | None = None, error: str = "",
                result: dict[str, Any] | None = None) -> None:
        self._append({"event": event, "run": self.run_id, "seq": seq, "time": _now(),
                      "undo": undo.to_dict() if undo else None, "error": error, "result": result or {}})


    def undone(self, seq: int, reason: str) -> None:
        """The run reversed its own change `seq` (e.g. deleted a route table it made once a concurrent
        run's table won): the same line `preflight undo` writes, so undo does not try it again."""
        self._append({"event": "undone", "run": self.run_id, "seq": seq, "time": _now(), "status": "undone",
                      "error": reason})


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    return read_journal_lines(path)[0]


def read_journal_lines(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """(entries, number of a torn last line or 0). A crash while writing leaves the last line cut
    short: that line alone is dropped (what it recorded is in doubt); damage anywhere else is bad
    input."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise PreflightError(f"journal not found: {p}") from None
    except UnicodeDecodeError:
        raise PreflightError(f"{p}: not a preflight journal (not UTF-8 text)") from None
    except OSError as exc:
        raise PreflightError(f"cannot read the journal {p}: {exc.strerror or exc}") from None
    out = []
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    torn = 0
    for i, (n, line) in enumerate(numbered):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            following = numbered[i + 1][1] if i + 1 < len(numbered) else ""
            # The last line, or one `undo` closed with a {"event": "torn"} marker before appending.
            if n > 1 and not torn and (not following or following.startswith('{"event": "torn"')):
                torn = n
                continue
            raise PreflightError(f"{p}:{n}: not a JSON line (the journal is damaged)") from None
        if not isinstance(entry, dict):
            raise PreflightError(f"{p}:{n}: not a JSON object (the journal is damaged)")
        if entry.get("event") == "torn":
            continue
        out.append(entry)
    return out, torn

