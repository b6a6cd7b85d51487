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
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, cast, get_args

if TYPE_CHECKING:  # networkx is imported where a graph is built (preflight.graph), not at start-up
    import networkx as nx

    from preflight.plan import Plan

from preflight.errors import PreflightError
from preflight.findings import Finding as Finding  # re-exported: rules and reporters import them from here
from preflight.findings import Fix as Fix
from preflight.findings import Status
from preflight.inventory.model import Inventory, Unreadable
from preflight.settings import RunSettings

T = TypeVar("T")
SEVERITIES = ("info", "low", "medium", "high", "critical")
STATUSES: tuple[Status, ...] = get_args(Status)

# What a FAIL means for a launch. The pipeline, `Report.blocking()`, `preflight rules`/`explain`
# and the README read these; nothing decides by rule-id prefix.
#   launch-blocker  the launch fails, or its instances are unusable (unreachable, no port...)
#   posture         a security exposure: reported, never stops a launch (SG004: SSH open to the world)
#   hygiene         clutter or drift that misleads readers: reported, never stops a launch
Category = Literal["launch-blocker", "posture", "hygiene"]
CATEGORIES: tuple[str, ...] = get_args(Category)
# Where a launch-blocking FAIL must be to concern a given launch (see preflight.scope):
#   plan      about the plan itself (its instance type, image, permissions): always
#   region    about the region the launch goes to: always
#   vpc       in the VPC(s) the launch may land in
#   subnet    on the subnet the launch would use (or its route table / network ACL)
#   group     on the plan's security group
#   replicas  on the plan's replica placement (not on hosts that already run)
Scope = Literal["plan", "region", "vpc", "subnet", "group", "replicas"]
SCOPES: tuple[str, ...] = get_args(Scope)
# A rule's docstring has these sections, in this order (as ruff's rule docs do).
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Fix safety")


