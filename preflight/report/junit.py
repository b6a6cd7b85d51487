"""JUnit XML output, for CI systems that show test results (GitLab, Jenkins, Azure, CircleCI...).

One `testsuite` per selected rule. Each finding is a `testcase` named `RULE resource (region)`:
a FAIL is a `<failure>`, an UNKNOWN (the rule could not evaluate it) an `<error>`. A rule with no
finding in a region gets one passing testcase for that region, so the CI shows what was checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from preflight.engine import Finding, Report
from preflight.report import fix_command, report_sources, reporter
from preflight.textsafe import terminal, xml_text


def _body(f: Finding, hint: str = "preflight fix --apply") -> str:
    t = terminal  # each value on its own line: a tag cannot add lines of its own
    lines = [t(f"{f.rule} {f.name} ({f.severity}) on {f.resource} in {f.region}"
               + (f", account {f.account}" if f.account else "")), "", t(f.message)]
    if f.path:
        lines.append(t(f"path: {' -> '.join(f.path)}"))
    if f.fix and f.fix.description:
        lines.append(t(f"fix: {f.fix.description}"))
    if f.fix:
        lines += [t(f"  $ {c}") for c in f.fix.commands]
        if f.fix.fixer:
            lines.append(t(f"or: {hint} (fixer {f.fix.fixer})"))
    return xml_text("\n".join(lines), multiline=True)


def junit_tree(report: Report) -> ET.Element:
    root = ET.Element("testsuites", name="preflight")
    by_rule: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    names = {r.meta.id: r.meta.name for r in report.rules}
    for f in report.findings:
        names.setdefault(f.rule, f.name)
    regions = report.regions or ["-"]
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for rid in sorted(names):
        found = by_rule.get(rid, [])
        suite = ET.SubElement(root, "testsuite", name=xml_text(f"{rid} {names[rid]}"))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for f in found:
            case = ET.SubElement(suite, "testcase", classname=xml_text(f"preflight.{rid}"),
                                 name=xml_text(f"{rid} {f.resource} ({f.region})"))
            kind = "failure" if f.status == "FAIL" else "error"
            el = ET.SubElement(case, kind, message=xml_text(f.message),
                               type=f.severity if f.status == "FAIL" else "UNKNOWN")
            el.text = _body(f, fix_command(report_sources(report), f.region, f.rule, report.plan,
                                            f.fix.fixer if f.fix else None))
            counts["tests"] += 1
            counts["failures" if kind == "failure" else "errors"] += 1
        failing_regions = {f.region for f in found}
        for region in regions:
            if region not in failing_regions:
                ET.SubElement(suite, "testcase", classname=xml_text(f"preflight.{rid}"),
                              name=xml_text(f"{rid} ({region})"))
                counts["tests"] += 1
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    return root


@reporter("junit")
def render_junit(report: Report) -> str:
    root = junit_tree(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
