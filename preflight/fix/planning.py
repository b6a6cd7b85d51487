"""Planning: ask each fixer for the changes that fix its findings (no AWS calls)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from preflight.engine import Finding
from preflight.fix.model import FixContext, FixPlan, Refusal
from preflight.fix.registry import candidate_fixers, load_fixers


def build_plan(findings: Iterable[Finding], inventories: Iterable[Any], plan: Any = None,
               config: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
               only: Iterable[str] = ()) -> FixPlan:
    """Ask each fixer for the changes that fix its findings, region by region. No AWS calls."""
    only = set(only)
    out = FixPlan()
    by_region = {inv.region: inv for inv in inventories}
    work: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.status != "FAIL":
            continue
        fxs = [fx for fx in candidate_fixers(f) if not only or fx.id in only]
        if not fxs:
            out.unfixable.append(f)
            continue
        out.targeted.append(f)
        for fx in fxs:
            work.setdefault((f.region, fx.id), []).append(f)
    registry = load_fixers()
    seen: dict[str, int] = {}
    for (region, fixer_id), group in sorted(work.items()):
        inv = by_region.get(region)
        if inv is None:
            continue
        ctx = FixContext(inventory=inv, plan=plan, config=dict(config or {}), options=dict(options or {}))
        unsafe_fixer = registry[fixer_id].meta.safety == "unsafe"
        for item in registry[fixer_id].plan(ctx, group) or ():
            if isinstance(item, Refusal):
                out.refusals.append(item)
                continue
            if unsafe_fixer and item.safe:  # Change.safe is the verdict --apply reads: the fixer's, if stricter
                item = dataclasses.replace(item, safe=False)
            key = item.key()
            if key not in seen:  # two findings asking for the very same change get one
                seen[key] = len(out.changes)
                out.changes.append(item)
            elif item.safe and not out.changes[seen[key]].safe:  # a safe fixer asks for it too: safe
                out.changes[seen[key]] = item
    return out

