"""One source for rule documentation (issue 13 item 5): a rule's prose lives in its docstring's
sections only; the metadata carries the one-line summary and facts (severity, category, needs...),
and `explain`, SARIF help, `rules --format json` and the README table are derived from both."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from preflight import engine
from preflight.catalogue import explain_rule, render_catalogue
from preflight.report.sarif import rule_descriptor

RULES = engine.load_rules()
# The keywords of @rule(...): facts, plus `summary`, the only prose, one line.
METADATA_KEYWORDS = {"id", "name", "severity", "summary", "references", "needs", "fixer", "opt_in", "category",
                     "scope", "blocks_launch", "blocks_when"}


def _sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", flat) if len(s.split()) >= 6]


def _decorator(module: str) -> ast.Call:
    path = Path(inspect.getfile(importlib.import_module(module)))
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "rule":
                    return deco
    raise AssertionError(f"{module}: no @rule(...)")


def test_the_metadata_has_no_field_for_a_second_copy_of_the_prose() -> None:
    fields = {f.name for f in dataclasses.fields(engine.RuleMeta)}
    assert not fields & {"rationale", "remediation", "description", "help"}
    assert set(inspect.signature(engine.rule).parameters) == METADATA_KEYWORDS


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_a_rule_writes_its_prose_once(rule_id: str) -> None:
    meta = RULES[rule_id].meta
    deco = _decorator(meta.module)
    used = {k.arg for k in deco.keywords}
    assert used <= METADATA_KEYWORDS, used - METADATA_KEYWORDS
    # the summary is one line, not a paragraph hiding a second description
    assert "\n" not in meta.summary and len(meta.summary) <= 120, meta.summary
    assert not re.search(r"\w{3,}[.!?] [A-Z]", meta.summary), f"{rule_id}: the summary is more than one sentence"
    sections = meta.doc_sections()
    assert list(sections) == list(engine.DOC_SECTIONS)
    seen: dict[str, str] = {}
    for heading, body in sections.items():
        for sentence in _sentences(body):
            assert sentence not in seen, f"{rule_id}: {sentence!r} is in {seen.get(sentence)} and {heading}"
            seen[sentence] = heading
    assert meta.summary not in " ".join(meta.doc.split())


def test_every_derived_text_comes_from_the_docstring() -> None:
    catalogue = {r["id"]: r for r in json.loads(render_catalogue("json"))}
    for rule_id, r in RULES.items():
        sections = r.meta.doc_sections()
        text = explain_rule(rule_id)
        for heading, body in sections.items():
            assert text.count(body) == 1, (rule_id, heading)
        descriptor = rule_descriptor(r.meta)
        assert descriptor["fullDescription"]["text"] == sections["Why is this bad?"]
        assert descriptor["help"]["text"] == text
        assert catalogue[rule_id]["doc"] == sections
        assert catalogue[rule_id]["rationale"] == sections["Why is this bad?"]
        assert "remediation" not in catalogue[rule_id]


def test_a_plugin_passing_prose_as_metadata_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="remediation"):
        engine.rule(id="X900", name="x", severity="low", summary="s", remediation="do it")  # type: ignore[call-arg]
