"""GitHub Actions workflow-command annotations: `::error title=…::…` lines that GitHub shows on the
run's summary page (and on the file, when there is one to point at).

high/critical FAILs are errors, medium/low warnings, info notices; UNKNOWN findings are warnings
(the check could not tell, which a gate must not hide). Values are escaped as the runner expects
(`%`, CR, LF everywhere; `:` and `,` in properties too), so a message cannot inject a command.
"""

from __future__ import annotations

from preflight.engine import Finding, Report, count
from preflight.report import reporter
from preflight.textsafe import terminal

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "notice"}


def escape_data(value: str) -> str:
    # preflight's own line breaks are joined in after `terminal` made each value one line
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding, anchor: str | None = None) -> str:
    level = LEVELS[f.severity] if f.status == "FAIL" else "warning"
    status = "" if f.status == "FAIL" else " [UNKNOWN]"
    title = terminal(f"{f.rule} {f.name}{status}: {f.resource} ({f.region})")
    props = [f"title={escape_property(title)}"]
    if anchor:
        props.insert(0, f"file={escape_property(anchor)}")
    lines = [terminal(f.message)]
    if f.path:
        lines.append(terminal(f"path: {' -> '.join(f.path)}"))
    if f.fix and f.fix.description:
        lines.append(terminal(f"fix: {f.fix.description}"))
    if f.fix:
        lines += [terminal(f"$ {c}") for c in f.fix.commands]
    return f"::{level} {','.join(props)}::{escape_data(chr(10).join(lines))}"


@reporter("github")
def render_github(report: Report) -> str:
    anchor = report.gate.anchor_file or None
    out = [annotation(f, anchor) for f in report.findings]
    for inv, u in report.unreadable:
        need = f"; grant {u.permission}" if u.permission else ""
        out.append(f"::warning title={escape_property('preflight: unreadable ' + u.resource_type)}::"
                   + escape_data(terminal(f"could not read {u.resource_type} in {inv.region} ({u.error_code}){need}")))
    s = report.summary()
    where = ", ".join(report.regions) or "-"
    if report.findings:
        ran = count(s["rules_run"], "rule")
        out.append(f"preflight: {s['fail']} failed, {s['unknown']} unknown in {where}; {ran} run")
    else:
        out.append(f"preflight: no problems found in {where}; {count(s['rules_run'], 'rule')} passed")
    return "\n".join(out) + "\n"
