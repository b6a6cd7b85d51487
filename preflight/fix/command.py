"""The `preflight fix` command's core: check -> plan -> (apply with journal -> re-check)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from preflight import engine
from preflight.engine import Finding
from preflight.errors import PreflightError
from preflight.fix.apply import apply_changes
from preflight.fix.interrupted import Written, reporting_changes
from preflight.fix.journal import Journal
from preflight.fix.model import Change, FixPlan, Outcome
from preflight.fix.planning import build_plan
from preflight.fix.registry import choose_fixer, fixable_rule_ids, load_fixers


@dataclass
class FixRun:
    mode: str  # "dry-run" | "apply"
    fix_plan: FixPlan
    outcomes: list[Outcome] = field(default_factory=list)
    journal: str = ""
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    unknown: list[Finding] = field(default_factory=list)  # could not be evaluated (unreadable data)
    unsafe_fixes: bool = False  # --unsafe-fixes: apply the unsafe changes too

    @property
    def skipped(self) -> list[Change]:
        """The unsafe changes --apply left out (or would leave out) without --unsafe-fixes."""
        return [] if self.unsafe_fixes else [c for c in self.fix_plan.changes if not c.safe]

    def exit_code(self) -> int:
        """Dry run: 0 nothing to change, 1 changes or refusals pending. Apply: 0 every targeted
        finding is gone on the re-check and nothing failed, else 1. Either way 3 instead of 0 when
        something could not be evaluated (never a silent "nothing to fix")."""
        if self.mode == "dry-run":
            if self.fix_plan.changes or self.fix_plan.refusals:
                return 1
        elif any(o.status == "failed" for o in self.outcomes) or self.remaining:
            return 1
        return 3 if self.unknown else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "preflight-fix/v1", "mode": self.mode, "regions": self.regions,
            **self.fix_plan.to_dict(), "unsafe_fixes": self.unsafe_fixes,
            "outcomes": [o.to_dict() for o in self.outcomes], "journal": self.journal,
            "recheck": {"fixed": [f.to_dict() for f in self.fixed], "remaining": [f.to_dict() for f in self.remaining]},
            "unknown": [f.to_dict() for f in self.unknown],
            "exit_code": self.exit_code(),
        }


def _validate_plan_group(inventories: list[Any], plan: Any) -> None:
    """A --security-group / plan group that does not exist is bad input for `fix` (exit 2)."""
    from preflight.semantics.secgroups import plan_group_ref, resolve_group

    refs = [(inv, plan_group_ref(plan, inv.region)) for inv in inventories]
    refs = [(inv, ref) for inv, ref in refs if ref]
    if not refs:
        return
    ref = refs[0][1]
    vpc = getattr(plan, "vpc", "")
    if not any(resolve_group(inv.security_groups, ref, vpc) for inv, _ in refs):
        where = f" in {vpc}" if vpc else ""
        regions = ", ".join(inv.region for inv, _ in refs)
        raise PreflightError(f"security group {ref!r} not found{where} in {regions}: check --security-group or the "
                             "plan's security_group (nothing was changed)")


def run_fix(source: Any, plan: Any, select: list[str], ignore: list[str], *, apply: bool = False,
            options: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
            max_changes: int | None = None, only: Iterable[str] = (), command: str = "",
            unsafe_fixes: bool = False) -> FixRun:
    """check -> plan -> (apply with journal -> re-check). `source` is a runner.Source kept open.
    Unsafe changes (see `preflight fixers`) are applied only with `unsafe_fixes`; otherwise their
    outcome is "skipped" and the findings they would fix stay on the re-check."""
    from preflight import engine

    if max_changes is not None and max_changes < 0:
        raise PreflightError(f"--max-changes: must be 0 or more, got {max_changes}")
    if apply and getattr(source.target, "snapshot", None):
        raise PreflightError("--apply needs a live account or --sandbox, not --snapshot (a snapshot cannot change)")
    registry = load_fixers()
    unknown = [f for f in only if f not in registry]
    if unknown:
        raise PreflightError(f"unknown fixer {unknown[0]!r} (known: {', '.join(registry)})")
    all_rules = engine.load_rules()
    chosen = engine.select_rules(all_rules, select, ignore)
    fixable = fixable_rule_ids()
    rule_ids = [r.id for r in chosen if r.id in fixable]
    if not rule_ids:
        raise PreflightError("no selected rule has a fixer (fixable: " + ", ".join(sorted(fixable)) + ")")

    def check() -> engine.Report:
        rules = [all_rules[rid] for rid in rule_ids]
        needs = set().union(*(r.meta.needs for r in rules))
        inventories = source.collect(needs, plan)
        return engine.run(inventories, rules, plan, config, getattr(source.target, "settings", None))

    report = check()
    _validate_plan_group(report.inventories, plan)
    fplan = build_plan(report.findings, report.inventories, plan, config, options, only)
    regions = [inv.region for inv in report.inventories]
    run = FixRun(mode="apply" if apply else "dry-run", fix_plan=fplan, regions=regions,
                 unknown=[f for f in report.findings if f.status == "UNKNOWN"], unsafe_fixes=unsafe_fixes)
    if not apply:
        return run
    header = {"command": command, "regions": regions, "account": report.inventories[0].account if report.inventories
              else "", "source": report.inventories[0].source if report.inventories else ""}
    journal = Journal(header=header)
    # A signal, the endpoint going away or any error from here on, once something changed, ends
    # with the list of changes, the journal and the undo command (exit 1), never "nothing changed".
    written = Written(journals=[journal.path], sandbox=bool(getattr(source.target, "sandbox", None)))
    with reporting_changes(written, getattr(source.session, "endpoint_url", None) or ""):
        skipped = {id(c) for c in run.skipped}
        made = iter(apply_changes([c for c in fplan.changes if id(c) not in skipped], source.session, journal,
                                  max_changes=max_changes))
        # One outcome per planned change, in plan order (the renderers pair them by position).
        run.outcomes = [Outcome(c, "skipped", "unsafe: add --unsafe-fixes to apply it") if id(c) in skipped
                        else next(made) for c in fplan.changes]
        run.journal = str(journal.path) if journal.written else ""
        after = check()
    run.unknown = [f for f in after.findings if f.status == "UNKNOWN"]
    still = {f.key() for f in after.findings if f.status == "FAIL"}
    run.fixed = [f for f in fplan.targeted if f.key() not in still]
    run.remaining = [f for f in after.findings if f.status == "FAIL" and f.rule in fixable
                     and (not only or ((fx := choose_fixer(f)) is not None and fx.id in set(only)))]
    return run

