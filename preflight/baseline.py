"""Baselines: accept the findings an account has today, fail only on new ones.

`preflight check --write-baseline FILE` records every current FAIL finding by its identity,
`Finding.key()` = (rule, account, region, resource); `--baseline FILE` then drops the findings
whose key is in the file before the exit code is decided, so a gate fails only on what is new.
Messages and severities are stored for people reading the file, not compared: a finding whose
wording changes is still the same finding. Entries that no longer match anything are reported
(`report.gate.baseline["fixed"]`) so the baseline can shrink. UNKNOWN findings (data that
could not be read) are neither recorded nor hidden: the check stays incomplete (exit 3) until fixed.

The file is JSON, one finding per line, so diffs in review stay readable.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from preflight.engine import BaselineOutcome, Finding, Report
from preflight.errors import PreflightError, read_input

SCHEMA = "preflight-baseline/v1"
KEY_FIELDS = ("rule", "account", "region", "resource")

Key = tuple[str, str, str, str]


class BaselineError(PreflightError):
    pass


def dumps(findings: list[Finding], created: str | None = None) -> str:
    created = created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    seen: set[Key] = set()
    rows = []
    for f in sorted(findings, key=lambda f: f.key()):
        if f.key() in seen or f.status == "UNKNOWN":  # an incomplete check is never accepted
            continue
        seen.add(f.key())
        rows.append(json.dumps({"rule": f.rule, "account": f.account, "region": f.region, "resource": f.resource,
                                "severity": f.severity, "status": f.status, "message": f.message},
                               ensure_ascii=False))
    body = ",\n  ".join(rows)
    return (f'{{\n "schema": "{SCHEMA}",\n "created": "{created}",\n "findings": [\n  {body}\n ]\n}}\n'
            if rows else f'{{\n "schema": "{SCHEMA}",\n "created": "{created}",\n "findings": []\n}}\n')


def write(path: str | Path, findings: list[Finding]) -> int:
    """Write the baseline; return how many entries it has."""
    text = dumps(findings)
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror}") from None
    return len(json.loads(text)["findings"])


def _entry_lines(text: str) -> list[int]:
    """Line number of each element of the `findings` array (json gives values, not positions)."""
    decoder = json.JSONDecoder()
    start = text.find('"findings"')
    pos = text.find("[", start) + 1 if start >= 0 else -1
    lines: list[int] = []
    if pos <= 0:
        return lines
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        lines.append(text.count("\n", 0, pos) + 1)
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
    return lines


def loads(text: str, name: str = "baseline") -> set[Key]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{name}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BaselineError(f"{name}:1: not a preflight baseline (schema {found!r}, expected {SCHEMA!r}); "
                            "write one with --write-baseline")
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise BaselineError(f"{name}:1: \"findings\" must be a list")
    lines = _entry_lines(text)
    keys: set[Key] = set()
    for i, e in enumerate(entries):
        line = lines[i] if i < len(lines) else 1
        if not isinstance(e, dict):
            raise BaselineError(f"{name}:{line}: findings[{i}] must be an object")
        for k in KEY_FIELDS:
            if not isinstance(e.get(k), str) or (k in ("rule", "resource") and not e.get(k)):
                raise BaselineError(f"{name}:{line}: findings[{i}]: {k!r} is required and must be a string")
        keys.add((e["rule"], e["account"], e["region"], e["resource"]))
    return keys


def load(path: str | Path) -> set[Key]:
    p = Path(path)
    text = read_input(p, "baseline", BaselineError, hint=f" (create it with --write-baseline {p})")
    return loads(text, str(p))


def apply(report: Report, keys: set[Key]) -> BaselineOutcome:
    """Drop findings in the baseline from the report; record what happened in report.gate.

    UNKNOWN findings are never dropped: a baseline accepts problems, not an incomplete check."""
    kept = [f for f in report.findings if f.status == "UNKNOWN" or f.key() not in keys]
    present = {f.key() for f in report.findings}
    # Only what this run could judge can be "fixed": other regions or rules were not checked, and a
    # rule that was UNKNOWN in a region (its data unreadable) proves nothing there.
    regions, rules = set(report.regions), {r.id for r in report.rules}
    unjudged = {(f.rule, f.account, f.region) for f in report.findings if f.status == "UNKNOWN"}
    gone = sorted(k for k in keys - present if k[2] in regions and k[0] in rules and k[:3] not in unjudged)
    outcome: BaselineOutcome = {"known": len(report.findings) - len(kept), "new": len(kept),
                                "fixed": [dict(zip(KEY_FIELDS, k, strict=True)) for k in gone]}
    report.findings = kept
    report.gate.baseline = outcome
    return outcome
