"""The fixer registry: `@fixer`, loading built-in and plugin fixers, choosing a fixer for a finding."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from preflight import engine
from preflight.engine import Finding
from preflight.fix.model import Change, FixContext, Refusal

# Like ruff's fix safety. `--apply` makes only safe changes; `--unsafe-fixes` adds the others.
# "sometimes-unsafe": the fixer marks the changes that are unsafe (Change.safe=False), the rest are safe.
Safety = Literal["safe", "unsafe", "sometimes-unsafe"]
SAFETIES: tuple[str, ...] = get_args(Safety)


@dataclass(frozen=True)
class FixerMeta:
    id: str
    fixes: tuple[str, ...]
    permissions: tuple[str, ...]
    summary: str
    safety: Safety = "safe"
    doc: str = ""
    module: str = ""

    @property
    def safe(self) -> bool:
        return self.safety == "safe"

    def safety_note(self) -> str:
        """The docstring's *Fix safety* section: why the fixer is (un)safe."""
        return engine.doc_sections(self.doc).get("Fix safety", "")


@dataclass(frozen=True)
class Fixer:
    meta: FixerMeta
    plan: Callable[[FixContext, list[Finding]], Iterable[Change | Refusal]]

    @property
    def id(self) -> str:
        return self.meta.id


_FIXERS: dict[str, Fixer] = {}


def fixer(*, id: str, fixes: Iterable[str], permissions: Iterable[str] = (), summary: str = "",
          safe: bool = True, safety: Safety | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a fixer: `def plan(ctx: FixContext, findings) -> Iterable[Change | Refusal]`.
    `safety` ("safe", "unsafe", "sometimes-unsafe"; `safe=False` is short for "unsafe") says whether
    `--apply` makes its changes without `--unsafe-fixes`; the docstring's *Fix safety* section says why."""
    resolved = safety or ("safe" if safe else "unsafe")
    if resolved not in SAFETIES:
        raise ValueError(f"fixer {id}: safety {resolved!r} is not one of {', '.join(SAFETIES)}")

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        meta = FixerMeta(id=id, fixes=tuple(fixes), permissions=tuple(permissions), summary=summary,
                         safety=resolved, doc=(func.__doc__ or "").strip(), module=func.__module__)
        existing = _FIXERS.get(id)
        if existing is not None and existing.meta.module != meta.module:
            raise ValueError(f"fixer id {id} registered twice ({existing.meta.module}, {meta.module})")
        _FIXERS[id] = Fixer(meta, func)
        return func

    return deco


_LOADED = False


def load_fixers() -> dict[str, Fixer]:
    """Import built-in fixers and `preflight.fixers` entry-point plugins once."""
    global _LOADED
    if not _LOADED:
        from preflight.plugins import import_all

        import_all("preflight.fixers", "preflight.fixers", "fixer")
        # a rule naming a fixer that does not fix it (or a fixer fixing an unknown rule) is a bug
        engine.check_fixers(engine.load_rules(), {f.meta.id: f.meta.fixes for f in _FIXERS.values()})
        _LOADED = True
    return dict(sorted(_FIXERS.items()))


def always_unsafe(fixer_id: str) -> bool:
    """Whether every change of `fixer_id` is unsafe, so that `fix --apply` makes none of them without
    --unsafe-fixes (a "sometimes-unsafe" fixer's changes are judged one by one, when planned)."""
    found = load_fixers().get(fixer_id)
    return found is not None and found.meta.safety == "unsafe"


def fixers_for(rule_id: str) -> list[Fixer]:
    return [f for f in load_fixers().values() if rule_id in f.meta.fixes]


def candidate_fixers(finding: Finding) -> list[Fixer]:
    """The fixers to ask about a finding: the one it names, else every fixer of its rule. A finding
    that names none (its remedy is for a human, e.g. NET004 with no live target) still goes to them
    all, so the one that owns the case says why it will not act instead of the first one staying
    silent."""
    registry = load_fixers()
    if finding.fix and finding.fix.fixer and finding.fix.fixer in registry:
        chosen = registry[finding.fix.fixer]
        if finding.rule in chosen.meta.fixes:
            return [chosen]
    return fixers_for(finding.rule)


def choose_fixer(finding: Finding) -> Fixer | None:
    candidates = candidate_fixers(finding)
    return candidates[0] if candidates else None


def fixable_rule_ids() -> set[str]:
    return {rid for f in load_fixers().values() for rid in f.meta.fixes}

