"""Rendering a `preflight fix` run as text or JSON."""

from __future__ import annotations

import json

from preflight.fix.command import FixRun

_MARK = {"applied": "applied", "already": "already ok", "failed": "FAILED", "not-attempted": "not attempted"}


def render_fix(run: FixRun, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(run.to_dict(), indent=2, sort_keys=False, default=str) + "\n"
    p = run.fix_plan
    lines: list[str] = []
    if run.mode == "dry-run":
        lines.append(f"preflight fix: {len(p.changes)} change(s) planned in {', '.join(run.regions)} "
                     "(dry run, nothing changed; add --apply to make them)")
    else:
        lines.append(f"preflight fix --apply: {len(p.changes)} change(s) in {', '.join(run.regions)}")
    lines.append("")
    status = {id(o.change): o for o in run.outcomes}
    for n, c in enumerate(p.changes, 1):
        outcome = run.outcomes[n - 1] if run.mode == "apply" and n <= len(run.outcomes) else status.get(id(c))
        if outcome is not None:
            c = outcome.change  # a guard may have narrowed it to what was really missing
        tag = f"[{_MARK.get(outcome.status, outcome.status)}] " if outcome else ""
        err = f" ({outcome.error})" if outcome and outcome.error else ""
        lines.append(f"{n}. {tag}{c.description}{err}")
        lines.append(f"   fixes {', '.join(c.rules)} with {c.fixer}{'' if c.safe else ' (UNSAFE: shared resource)'}")
        lines.append(f"   $ {c.cli}")
        if c.undo:
            lines.append(f"   undo: {c.undo.cli()}")
    if not p.changes:
        lines.append("nothing to change.")
    if p.refusals:
        lines += ["", "Refused:"]
        lines += [f"  - {r.resource}: {r.reason}" for r in p.refusals]
    if p.changes:
        lines += ["", f"Permissions needed: {', '.join(p.permissions)}"]
    if p.unfixable:
        shown = ", ".join(f"{f.rule} {f.resource}" for f in p.unfixable[:8])
        more = f" and {len(p.unfixable) - 8} more" if len(p.unfixable) > 8 else ""
        lines += ["", f"Not handled by the fixers run: {len(p.unfixable)} finding(s): {shown}{more} "
                      "(see preflight check)"]
    if run.unknown:
        lines += ["", f"Could not evaluate {len(run.unknown)} check(s), so this is not a clean bill:"]
        lines += [f"  - {f.rule} {f.resource}: {f.message}" for f in run.unknown[:8]]
    if run.mode == "apply":
        lines.append("")
        if run.journal:
            lines.append(f"Journal: {run.journal}")
        fixed = ", ".join(f"{f.rule} {f.resource}" for f in run.fixed) or "none"
        remaining = ", ".join(f"{f.rule} {f.resource}" for f in run.remaining) or "none"
        lines.append(f"Re-check: fixed {fixed}; remaining {remaining}")
    return "\n".join(lines) + "\n"
