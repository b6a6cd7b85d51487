"""Text for `preflight launch`, `down`, `ports list`: one line per stage, then the details."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from preflight.launch.pipeline import LaunchResult, Stage

MARKS = {"ok": "✓", "planned": "·", "skipped": "-", "failed": "✗", "blocked": "!"}
WIDTH = 8


def stage_text(st: Stage) -> str:
    lines = [f"{MARKS.get(st.status, '?')} {st.name:<{WIDTH}} {st.summary}"]
    for line in st.lines:
        first, *rest = line.split("\n")
        lines.append(f"    {first}")
        lines += [f"    {r}" for r in rest]
    return "\n".join(lines)


def launch_text(result: LaunchResult, stages_shown: bool) -> str:
    out: list[str] = []
    if not stages_shown:
        out += [stage_text(s) for s in result.stages]
    if result.mode == "dry-run":
        tail = ("dry run: nothing was changed; add --apply to launch" if result.ok else
                "dry run: the launch would stop here; nothing was changed")
    else:
        tail = (f"launched {result.launch_id}" if result.ok else f"launch {result.launch_id} stopped")
        sandbox = result.record is not None and result.record.source.startswith("sandbox")
        if result.record and result.record.instances and not result.ok and not sandbox:
            tail += f"; remove what it created with `preflight down {result.launch_id}`"
    out.append(tail)
    return "\n".join(out) + "\n"


def launch_json(result: LaunchResult) -> str:
    return json.dumps(result.to_dict(), indent=2, default=str) + "\n"


def ports_table(rows: list[Any], now: float) -> str:
    if not rows:
        return "no port reservations\n"
    head = f"{'HOST':<22} {'PORT':>5}  {'STATE':<8} {'OWNER':<30} {'SERVICE':<10} EXPIRES"
    lines = [head]
    for r in rows:
        if r.expires_at is None:
            exp = "never (until down)"
        elif r.expires_at <= now:
            exp = "EXPIRED (zombie; `preflight ports gc`)"
        else:
            exp = dt.datetime.fromtimestamp(r.expires_at, dt.timezone.utc).isoformat(timespec="seconds")
        lines.append(f"{r.host:<22} {r.port:>5}  {r.state:<8} {r.owner:<30} {r.service or '-':<10} {exp}")
    return "\n".join(lines) + "\n"
