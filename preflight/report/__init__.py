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


def formats() -> list[str]:
    for mod in _MODULES:
        try:
            importlib.import_module(f"preflight.report.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"preflight.report.{mod}":
                raise
    return sorted(REPORTERS)


def render(report: Any, fmt: str) -> str:
    if fmt not in formats():
        raise PreflightError(f"unknown format {fmt!r} (one of: {', '.join(formats())})")
    return REPORTERS[fmt](report)
