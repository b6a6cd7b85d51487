"""Every file preflight reads goes through one bounded reader and one bounded YAML loader (issue 16,
item 1): alias bombs, endless files, huge and deeply nested documents are one short line, exit 2,
before they can eat memory or time."""

from __future__ import annotations

import pytest
import yaml

from preflight.cli import main
from preflight.errors import MAX_MESSAGE_CHARS, PreflightError, document_size, load_yaml, read_input
from preflight.plan import PlanError, load_plan


def bomb(levels: int, fan: int = 9) -> str:
    names = "abcdefghijklmnop"
    parts = [f"&{names[0]} [{', '.join(['lol'] * fan)}]"]
    for i in range(1, levels):
        parts.append(f"&{names[i]} [{', '.join(['*' + names[i - 1]] * fan)}]")
    return "name: [" + ", ".join(parts) + "]\n"


HOSTILE_PLANS = {
    "alias-bomb-9": (bomb(9), "expands to more than"),
    "alias-bomb-in-skypilot-region": (
        "resources:\n  region: " + bomb(9).split(": ", 1)[1], "expands to more than"),
    "alias-bomb-in-ports": ("resources:\n  ports: " + bomb(9).split(": ", 1)[1], "expands to more than"),
    "recursive-alias": ("name: &a [*a]\n", "refers to itself"),
    "deep-nesting": ("name: " + "[" * 5000 + "]" * 5000 + "\n", "YAML"),
    "long-list": ("name: [" + ",".join(str(i) for i in range(200_000)) + "]\n", "name: expected a string"),
    "not-yaml": ("name: [unclosed\n", "invalid YAML"),
    "binary": ("\x00\x01\x02", "invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PLANS))
def test_hostile_plans_are_one_short_line(case, tmp_path):
    text, expected = HOSTILE_PLANS[case]
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as exc:
        load_plan(path)
    message = str(exc.value)
    assert expected in message
    assert str(path) in message


@pytest.mark.parametrize("case", sorted(HOSTILE_PLANS))
def test_cli_prints_one_line_under_the_cap(case, tmp_path, capsys):
    text, _ = HOSTILE_PLANS[case]
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(["check", "--snapshot", str(tmp_path / "unused.json"), "--plan", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) <= MAX_MESSAGE_CHARS + 1
    assert err.startswith("preflight: error: ")


@pytest.mark.parametrize("what", ["plan", "config", "baseline", "snapshot"])
def test_endless_file_is_refused_without_reading_it_all(what):
    with pytest.raises(PreflightError) as exc:
        read_input("/dev/zero", what, max_bytes=1 << 20)
    assert "larger than 1 MiB" in str(exc.value)


def test_dev_zero_as_plan_through_the_cli(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", "--plan", "/dev/zero", "--snapshot", "/nonexistent.json"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "plan file /dev/zero is larger than" in err and "MemoryError" not in err


def test_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(PreflightError, match="not UTF-8"):
        read_input(path, "plan")


def test_document_size_counts_alias_expansion_without_expanding():
    shared = list(range(10))
    doc = {"a": [shared] * 10, "b": shared}
    assert document_size(doc) == 1 + 2 + (1 + 10 * 11) + 11
    deep = yaml.safe_load(bomb(9))  # PyYAML shares aliased values: cheap to load, huge to walk
    assert document_size(deep) > 1_000_000  # 9**9 values, measured in linear time


def test_anchors_in_ordinary_documents_still_load():
    doc = load_yaml("base: &b {cpus: 4}\nworker: *b\nhead: *b\n", "x")
    assert doc == {"base": {"cpus": 4}, "worker": {"cpus": 4}, "head": {"cpus": 4}}
    docs = load_yaml("a: 1\n---\nb: 2\n", "x", multi=True)
    assert docs == [{"a": 1}, {"b": 2}]
