"""Reporters: turn a Report into text. Each format registers a function with `@reporter(name)`."""

from __future__ import annotations

import importlib
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
