"""The install layout: rules and fixers live in the repository's top-level `rules/` and `fixers/`
folders but are the packages `preflight.rules` and `preflight.fixers`, so only `preflight` sits at
the top of site-packages (PyPI's `rules`, django-rules, owns a top-level `rules`).

These run against whatever install the suite uses (the README's editable install, or a wheel);
.ci/run also builds the wheel and checks it in fresh virtualenvs, beside django-rules."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import preflight
from preflight import engine, fix

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL_NAMES = ("rules", "fixers")


def test_builtin_rules_and_fixers_load_only_under_preflight():
    rules = engine.load_rules()
    fixers = fix.load_fixers()
    assert {"NET001", "SG010"} <= set(rules)
    assert "route-add-default" in fixers
    assert {r.meta.module.rsplit(".", 1)[0] for r in rules.values()} == {"preflight.rules"}
    assert {f.meta.module.rsplit(".", 1)[0] for f in fixers.values()} == {"preflight.fixers"}
    # Nothing imported them (or their helpers) a second time under a top-level name.
    assert not [m for m in sys.modules if m.split(".")[0] in TOP_LEVEL_NAMES]


def test_preflight_rules_is_the_repository_folder_or_the_installed_copy():
    import preflight.fixers
    import preflight.rules

    pkg = Path(preflight.__file__).resolve().parent
    for mod, name in ((preflight.rules, "rules"), (preflight.fixers, "fixers")):
        where = Path(mod.__file__).resolve().parent
        # Editable install: the repository's own folder; a wheel: preflight/<name> in site-packages.
        assert where in {REPO / name, pkg / name}, where


def test_no_source_imports_a_top_level_rules_or_fixers_package():
    offenders = []
    for folder in ("preflight", "rules", "fixers", "tests", "bench"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names
                              if n.split(".")[0] in TOP_LEVEL_NAMES]
    assert offenders == []


def test_a_top_level_rules_package_is_not_installed(tmp_path):
    # -I: no current directory, PYTHONPATH or user site on sys.path, only what is installed.
    for name in TOP_LEVEL_NAMES:
        out = subprocess.run([sys.executable, "-I", "-c", f"import {name}"], cwd=tmp_path,
                             capture_output=True, text=True)
        assert out.returncode == 1 and f"No module named '{name}'" in out.stderr, out.stderr
    # The near miss: the namespaced packages do import from the same place.
    out = subprocess.run([sys.executable, "-I", "-c", "import preflight.rules, preflight.fixers"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_distribution_name_command_and_entry_point_groups():
    dist = importlib.metadata.distribution("cloud-preflight")
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts == {"preflight": "preflight._entry:main"}
    assert dist.version == preflight.__version__
