"""tests/slow-tests.txt names tests that exist: a renamed test must not silently move between the
everyday run and the slow one."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import slow_tests

ROOT = Path(__file__).resolve().parents[2]


def test_every_slow_entry_names_a_test_function_or_class() -> None:
    missing = []
    for entry in sorted(slow_tests()):
        path, name = entry.split("::", 1)
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        names |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                  if isinstance(t, ast.Name)}  # TestMachine = Machine.TestCase
        if name not in names:
            missing.append(entry)
    assert missing == []
