"""A cache of permission verdicts, one file per identity, that is never reused for another one.

The incident behind it: a launcher cached "GCP enabled" from one account and kept trusting it
after the user switched account; the new account could write to storage but not create compute
resources. Here a verdict is keyed by a fingerprint of the identity it was made for — AWS
account + principal ARN; GCP account email + project + SHA-256 of the credentials file — and
a pointer remembers the last identity checked per cloud. A verdict is used only when the
fingerprint matches the pointer and it is younger than the TTL (1 h by default); otherwise it
is ignored, re-checked and rewritten, and the collector records *what changed* for IAM003.

Files live in `platformdirs.user_cache_dir("preflight")/permissions/` (or PREFLIGHT_CACHE_DIR):
`<fingerprint>.json` and `last-<cloud>[-<slot>].json`, where a slot is where an identity comes
from (an AWS profile; several profiles in one run are several identities, not a switch). They
hold identity names (ARNs, emails, project
ids, file hashes) and verdicts only — never a key, token or credential.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from preflight.settings import CacheSettings

SCHEMA = "preflight-permcache/v1"
IDENTITY_FIELDS = ("cloud", "account", "principal", "project", "credentials_sha256")


def cache_dir(settings: CacheSettings | None = None) -> Path:
    """Where the verdict files live for a run with these cache settings."""
    return (settings or CacheSettings()).root()


def identity_of(**fields: str) -> dict[str, str]:
    """The identity a verdict is made for: only the fields that name it, never a secret."""
    return {k: str(fields[k]) for k in IDENTITY_FIELDS if fields.get(k)}


def fingerprint(identity: dict[str, str]) -> str:
    canon = json.dumps(identity_of(**identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(65536), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing or corrupt: treat as no cache, it will be rewritten
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def describe(identity: dict[str, str]) -> str:
    parts = [identity.get("principal") or identity.get("account", "?")]
    if identity.get("project"):
        parts.append(f"project {identity['project']}")
    return ", ".join(parts)


def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """What differs between two identities, in words."""
    out = []
    names = {"account": "account", "principal": "principal", "project": "project",
             "credentials_sha256": "credentials file"}
    for key, label in names.items():
        a, b = old.get(key, ""), new.get(key, "")
        if a != b:
            if key == "credentials_sha256":
                out.append(f"{label} changed (sha256 {a[:12] or '-'} → {b[:12] or '-'})")
            else:
                out.append(f"{label} {a or '-'} → {b or '-'}")
    return out


def _pointer(root: Path, ident: dict[str, str], slot: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", slot)[:64]
    return root / (f"last-{ident.get('cloud', 'aws')}" + (f"-{safe}" if safe and safe != "default" else "") + ".json")


def lookup(identity: dict[str, str], slot: str = "", settings: CacheSettings | None = None) -> dict[str, Any]:
    """The cache state for `identity`: {state, fingerprint, verdicts (only when fresh), previous...}.

    state: fresh (verdicts usable), new (nothing cached), refreshed (--refresh), expired (older
    than the TTL), identity-changed (the last verdicts were made for another identity), disabled.
    """
    ident = identity_of(**identity)
    fp = fingerprint(ident)
    settings = settings or CacheSettings()
    info: dict[str, Any] = {"state": "disabled", "fingerprint": fp, "ttl": settings.ttl}
    if not settings.enabled:
        return info
    root = settings.root()
    last = _read(_pointer(root, ident, slot))
    entry = _read(root / f"{fp}.json")
    if last and last.get("fingerprint") != fp:
        before = _read(root / f"{last['fingerprint']}.json") or {}
        old_ident = last.get("identity", {})
        info.update(state="identity-changed", previous={"identity": old_ident,
                                                         "created_at": before.get("created_at", "")},
                    changes=changes(old_ident, ident),
                    previous_verdicts=_decisions(before))
        return info
    if settings.refresh:
        info.update(state="refreshed")
        if entry:
            info["previous_verdicts"] = _decisions(entry)
        return info
    if entry is None:
        info.update(state="new")
        return info
    try:
        created = dt.datetime.fromisoformat(entry["created_at"])
    except (KeyError, TypeError, ValueError):
        info.update(state="new")
        return info
    age = (_now() - created).total_seconds()
    info["age_seconds"] = int(age)
    if age > settings.ttl or age < -300:
        info.update(state="expired", previous={"identity": entry.get("identity", {}),
                                               "created_at": entry["created_at"]},
                    previous_verdicts=_decisions(entry))
        return info
    info.update(state="fresh", created_at=entry["created_at"], verdicts=entry.get("verdicts") or {})
    return info


def _decisions(entry: dict[str, Any]) -> dict[str, dict[str, str]]:
    """scope -> permission -> decision, from a cache entry."""
    return {scope: {p: str(v.get("decision")) for p, v in perms.items()}
            for scope, perms in (entry.get("verdicts") or {}).items() if isinstance(perms, dict)}


_KEEP = ("decision", "reason", "allowed_by", "denied_by", "undecided")


def store(identity: dict[str, str], verdicts: dict[str, Any], scope: str = "global", merge: bool = False,
          slot: str = "", settings: CacheSettings | None = None) -> None:
    """Record the verdicts for `identity` in `scope` (a region, or "global") and make it the last
    identity checked for its cloud. `merge` adds a scope to the entry written earlier in this run."""
    settings = settings or CacheSettings()
    if not settings.enabled:
        return
    ident = identity_of(**identity)
    fp = fingerprint(ident)
    root = settings.root()
    now = _now().isoformat()
    clean = {p: {k: v for k, v in verdict.items() if k in _KEEP} for p, verdict in verdicts.items()}
    entry = _read(root / f"{fp}.json") if merge else None
    scoped = dict(entry.get("verdicts") or {}) if entry else {}
    scoped[scope] = clean
    _write(root / f"{fp}.json", {"schema": SCHEMA, "fingerprint": fp, "identity": ident,
                                 "created_at": entry["created_at"] if entry else now, "verdicts": scoped})
    _write(_pointer(root, ident, slot),
           {"schema": SCHEMA, "fingerprint": fp, "identity": ident, "at": now})
