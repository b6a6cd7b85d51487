"""Discovery shared by rules and fixers: the built-in package's modules, then entry-point plugins."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from importlib.machinery import PathFinder

from preflight.errors import PreflightError


def import_all(package: str, group: str, kind: str) -> None:
    """Import every module of `package` and every `group` entry point (importing registers them).
    A plugin that fails to import is a one-line error naming it, never a traceback."""
    pkg = importlib.import_module(package)
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{mod.name}")
    if not _may_declare(group):
        return
    from importlib import metadata

    for ep in metadata.entry_points(group=group):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the command down
            raise PreflightError(f"{kind} plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from None


def _may_declare(group: str) -> bool:
    """Whether `importlib.metadata.entry_points(group=group)` can find anything. Importing
    importlib.metadata (email parsing and all) costs more than an offline check's own work, and
    almost always no installed distribution declares preflight's groups: this looks at the
    `entry_points.txt` of every `*.dist-info` / `*.egg-info` directory on sys.path for the group's
    name, and answers True (ask importlib.metadata, which then decides exactly) when one mentions
    it, when a sys.path entry is not a plain directory (a zip or egg file: only importlib.metadata
    reads those), or when importlib.metadata is loaded already (nothing left to save)."""
    if "importlib.metadata" in sys.modules:
        return True
    # A finder other than the standard PathFinder that can list distributions (a custom importer,
    # e.g. a zipapp or a bundler's): only importlib.metadata asks it.
    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return True
    for entry in sys.path:
        path = entry or "."
        if not os.path.isdir(path):
            if os.path.exists(path):
                return True
            continue
        if path.lower().endswith(".egg"):  # an unpacked egg: its EGG-INFO/entry_points.txt
            return True
        try:
            names = os.listdir(path)
        except OSError:
            return True
        for name in names:
            low = name.lower()
            if not (low.endswith(".dist-info") or low.endswith(".egg-info")):
                continue
            try:
                with open(os.path.join(path, name, "entry_points.txt"), encoding="utf-8", errors="replace") as fh:
                    if group in fh.read():
                        return True
            except FileNotFoundError:
                continue
            except OSError:  # not a directory (an egg-info file), unreadable: let importlib.metadata judge
                if os.path.isdir(os.path.join(path, name)):
                    return True
    return False
