"""Rules, findings and the engine that runs rules over inventories.

A rule is a function registered with `@rule(...)` metadata. The metadata is the single source for
`preflight rules`, `preflight explain`, the README table and SARIF rule help. Rules never call a
cloud: they read the graph, the inventory and the plan, and yield findings through `ctx.fail()` /
`ctx.unknown()`.

Built-in rules live in the top-level `rules` package (one module per rule); third-party rules are
found through the `preflight.rules` entry-point group (each entry point names a module to import).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from preflight.errors import PreflightError
from preflight.inventory.model import Inventory, Unreadable

SEVERITIES = ("info", "low", "medium", "high", "critical")
STATUSES = ("FAIL", "UNKNOWN")


def count(n: int, noun: str) -> str:
    """`1 rule`, `3 rules`: for sentences in reports."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Fix:
    """How to fix a finding: the fixer that can do it (if any) and the equivalent CLI commands."""

    fixer: str | None = None
    commands: tuple[str, ...] = ()
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"fixer": self.fixer, "commands": list(self.commands), "description": self.description}


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    severity: str
    status: str
    resource: str
    region: str
    message: str
    account: str = ""
    path: tuple[str, ...] = ()
    fix: Fix | None = None
    # Structured facts for machines (missing ports, permissions...), never secrets.
    details: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[str, str, str, str]:
        """Identity used by baselines and de-duplication."""
        return (self.rule, self.account, self.region, self.resource)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "resource": self.resource,
            "region": self.region,
            "account": self.account,
            "message": self.message,
            "path": list(self.path),
            "fix": self.fix.to_dict() if self.fix else None,
            "details": self.details,
        }


@dataclass(frozen=True)
class RuleMeta:
    id: str
    name: str
    severity: str
    summary: str
    rationale: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    fixer: str | None = None
    # Runs only when --select names it (by id or a prefix other than ALL): for rules that are slow
    # or costly against a real account, like IAM last-accessed reports.
    opt_in: bool = False
    doc: str = ""  # the rule function's docstring: What it does / Why / Example / Fix safety
    module: str = ""


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    check: Callable[[Context], Iterable[Finding] | None]

    @property
    def id(self) -> str:
        return self.meta.id


_REGISTRY: dict[str, Rule] = {}


def rule(
    *,
    id: str,
    name: str,
    severity: str,
    summary: str,
    rationale: str = "",
    remediation: str = "",
    references: Iterable[str] = (),
    needs: Iterable[str] = (),
    fixer: str | None = None,
    opt_in: bool = False,
) -> Callable[[Callable[[Context], Any]], Callable[[Context], Any]]:
    """Register a rule. Use as a decorator on `def check(ctx): ...`."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {id}: severity {severity!r} is not one of {SEVERITIES}")

    def deco(func: Callable[[Context], Any]) -> Callable[[Context], Any]:
        meta = RuleMeta(
            id=id,
            name=name,
            severity=severity,
            summary=summary,
            rationale=rationale,
            remediation=remediation,
            references=tuple(references),
            needs=frozenset(needs),
            fixer=fixer,
            opt_in=opt_in,
            doc=inspect.cleandoc(func.__doc__ or ""),
            module=func.__module__,
        )
        existing = _REGISTRY.get(id)
        if existing is not None and existing.meta.module != meta.module:
            raise ValueError(f"rule id {id} registered twice ({existing.meta.module}, {meta.module})")
        _REGISTRY[id] = Rule(meta, func)
        return func

    return deco


_LOADED = False


def load_rules() -> dict[str, Rule]:
    """Import built-in rules and entry-point plugins once; return the registry sorted by id."""
    global _LOADED
    if not _LOADED:
        from preflight.plugins import import_all

        import_all("rules", "preflight.rules", "rule")
        _LOADED = True
    return dict(sorted(_REGISTRY.items()))


def select_rules(
    all_rules: dict[str, Rule], select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> list[Rule]:
    """ruff-style selection: ids or prefixes (`NET`, `SG0`, `ALL`); ignore wins over select.
    Opt-in rules run only when a code other than ALL selects them."""
    select = [s.strip().upper() for s in select if s.strip()]
    ignore = [s.strip().upper() for s in ignore if s.strip()]
    for code in (*select, *ignore):
        if code != "ALL" and not any(rid.startswith(code) for rid in all_rules):
            raise PreflightError(f"unknown rule id or prefix {code!r} (see `preflight rules`)")

    def matches(rid: str, codes: list[str]) -> bool:
        return any(code == "ALL" or rid.startswith(code) for code in codes)

    named = [c for c in select if c != "ALL"]
    chosen = [r for rid, r in all_rules.items()
              if (matches(rid, named) if r.meta.opt_in else (not select or matches(rid, select)))]
    return [r for r in chosen if not matches(r.id, ignore)]


class Context:
    """What a rule sees for one inventory: graph, inventory, plan, config."""

    def __init__(
        self, graph: nx.MultiDiGraph | None, inventory: Inventory, plan: Any, config: dict[str, Any] | None = None
    ) -> None:
        self._graph = graph
        self.graph_seconds = 0.0
        self.inventory = inventory
        self.plan = plan
        self.config = config or {}
        self.rule: Rule | None = None
        self._cache: dict[str, Any] = {}

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The inventory's graph, built on first use: no built-in rule reads it (they use the
        semantics' indexes), and on a large account it costs as much as several rules."""
        if self._graph is None:
            from preflight.graph import build
            from preflight.semantics.routes import Topology

            t = time.perf_counter()
            self._graph = build(self.inventory, self.cached("topology", lambda: Topology(self.inventory)))
            self.graph_seconds += time.perf_counter() - t
        return self._graph

    @property
    def built_graph(self) -> nx.MultiDiGraph | None:
        """The graph if it was given or built already (never builds it)."""
        return self._graph

    @property
    def region(self) -> str:
        return self.inventory.region

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """Share one computed value (an index, a topology) between the rules of one run."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def option(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def _finding(self, status: str, resource: str, message: str, path: Iterable[str], fix: Fix | None,
                 details: dict[str, Any] | None, severity: str | None) -> Finding:
        assert self.rule is not None
        meta = self.rule.meta
        sev = severity or self.config.get("severity_overrides", {}).get(meta.id, meta.severity)
        return Finding(
            rule=meta.id,
            name=meta.name,
            severity=sev,
            status=status,
            resource=resource,
            region=self.inventory.region,
            account=self.inventory.account,
            message=message,
            path=tuple(path),
            fix=fix,
            details=details or {},
        )

    def fail(self, resource: str, message: str, path: Iterable[str] = (), fix: Fix | None = None,
             details: dict[str, Any] | None = None, severity: str | None = None) -> Finding:
        return self._finding("FAIL", resource, message, path, fix, details, severity)

    def unknown(self, resource: str, message: str, path: Iterable[str] = (),
                details: dict[str, Any] | None = None) -> Finding:
        return self._finding("UNKNOWN", resource, message, path, None, details, None)

    def fix(self, *commands: str, description: str = "", fixer: str | None = "") -> Fix:
        """A Fix; the fixer defaults to the rule's declared fixer."""
        chosen = self.rule.meta.fixer if fixer == "" and self.rule else (fixer or None)
        return Fix(fixer=chosen, commands=tuple(commands), description=description)


