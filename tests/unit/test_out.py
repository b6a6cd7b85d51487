"""preflight.out writes what rich writes, byte for byte, on a stream that is not a terminal (the
lean path of an offline check prints without importing rich). Compared with rich itself on
arbitrary text: control characters, brackets, backslashes, emoji codes, wide characters."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.text import Text

from preflight import out, textsafe
from preflight.engine import Report, Rule, RuleMeta
from preflight.findings import Finding, Fix
from preflight.inventory.model import Inventory, Unreadable
from preflight.report import table

# Text as tags and attackers write it: ASCII punctuation that means something to rich, controls,
# emoji codes, non-ASCII.
ALPHABET = st.sampled_from(list("ab :[]/\\@#=-_x") + ["\x1b", "\r", "\t", "\x07", "\x0b", "é", "漢", "\u202e",
                                                      ":warning:", ":smile:", "[bold]", "[/]", "\\[", "::"])
TEXT = st.lists(ALPHABET, max_size=12).map("".join)


def rich_plain_console(buf: io.StringIO) -> Console:
    """The consoles preflight prints through when the stream is not a terminal."""
    return Console(file=buf, force_terminal=False, no_color=True, width=100, soft_wrap=True, highlight=False)


def assert_as_rich(plain: str | None, printable: object, **kw: object) -> None:
    """`plain` (None: the plain path declined) is what rich prints for `printable`."""
    buf = io.StringIO()
    rich_plain_console(buf).print(printable, **kw)
    if plain is not None:
        assert plain + "\n" == buf.getvalue()


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_markup_escape_is_riches_own(s):
    assert textsafe.markup(s) == rich_escape(textsafe.terminal(s))


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_plain_markup_is_what_rich_prints(a, b):
    markup = f"  [bold]{textsafe.markup(a)}[/bold] {textsafe.markup(b)}  [dim]path:[/dim] x"
    buf = io.StringIO()
    rich_plain_console(buf).print(markup)
    plain = out.plain_markup(markup)
    if plain is not None:
        assert plain + "\n" == buf.getvalue()


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_plain_text_is_what_rich_prints(s):
    assert_as_rich(out.plain_text(s), s, markup=False)
    assert_as_rich(out.plain_text(s, emoji=False), Text(s, style="bold"))


def test_the_plain_path_is_taken_for_ordinary_text_and_refused_where_rich_decides():
    """The near miss of the agreement above: a path that always said "ask rich" would pass it."""
    assert out.plain_markup("  [bold]NET002[/bold] subnet [UNKNOWN]  [dim]eu-south-1[/dim]") == \
        "  NET002 subnet [UNKNOWN]  eu-south-1"
    assert out.plain_text("preflight: error: no such file") == "preflight: error: no such file"
    assert out.plain_text("a :warning: b") is None  # rich shows an emoji there
    assert out.plain_markup("x \\[bold]") is None
    assert out.plain_markup("route ::/0 open") is None


def report_with(message: str, resource: str, description: str) -> Report:
    meta = RuleMeta(id="SG004", name="admin-port-open", severity="high", summary="s", needs=frozenset(),
                    doc="d")
    finding = Finding(rule="SG004", name="admin-port-open", severity="high", status="FAIL", resource=resource,
                      region="eu-south-1", message=message, path=(resource, "sg-1"),
                      fix=Fix(fixer="sg-x", commands=(f"aws ec2 x --group-id {resource}",), description=description))
    unknown = Finding(rule="IAM001", name="missing", severity="medium", status="UNKNOWN", resource="eu-south-1",
                      region="eu-south-1", message=f"cannot read {message}")
    inv = Inventory(region="eu-south-1", source="snapshot",
                    unreadable=(Unreadable(resource_type="iam", error_code=message, permission="", message=""),))
    return Report(findings=[finding, unknown], inventories=[inv], rules=[Rule(meta=meta, check=lambda ctx: ())])


def rich_table(report: Report, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(table, "_plain", lambda lines: None)
        return table.render_table(report)


@settings(max_examples=150, deadline=None)
@given(TEXT, TEXT, TEXT)
def test_the_table_report_is_riches_byte_for_byte(message, resource, description):
    mp = pytest.MonkeyPatch()
    try:
        mp.delenv("NO_COLOR", raising=False)
        report = report_with(message, resource, description)
        assert table.render_table(report) == rich_table(report, mp)
    finally:
        mp.undo()


def test_the_table_report_takes_the_plain_path_for_ordinary_text(monkeypatch):
    report = report_with("port 22 is open to 0.0.0.0/0", "sg-0abc", "revoke it")
    lines = table._lines(report)
    assert table._plain(lines) is not None
    assert table.render_table(report) == rich_table(report, monkeypatch)
    assert "  SG004 admin-port-open  eu-south-1 sg-0abc\n" in table.render_table(report)


def test_err_console_prints_like_the_rich_one(capsys):
    console = out.ErrConsole()
    console.print("preflight: error: cannot read x.json")
    console.print("stats: a :smile: b", end="")
    with console.status("Reading…") as status:
        status.update("still reading")
    captured = capsys.readouterr()
    buf = io.StringIO()
    rich_console = Console(file=buf, highlight=False, soft_wrap=True)
    rich_console.print("preflight: error: cannot read x.json", markup=False)
    rich_console.print("stats: a :smile: b", markup=False, end="")
    assert captured.err == buf.getvalue() and "😄" in captured.err


@pytest.mark.parametrize("width", [79, 80, 99, 100, 101, 150])
@pytest.mark.parametrize("tail", ["", " ", "   ", " x", "\u00a0"])
def test_long_lines_ending_in_whitespace_are_riches_too(width: int, tail: str) -> None:
    """rich 13 strips the trailing whitespace of a line wider than the console (rich 14+ keeps it):
    the lowest rich preflight allows must get the same bytes as the newest."""
    s = "w" * (width - len(tail)) + tail
    for multi in (s, f"{s}\nnext"):
        assert_as_rich(out.plain_text(multi), multi, markup=False)
        assert_as_rich(out.plain_markup(f"[dim]{multi}[/dim]"), f"[dim]{multi}[/dim]")
    assert (out.plain_text(s) is None) == (tail[-1:].isspace())  # the near miss: plain where it can be
