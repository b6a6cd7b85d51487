"""The human report: findings grouped by severity, each with where, why, the evidence path and the
exact fix, then a one-line summary. Rendered with rich on a terminal (colour); elsewhere the same
lines are written as rich would write them, without importing rich (preflight.out)."""

from __future__ import annotations

import io
from typing import Any

from preflight.engine import SEVERITIES, Report, count
from preflight.out import plain_markup, plain_text
from preflight.report import colour_wanted, fix_command, report_sources, reporter
from preflight.textsafe import markup as escape
from preflight.textsafe import terminal

COLOURS = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "blue"}

# One printed line: ("text", text, style) is printed as rich Text (no markup, no emoji codes),
# ("markup", markup, "") as console markup, ("blank", "", "") as an empty line.
Line = tuple[str, str, str]


def _console(buf: io.StringIO) -> Any:
    from rich.console import Console

    colour = colour_wanted()
    return Console(file=buf, force_terminal=colour, no_color=not colour, width=100, soft_wrap=True,
                   highlight=False)


@reporter("table")
def render_table(report: Report) -> str:
    lines = _lines(report)
    if not colour_wanted():
        plain = _plain(lines)
        if plain is not None:
            return plain
    from rich.text import Text

    buf = io.StringIO()
    con = _console(buf)
    for kind, text, style in lines:
        if kind == "blank":
            con.print()
        elif kind == "text":
            con.print(Text(text, style=style))
        else:
            con.print(text)
    return buf.getvalue()


def _plain(lines: list[Line]) -> str | None:
    """The lines as rich writes them to a non-terminal, or None if one needs rich itself."""
    out: list[str] = []
    for kind, text, _ in lines:
        line = "" if kind == "blank" else plain_text(text, emoji=False) if kind == "text" else plain_markup(text)
        if line is None:
            return None
        out.append(line)
    return "".join(f"{line}\n" for line in out)


def _lines(report: Report) -> list[Line]:
    lines: list[Line] = []

    def text(s: str, style: str) -> None:
        lines.append(("text", s, style))

    def markup(s: str) -> None:
        lines.append(("markup", s, ""))

    where = ", ".join(report.regions) or "-"
    sources = sorted({inv.source for inv in report.inventories if inv.source})
    text(terminal(f"preflight check: {where}" + (f" ({', '.join(sources)})" if sources else "")), "bold")
    for inv, u in report.unreadable:
        perm = f"; needs {u.permission}" if u.permission else ""
        text(terminal(f"  ! could not read {u.resource_type} in {inv.region} ({u.error_code}){perm}"), "yellow")
    for sev in reversed(SEVERITIES):
        group = [f for f in report.findings if f.severity == sev]
        if not group:
            continue
        lines.append(("blank", "", ""))
        text(f"{sev.upper()} ({len(group)})", COLOURS[sev])
        for f in group:
            status = "" if f.status == "FAIL" else f" [{f.status}]"
            markup(f"  [bold]{escape(f.rule)}[/bold] {escape(f.name)}{escape(status)}  "
                   f"[dim]{escape(f.region)}[/dim] [bold]{escape(f.resource)}[/bold]")
            markup(f"    {escape(f.message)}")
            if f.path:
                markup(f"    [dim]path:[/dim] {escape(' -> '.join(f.path))}")
            if f.fix and (f.fix.commands or f.fix.fixer):
                if f.fix.description:
                    markup(f"    [green]fix:[/green] {escape(f.fix.description)}")
                for cmd in f.fix.commands:
                    markup(f"      [green]$[/green] {escape(cmd)}")
                if f.fix.fixer:
                    hint = fix_command(report_sources(report), f.region, f.rule, report.plan, f.fix.fixer)
                    markup(f"    [dim]or: {escape(hint)} (fixer {escape(f.fix.fixer)})[/dim]")
    s = report.summary()
    lines.append(("blank", "", ""))
    if not report.findings:
        text(f"No problems found: {count(s['rules_run'], 'rule')} passed.", "bold green")
    else:
        parts = [f"{n} {sev}" for sev, n in reversed(s["by_severity"].items()) if n]
        unknown = f", {s['unknown']} unknown" if s["unknown"] else ""
        ran = count(s["rules_run"], "rule")
        text(f"{s['fail']} failed ({', '.join(parts) or 'none'}){unknown}; {ran} run.", "bold")
    # What the gate accepted (baseline, suppressions) is not a pass: say it was hidden.
    known = report.gate.baseline["known"] if report.gate.baseline is not None else 0
    suppressed = len(report.gate.suppressed)
    if known or suppressed:
        hidden = [f"{known} in the baseline"] if known else []
        hidden += [f"{suppressed} suppressed by the config"] if suppressed else []
        text(f"Not shown: {', '.join(hidden)}.", "dim")
    return lines
