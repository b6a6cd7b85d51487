"""The cheap scan that decides whether importlib.metadata must be asked for plugins
(`preflight.plugins._may_declare`): it may say yes when nothing is there (importlib.metadata then
decides), never no when importlib.metadata would find a plugin."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from preflight.plugins import _may_declare

GROUP = "preflight.rules"


@pytest.fixture
def scan_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """sys.path holding one empty directory, and importlib.metadata looking as if not yet imported
    (in the test process it always is, and then the scan answers yes without looking)."""
    monkeypatch.delitem(sys.modules, "importlib.metadata")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    yield tmp_path


def declared(tmp_path: Path) -> bool:
    """What importlib.metadata itself finds for GROUP on sys.path."""
    return any(ep.group == GROUP for ep in metadata.entry_points(group=GROUP))


def test_nothing_declared_is_no(scan_only: Path) -> None:
    (scan_only / "other-1.0.dist-info").mkdir()
    (scan_only / "other-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nx = y:z\n")
    scanned = _may_declare(GROUP)  # first: asking importlib.metadata puts it back in sys.modules
    assert not scanned and not declared(scan_only)


def test_a_dist_info_declaring_the_group_is_yes(scan_only: Path) -> None:
    (scan_only / "plug-1.0.dist-info").mkdir()
    (scan_only / "plug-1.0.dist-info" / "METADATA").write_text("Name: plug\nVersion: 1.0\n")
    (scan_only / "plug-1.0.dist-info" / "entry_points.txt").write_text(f"[{GROUP}]\nplug = plug\n")
    scanned = _may_declare(GROUP)
    assert scanned and declared(scan_only)


def test_an_unpacked_egg_on_sys_path_is_yes(scan_only: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """importlib.metadata reads <x>.egg/EGG-INFO/entry_points.txt when the .egg directory itself is
    on sys.path; the scan of *.dist-info / *.egg-info names would miss it."""
    egg = scan_only / "plug-1.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Name: plug\nVersion: 1.0\n")
    (egg / "EGG-INFO" / "entry_points.txt").write_text(f"[{GROUP}]\nplug = plug\n")
    monkeypatch.setattr(sys, "path", [str(egg)])
    scanned = _may_declare(GROUP)
    assert declared(scan_only), "importlib.metadata finds the egg's plugin"
    assert scanned


def test_a_finder_that_lists_distributions_is_yes(scan_only: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Bundled:
        """A custom importer (zipapp, bundler) that offers its own distributions."""

        @staticmethod
        def find_spec(*args: Any) -> None:
            return None

        @staticmethod
        def find_distributions(*args: Any) -> list[Any]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Bundled])
    assert _may_declare(GROUP)