@dataclass
class Report:
    findings: list[Finding]
    inventories: list[Inventory]
    rules: list[Rule]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return sorted({inv.region for inv in self.inventories})

    @property
    def unreadable(self) -> list[tuple[Inventory, Unreadable]]:
        return [(inv, u) for inv in self.inventories for u in inv.unreadable]

    def summary(self) -> dict[str, Any]:
        by_sev = {s: 0 for s in SEVERITIES}
        fails = unknowns = 0
        for f in self.findings:
            if f.status == "FAIL":
                fails += 1
                by_sev[f.severity] += 1
            else:
                unknowns += 1
        return {
            "rules_run": len(self.rules),
            "findings": len(self.findings),
            "fail": fails,
            "unknown": unknowns,
            "by_severity": by_sev,
        }

    def exit_code(self, fail_on: str = "low") -> int:
        """0 clean, 1 a FAIL at or above `fail_on`, 3 incomplete (UNKNOWN) and nothing failed."""
        threshold = severity_rank(fail_on)
        if any(f.status == "FAIL" and severity_rank(f.severity) >= threshold for f in self.findings):
            return 1
        if any(f.status == "UNKNOWN" for f in self.findings):
            return 3
        return 0


def _unreadable_findings(ctx: Context, missing: set[str]) -> Iterator[Finding]:
    by_type = {u.resource_type: u for u in ctx.inventory.unreadable}
    perms = sorted({by_type[t].permission for t in missing if by_type[t].permission})
    what = ", ".join(sorted(missing))
    need = f"; grant {', '.join(perms)}" if perms else ""
    yield ctx.unknown(
        ctx.inventory.region,
        f"cannot evaluate: {what} could not be read ({by_type[sorted(missing)[0]].error_code}){need}",
        details={"unreadable": sorted(missing), "permissions": perms},
    )


def run(
    inventories: list[Inventory],
    rules: list[Rule],
    plan: Any = None,
    config: dict[str, Any] | None = None,
) -> Report:
    """Build each inventory's graph and run the rules; UNKNOWN where needed data is unreadable."""
    from preflight.gcpause import paused_gc

    findings: list[Finding] = []
    timings = {"graph_seconds": 0.0, "rules_seconds": 0.0}
    with paused_gc():  # large accounts: see preflight/gcpause.py
        for inv in inventories:
            t1 = time.perf_counter()
            ctx = Context(None, inv, plan, config)  # the graph is built if a rule asks for it
            unreadable = inv.unreadable_types()
            for r in rules:
                ctx.rule = r
                missing = set(r.meta.needs) & unreadable
                produced = _unreadable_findings(ctx, missing) if missing else (r.check(ctx) or ())
                findings.extend(produced)
            timings["graph_seconds"] += ctx.graph_seconds
            timings["rules_seconds"] += time.perf_counter() - t1 - ctx.graph_seconds
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule, f.region, f.resource))
    return Report(findings=findings, inventories=inventories, rules=list(rules), stats=timings)
