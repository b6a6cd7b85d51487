"""SkyPilot's own cache of enabled clouds, read the way SkyPilot reads it, without importing it.

SkyPilot (0.14.1, `sky/global_user_state.py`) keeps its state in a SQLite database at
`$SKY_RUNTIME_DIR/.sky/state.db` (default `~/.sky/state.db`). `sky check` writes the clouds it found
usable into the `config` table, key `enabled_clouds_<workspace>_<capability>` (capability
`compute` or `storage`; SkyPilot appends `_<user id>` only for Slurm submit-as-user), value a JSON
list of cloud names ("AWS", "GCP"). `sky launch` trusts that row and re-runs the check only when
the cloud is missing from it — so after a switch of account the row still says "enabled" for an
identity that may no longer hold the permissions (seed incident 002). SkyPilot records no identity
with that row; the identities it does record are the owners of its clusters (`clusters.owner`,
a JSON list: [user id, account] on AWS, [email, project] on GCP), which preflight reports too.

Read-only (SQLite `mode=ro`), and never an error: an unreadable or absent database is reported
as such, for the rule to stay silent.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

PREFIX = "enabled_clouds_"
CAPABILITIES = ("compute", "storage")


def state_db_path() -> Path:
    return Path(os.path.expanduser(os.environ.get("SKY_RUNTIME_DIR", "~"))) / ".sky" / "state.db"


def read_state(path: Path | None = None, workspace: str = "default") -> dict[str, Any]:
    """{"path", "found", "enabled": {capability: [cloud, ...]}, "owners": [[...], ...], "error"}."""
    db = path or state_db_path()
    out: dict[str, Any] = {"path": str(db), "found": False, "enabled": {}, "owners": [], "error": ""}
    if not db.is_file():
        return out
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        out["error"] = f"cannot open {db}: {exc}"
        return out
    try:
        rows = con.execute("SELECT key, value FROM config WHERE key LIKE ?", (PREFIX + "%",)).fetchall()
        for key, value in rows:
            rest = str(key)[len(PREFIX):]
            for cap in CAPABILITIES:
                head = f"{workspace}_{cap}"
                if rest == head or rest.startswith(head + "_"):
                    try:
                        clouds = json.loads(value)
                    except (TypeError, ValueError):
                        continue
                    if isinstance(clouds, list):
                        out["enabled"][cap] = sorted({str(c) for c in clouds})
        out["found"] = bool(rows)
        try:
            owners = con.execute("SELECT owner FROM clusters WHERE owner IS NOT NULL").fetchall()
        except sqlite3.Error:
            owners = []
        for (owner,) in owners:
            try:
                value = json.loads(owner)
            except (TypeError, ValueError):
                continue
            if isinstance(value, list) and value not in out["owners"]:
                out["owners"].append(value)
    except sqlite3.Error as exc:
        out["error"] = f"cannot read {db}: {exc}"
    finally:
        con.close()
    return out
