"""Markdown output, for a pull-request comment or `$GITHUB_STEP_SUMMARY`: a summary line, a table of
findings, then one collapsible block per finding with the evidence path and the exact fix."""

from __future__ import annotations

from preflight.engine import SEVERITIES, Report, count
from preflight.report import fix_command, report_sources, reporter
from preflight.textsafe import fence, html_text, markdown, markdown_code

# Every value is escaped for its place (see preflight.textsafe): inline text, code spans, HTML
# inside <summary>, fenced blocks. No raw HTML, link or image from a tag reaches the reader.
cell = markdown
code = markdown_code


@reporter("markdown")
def render_markdown(report: Report) -> str:
    s = report.summary()
    where = ", ".join(report.regions) or "-"
    accounts = sorted({inv.account for inv in report.inventories if inv.account})
    out = ["## " + cell(f"preflight check: {where}" + (f" (account {', '.join(accounts)})" if accounts else "")), ""]
    if not report.findings:
        out.append(f"**No problems found**: {count(s['rules_run'], 'rule')} passed.")
    else:
        parts = [f"{n} {sev}" for sev, n in reversed(s["by_severity"].items()) if n]
        unknown = f", {s['unknown']} unknown" if s["unknown"] else ""
        ran = count(s["rules_run"], "rule")
        out.append(f"**{s['fail']} failed** ({', '.join(parts) or 'none'}){unknown}; {ran} run.")
    for inv, u in report.unreadable:
        need = f"; grant {code(u.permission)}" if u.permission else ""
        out.append(f"\n> :warning: {cell(f'could not read {u.resource_type} in {inv.region} ({u.error_code})')}{need}")
    if report.findings:
        out += ["", "| severity | rule | resource | region | problem |", "|---|---|---|---|---|"]
        order = {sev: i for i, sev in enumerate(reversed(SEVERITIES))}
        for f in sorted(report.findings, key=lambda f: order[f.severity]):
            status = "" if f.status == "FAIL" else " (UNKNOWN)"
            out.append(f"| {cell(f.severity + status)} | {cell(f.rule + ' ' + f.name)} | {code(f.resource)} | "
                       f"{cell(f.region)} | {cell(f.message)} |")
        out += ["", "### How to fix", ""]
        for f in report.findings:
            out.append(f"<details><summary><b>{html_text(f.rule)}</b> {html_text(f.name)} on "
                       f"<code>{html_text(f.resource)}</code></summary>\n")
            out.append(cell(f.message) + "\n")
            if f.path:
                out.append("Path: " + " → ".join(code(p) for p in f.path) + "\n")
            if f.fix and f.fix.description:
                out.append(f"Fix: {cell(f.fix.description)}\n")
            if f.fix and f.fix.commands:
                out += [*fence(list(f.fix.commands), "sh"), ""]
            if f.fix and f.fix.fixer:
                hint = fix_command(report_sources(report), f.region, f.rule, report.plan, f.fix.fixer)
                out.append(f"Or run {code(hint)} (fixer {code(f.fix.fixer)}).\n")
            out.append("</details>\n")
    return "\n".join(out).rstrip("\n") + "\n"
