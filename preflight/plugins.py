"""Discovery shared by rules and fixers: the built-in package's modules, then entry-point plugins."""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil

from preflight.errors import PreflightError


def import_all(package: str, group: str, kind: str) -> None:
    """Import every module of `package` and every `group` entry point (importing registers them).
    A plugin that fails to import is a one-line error naming it, never a traceback."""
    pkg = importlib.import_module(package)
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{mod.name}")
    for ep in importlib.metadata.entry_points(group=group):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the command down
            raise PreflightError(f"{kind} plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from None
