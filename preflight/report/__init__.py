"""Reporters: turn a Report into text. Each format registers a function with `@reporter(name)`."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from preflight.errors import PreflightError

Renderer = Callable[[Any], str]
REPORTERS: dict[str, Renderer] = {}
_MODULES = ("json", "table", "sarif", "junit", "github", "markdown")


def reporter(name: str) -> Callable[[Renderer], Renderer]:
    def deco(fn: Renderer) -> Renderer:
        REPORTERS[name] = fn
        return fn
    return deco


def colour_wanted(stream: Any = None) -> bool:
    """Colour for a terminal only, and not when NO_COLOR is set to a non-empty value (no-color.org:
    an empty NO_COLOR does not count)."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def fix_command(sources: object, region: str, rule: str = "", plan: Any = None, fixer: str | None = None) -> str:
    """The `preflight fix` command for one finding, aimed where the check looked: the same sandbox
    scenario (a bare `preflight fix --apply` after a sandbox check would act on the real account),
    else the finding's region; the same plan (its file, and the --ports/--security-group/
    --source-cidr the check was given: without them SG010's fixer would not know the ports);
    narrowed to the finding's rule; with --unsafe-fixes when `fixer` makes only unsafe changes
    (`--apply` alone would skip them, and the hint would fix nothing)."""
    import shlex

    names = sorted({str(s).split(":", 1)[1] for s in sources if str(s).startswith("sandbox:")})  # type: ignore[attr-defined]
    parts = ["preflight", "fix"]
    if names:
        parts += ["--sandbox", names[0]]
    if region and region != "-":
        parts += ["--region", region]
    parts += plan_flags(plan)
    if rule:
        parts += ["--select", rule]
    if fixer and _always_unsafe(fixer):
        parts.append("--unsafe-fixes")
    return " ".join(shlex.quote(p) for p in parts) + " --apply"


def _always_unsafe(fixer: str) -> bool:
    """Whether every change of `fixer` is unsafe: a built-in fixer's declared safety, read without
    importing any fixer; the registry (which imports them all) only for a plugin's fixer."""
    from preflight.fixers import SAFETY

    if fixer in SAFETY:
        return SAFETY[fixer] == "unsafe"
    from preflight.fix.registry import always_unsafe

    return always_unsafe(fixer)


def plan_flags(plan: Any) -> list[str]:
    """The command-line flags that give another command the same plan as `plan`."""
    if plan is None:
        return []
    out: list[str] = []
    source = str(getattr(plan, "source", "") or "")
    if source and not source.startswith("sandbox scenario") and os.path.isfile(source):
        out += ["--plan", source]
    given: frozenset[str] = getattr(plan, "overridden", frozenset())  # the flags, not what the file already says
    if "ports" in given and plan.ports:
        out += ["--ports", ",".join(str(p) for p in plan.ports)]
    if "security_group" in given and plan.security_group:
        out += ["--security-group", plan.security_group]
    if "source_cidr" in given and plan.source_cidr and plan.source_cidr != "0.0.0.0/0":
        out += ["--source-cidr", plan.source_cidr]
    return out


def report_sources(report: Any) -> list[str]:
    return [inv.source for inv in getattr(report, "inventories", []) if getattr(inv, "source", "")]


def formats() -> list[str]:
    """Every report format: the built-in ones (module `preflight.report.<name>` registers `<name>`,
    imported when that format is rendered: an offline check in table format does not pay for the
    SARIF or JUnit writers) and any other registered reporter."""
    return sorted({*_MODULES, *REPORTERS})


def render(report: Any, fmt: str) -> str:
    if fmt not in formats():
        raise PreflightError(f"unknown format {fmt!r} (one of: {', '.join(formats())})")
    if fmt not in REPORTERS:
        importlib.import_module(f"preflight.report.{fmt}")
    return REPORTERS[fmt](report)
