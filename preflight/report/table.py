"""The human report: findings grouped by severity, each with where, why, the evidence path and the
exact fix, then a one-line summary. Rendered with rich; colour only on a terminal."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from preflight.engine import SEVERITIES, Report, count
from preflight.report import colour_wanted, fix_command, report_sources, reporter
from preflight.textsafe import markup as escape
from preflight.textsafe import terminal

COLOURS = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "blue"}


def _console(buf: io.StringIO) -> Console:
    colour = colour_wanted()
    return Console(file=buf, force_terminal=colour, no_color=not colour, width=100, soft_wrap=True,
                   highlight=False)


@reporter("table")
def render_table(report: Report) -> str:
    buf = io.StringIO()
    con = _console(buf)
    where = ", ".join(report.regions) or "-"
    sources = sorted({inv.source for inv in report.inventories if inv.source})
    con.print(Text(terminal(f"preflight check: {where}" + (f" ({', '.join(sources)})" if sources else "")),
                    style="bold"))
    for inv, u in report.unreadable:
        perm = f"; needs {u.permission}" if u.permission else ""
        con.print(Text(terminal(f"  ! could not read {u.resource_type} in {inv.region} ({u.error_code}){perm}"),
                        style="yellow"))
    for sev in reversed(SEVERITIES):
        group = [f for f in report.findings if f.severity == sev]
        if not group:
            continue
        con.print()
        con.print(Text(f"{sev.upper()} ({len(group)})", style=COLOURS[sev]))
        for f in group:
            status = "" if f.status == "FAIL" else f" [{f.status}]"
            con.print(f"  [bold]{escape(f.rule)}[/bold] {escape(f.name)}{escape(status)}  "
                      f"[dim]{escape(f.region)}[/dim] [bold]{escape(f.resource)}[/bold]")
            con.print(f"    {escape(f.message)}")
            if f.path:
                con.print(f"    [dim]path:[/dim] {escape(' -> '.join(f.path))}")
            if f.fix and (f.fix.commands or f.fix.fixer):
                if f.fix.description:
                    con.print(f"    [green]fix:[/green] {escape(f.fix.description)}")
                for cmd in f.fix.commands:
                    con.print(f"      [green]$[/green] {escape(cmd)}")
                if f.fix.fixer:
                    hint = fix_command(report_sources(report), f.region, f.rule, report.plan, f.fix.fixer)
                    con.print(f"    [dim]or: {escape(hint)} (fixer {escape(f.fix.fixer)})[/dim]")
    s = report.summary()
    con.print()
    if not report.findings:
        con.print(Text(f"No problems found: {count(s['rules_run'], 'rule')} passed.", style="bold green"))
    else:
        parts = [f"{n} {sev}" for sev, n in reversed(s["by_severity"].items()) if n]
        unknown = f", {s['unknown']} unknown" if s["unknown"] else ""
        ran = count(s["rules_run"], "rule")
        con.print(Text(f"{s['fail']} failed ({', '.join(parts) or 'none'}){unknown}; {ran} run.", style="bold"))
    # What the gate accepted (baseline, suppressions) is not a pass: say it was hidden.
    known = report.gate.baseline["known"] if report.gate.baseline is not None else 0
    suppressed = len(report.gate.suppressed)
    if known or suppressed:
        hidden = [f"{known} in the baseline"] if known else []
        hidden += [f"{suppressed} suppressed by the config"] if suppressed else []
        con.print(Text(f"Not shown: {', '.join(hidden)}.", style="dim"))
    return buf.getvalue()
