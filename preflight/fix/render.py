"""Rendering a `preflight fix` run as text or JSON."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from preflight.errors import PreflightError
from preflight.fix.command import FixRun

_MARK = {"applied": "applied", "already": "already ok", "failed": "FAILED", "not-attempted": "not attempted",
         "skipped": "skipped", "withdrawn": "applied, then withdrawn"}


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
        said = run.unsafe_fixes or (outcome is not None and outcome.status == "skipped")  # already on the line above
        unsafe = "" if c.safe else " (unsafe)" if said else " (unsafe: applied only with --unsafe-fixes)"
        lines.append(f"   fixes {', '.join(c.rules)} with {c.fixer}{unsafe}")
        lines.append(f"   $ {c.cli}")
        if outcome is not None and outcome.status == "withdrawn":
            lines.append("   undo: none needed (this run took it back)")
        elif c.undo:
            lines.append(f"   undo: {c.undo.cli()}")
    if not p.changes:
        lines.append("nothing to change.")
    skipped = run.skipped
    if skipped:
        verb = "Skipped" if run.mode == "apply" else "--apply will skip"
        which = ", ".join(sorted({c.fixer for c in skipped}))
        lines += ["", f"{verb} {len(skipped)} unsafe change(s) of {which} (`preflight fixers` says why each is "
                      "unsafe); add --unsafe-fixes to apply them."]
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


def fixer_listing() -> list[dict[str, Any]]:
    """Each fixer: its safety, the rules it fixes and the IAM actions it needs, read from the same
    catalogue as `preflight iam-policy --for fix` (so the listing and the policy cannot differ)."""
    from preflight.fix.registry import load_fixers
    from preflight.iam_policy import fix_actions

    needs: dict[str, list[str]] = {}
    for action, why in fix_actions().items():
        for reason in why:
            needs.setdefault(reason.removeprefix("fixer "), []).append(action)
    return [{"id": f.id, "safety": f.meta.safety, "fixes": list(f.meta.fixes), "summary": f.meta.summary,
             "permissions": sorted(needs.get(f.id, [])), "fix_safety": f.meta.safety_note()}
            for f in load_fixers().values()]


def render_fixers(fmt: str = "table") -> str:
    """`preflight fixers`: the listing as a table or JSON."""
    if fmt not in ("table", "json"):
        raise PreflightError(f"--format: unknown format {fmt!r} (table or json)")
    rows = fixer_listing()
    if fmt == "json":
        return json.dumps({"schema": "preflight-fixers/v1", "fixers": rows}, indent=2) + "\n"
    lines: list[str] = []
    for r in rows:
        lines.append(f"{r['id']}: {r['safety']}, fixes {', '.join(r['fixes'])}")
        lines.append(f"  {r['summary']}")
        why = " ".join(r["fix_safety"].split())
        if why:
            lines += textwrap.wrap(f"safety: {why}", 100, initial_indent="  ", subsequent_indent="    ")
        lines += textwrap.wrap(f"permissions: {', '.join(r['permissions'])}", 100, initial_indent="  ",
                               subsequent_indent="    ", break_on_hyphens=False)
        lines.append("")
    unsafe = sum(1 for r in rows if r["safety"] != "safe")
    lines.append(f"{len(rows)} fixers ({unsafe} unsafe or sometimes unsafe). `preflight fix --apply` makes only the "
                 "safe changes; add --unsafe-fixes for the others. All the permissions: "
                 "`preflight iam-policy --for fix`.")
    return "\n".join(lines) + "\n"