def doc_sections(doc: str) -> dict[str, str]:
    """A rule's or a fixer's docstring split at ruff's headings (DOC_SECTIONS; a trailing colon is
    allowed); text before the first heading is not a section."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        heading = line.strip().rstrip(":")
        match = next((h for h in DOC_SECTIONS if heading.rstrip("?") == h.rstrip("?")), None)
        if match is not None:
            current = sections.setdefault(match, [])
        elif current is not None:
            current.append(line)
    return {h: inspect.cleandoc("\n".join(body)) for h, body in sections.items()}


def count(n: int, noun: str) -> str:
    """`1 rule`, `3 rules`: for sentences in reports."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class RuleMeta:
    id: str
    name: str
    severity: str
    summary: str
    references: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    fixer: str | None = None
    # Runs only when --select names it (by id or a prefix other than ALL): for rules that are slow
    # or costly against a real account, like IAM last-accessed reports.
    opt_in: bool = False
    category: Category = "launch-blocker"
    scope: Scope = "region"
    # Whether a FAIL stops a launch by default (launch-blockers do, posture and hygiene never);
    # a launcher profile may refine it per finding (see `blocks_launch()`).
    blocks_launch: bool = True
    # A launch-blocker that blocks only when this key of the finding's details is truthy (SG005:
    # only when the plan's own additions push the group over its quota, `planned`).
    blocks_when: str = ""
    doc: str = ""  # the rule function's docstring: What it does / Why / Example / Fix safety
    module: str = ""

    def doc_sections(self) -> dict[str, str]:
        """The rule's docstring split at ruff's headings: the one source of the prose `explain`,
        SARIF help and the docs show."""
        return doc_sections(self.doc)

    @property
    def rationale(self) -> str:
        """Why a finding matters: the docstring's *Why is this bad?* section (there is no second copy)."""
        return self.doc_sections().get("Why is this bad?", "")

    def blocks(self, finding: Finding) -> bool:
        """The metadata's verdict: does this FAIL stop a launch (scope aside)? A rule may say so
        per finding with `details["blocks_launch"]` (a bool), which wins."""
        if finding.status != "FAIL":
            return False
        said = finding.details.get("blocks_launch")
        if isinstance(said, bool):
            return said
        if not self.blocks_launch:
            return False
        return not self.blocks_when or bool(finding.details.get(self.blocks_when))


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
    references: Iterable[str] = (),
    needs: Iterable[str] = (),
    fixer: str | None = None,
    opt_in: bool = False,
    category: Category = "launch-blocker",
    scope: Scope = "region",
    blocks_launch: bool | None = None,
    blocks_when: str = "",
) -> Callable[[Callable[[Context], Any]], Callable[[Context], Any]]:
    """Register a rule. Use as a decorator on `def check(ctx): ...`.

    The prose a user reads (what it does, why it matters, an example with its fix, fix safety) is
    the function's docstring, in ruff's sections (DOC_SECTIONS); the metadata holds no second copy.

    `blocks_launch` defaults to `category == "launch-blocker"`; posture and hygiene rules can
    never block (a launcher profile may still promote one of their findings)."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {id}: severity {severity!r} is not one of {SEVERITIES}")
    if category not in CATEGORIES:
        raise ValueError(f"rule {id}: category {category!r} is not one of {CATEGORIES}")
    if scope not in SCOPES:
        raise ValueError(f"rule {id}: scope {scope!r} is not one of {SCOPES}")
    blocks = category == "launch-blocker" if blocks_launch is None else blocks_launch
    if blocks and category != "launch-blocker":
        raise ValueError(f"rule {id}: a {category} rule cannot block a launch")

    def deco(func: Callable[[Context], Any]) -> Callable[[Context], Any]:
        meta = RuleMeta(
            id=id,
            name=name,
            severity=severity,
            summary=summary,
            references=tuple(references),
            needs=frozenset(needs),
            fixer=fixer,
            opt_in=opt_in,
            category=category,
            scope=scope,
            blocks_launch=blocks,
            blocks_when=blocks_when,
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

        import_all("preflight.rules", "preflight.rules", "rule")
        _LOADED = True
    return dict(sorted(_REGISTRY.items()))


def check_fixers(rules: dict[str, Rule], fixes: dict[str, Iterable[str]]) -> None:
    """The rule and fixer registries agree: a rule's `fixer` exists and lists the rule in its
    `fixes`, and every rule a fixer `fixes` exists. Raises PreflightError naming the mismatch."""
    problems = []
    for rid, r in rules.items():
        if r.meta.fixer and r.meta.fixer not in fixes:
            problems.append(f"rule {rid} names fixer {r.meta.fixer!r}, which is not registered")
        elif r.meta.fixer and rid not in set(fixes[r.meta.fixer]):
            problems.append(f"rule {rid} names fixer {r.meta.fixer!r}, whose fixes= does not list {rid}")
    for fid, fixed in fixes.items():
        problems += [f"fixer {fid!r} fixes unknown rule {rid}" for rid in fixed if rid not in rules]
    if problems:
        raise PreflightError("rule/fixer registries disagree: " + "; ".join(problems))


def select_rules(
    all_rules: dict[str, Rule], select: Iterable[str] = (), ignore: Iterable[str] = (),
    enable: Iterable[str] = (),
) -> list[Rule]:
    """ruff-style selection: ids or prefixes (`NET`, `SG0`, `ALL`); ignore wins over select.
    Opt-in rules (slow, or making calls a user must ask for) run only when `select` or `enable`
    names their exact id: a prefix (`IAM`, `C`) never pulls one in. `enable` adds them on top of
    the selection (`--dry-run-launch` enables CMP006)."""
    select = [s.strip().upper() for s in select if s.strip()]
    ignore = [s.strip().upper() for s in ignore if s.strip()]
    enable = [s.strip().upper() for s in enable if s.strip()]
    for code in (*select, *ignore, *enable):
        if code != "ALL" and not any(rid.startswith(code) for rid in all_rules):
            raise PreflightError(f"unknown rule id or prefix {code!r} (see `preflight rules`)")

    def matches(rid: str, codes: list[str]) -> bool:
        return any(code == "ALL" or rid.startswith(code) for code in codes)

    named = {*select, *enable}
    chosen = [r for rid, r in all_rules.items()
              if (rid in named if r.meta.opt_in else (not select or matches(rid, select)))]
    return [r for r in chosen if not matches(r.id, ignore)]


class Context:
    """What a rule sees for one inventory: graph, inventory, plan, config, and the run's settings."""

    def __init__(
        self, graph: nx.MultiDiGraph | None, inventory: Inventory, plan: Plan | None,
        config: dict[str, Any] | None = None,
        settings: RunSettings | None = None,
    ) -> None:
        self._graph = graph
        self.graph_seconds = 0.0
        self.inventory = inventory
        self.plan = plan
        self.config = config or {}
        self.settings = settings or RunSettings()
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

    def cached(self, key: str, make: Callable[[], T]) -> T:
        """Share one computed value (an index, a topology) between the rules of one run (the same
        key must always make the same type of value)."""
        if key not in self._cache:
            self._cache[key] = make()
        return cast(T, self._cache[key])

    def option(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def _finding(self, status: Status, resource: str, message: str, path: Iterable[str], fix: Fix | None,
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


def blocks_launch(finding: Finding) -> bool:
    """The default verdict (rule metadata, scope aside) on whether a FAIL stops a launch: what a
    launcher profile starts from before refining it for its own launcher."""
    found = _REGISTRY.get(finding.rule)
    return found.meta.blocks(finding) if found is not None else finding.status == "FAIL"


# A launcher's say on one finding: `profile.blocks(finding) -> bool`. `preflight.launchers`
# profiles have that method; anything callable with a Finding works too.
BlockingPolicy = Callable[[Finding], bool]


def launch_policy(launcher: Any = None) -> BlockingPolicy:
    """Which findings block a launch for `launcher`: a profile object (with `.blocks`), a callable,
    a launcher name (looked up in `preflight.launchers` when it is installed), or None/"" for the
    rule metadata alone."""
    if launcher is None or launcher == "":
        return blocks_launch
    if hasattr(launcher, "blocks"):
        return launcher.blocks  # type: ignore[no-any-return]
    if callable(launcher):
        return launcher  # type: ignore[no-any-return]
    try:
        from preflight.launchers import get_profile  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return blocks_launch
    return get_profile(str(launcher)).blocks


class Suppressed(TypedDict):
    """A finding a config suppression hid (preflight/v1 `suppressed[]`)."""

    rule: str
    resource: str
    region: str
    account: str
    reason: str
    where: str
    expires: str | None


class BaselineOutcome(TypedDict):
    """What a baseline did to a run (preflight/v1 `baseline`): findings it hid, findings it did
    not know, and entries whose finding is gone (`fixed`: rule, account, region, resource)."""

    known: int
    new: int
    fixed: list[dict[str, str]]


@dataclass
class GateOutcome:
    """What the CI gate did after the rules ran; reporters read it (and say what was hidden)."""

    suppressed: list[Suppressed] = field(default_factory=list)
    baseline: BaselineOutcome | None = None  # None: no baseline was applied
    anchor_file: str | None = None  # a repository file SARIF/GitHub results point at (plan, config)


@dataclass
class Report:
    findings: list[Finding]
    inventories: list[Inventory]
    rules: list[Rule]
    stats: dict[str, Any] = field(default_factory=dict)  # counts and timings (`--stats`), nothing reporters need
    plan: Plan | None = None  # the plan the rules judged (None: the account alone)
    gate: GateOutcome = field(default_factory=GateOutcome)

    def blocking(self, launcher: Any = None) -> list[Finding]:
        """The FAILs that would stop this plan's launch: rules whose metadata (or the launcher's
        profile: `launcher`, else the plan's `launcher`) says they block, and only where they
        concern this launch (`RuleMeta.scope`: the plan's VPC, subnet, group, replicas...)."""
        from preflight.scope import LaunchScope

        decide = launch_policy(launcher if launcher is not None else getattr(self.plan, "launcher", None))
        metas = {r.id: r.meta for r in self.rules}
        scopes = {(inv.account, inv.region): LaunchScope.of(inv, self.plan) for inv in self.inventories}
        out = []
        for f in self.findings:
            if f.status != "FAIL" or not decide(f):
                continue
            meta, where = metas.get(f.rule), scopes.get((f.account, f.region))
            if meta is None or where is None or where.covers(meta.scope, f.resource, f.path):
                out.append(f)
        return out

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
    plan: Plan | None = None,
    config: dict[str, Any] | None = None,
    settings: RunSettings | None = None,
) -> Report:
    """Build each inventory's graph and run the rules; UNKNOWN where needed data is unreadable."""
    from preflight.gcpause import paused_gc

    findings: list[Finding] = []
    timings = {"graph_seconds": 0.0, "rules_seconds": 0.0}
    with paused_gc():  # large accounts: see preflight/gcpause.py
        for inv in inventories:
            t1 = time.perf_counter()
            ctx = Context(None, inv, plan, config, settings)  # the graph is built if a rule asks for it
            unreadable = inv.unreadable_types()
            for r in rules:
                ctx.rule = r
                missing = set(r.meta.needs) & unreadable
                produced = _unreadable_findings(ctx, missing) if missing else (r.check(ctx) or ())
                findings.extend(produced)
            timings["graph_seconds"] += ctx.graph_seconds
            timings["rules_seconds"] += time.perf_counter() - t1 - ctx.graph_seconds
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule, f.region, f.resource))
    return Report(findings=findings, inventories=inventories, rules=list(rules), stats=timings, plan=plan)
