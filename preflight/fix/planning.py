"""Planning: ask each fixer for the changes that fix its findings (no AWS calls)."""

from __future__ import annotations

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
    seen: set[str] = set()
    for (region, fixer_id), group in sorted(work.items()):
        inv = by_region.get(region)
        if inv is None:
            continue
        ctx = FixContext(inventory=inv, plan=plan, config=dict(config or {}), options=dict(options or {}))
        for item in registry[fixer_id].plan(ctx, group) or ():
            if isinstance(item, Refusal):
                out.refusals.append(item)
                continue
            key = item.key()
            if key not in seen:  # two findings asking for the very same change get one
                seen.add(key)
                out.changes.append(item)
    return out

