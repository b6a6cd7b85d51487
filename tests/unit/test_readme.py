"""The README's rule table is generated from the registry; this keeps it current."""

from __future__ import annotations

from pathlib import Path

from preflight.catalogue import README_BEGIN, README_END, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_rule_table_is_current():
    text = README.read_text()
    assert README_BEGIN in text and README_END in text
    current = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert current == markdown_table().strip(), (
        "README rule table is stale: run `python -m preflight.catalogue` to regenerate it")
