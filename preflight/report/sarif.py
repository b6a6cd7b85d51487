"""SARIF 2.1.0 output, for GitHub code scanning and other tools that read static-analysis results.

One `reportingDescriptor` per selected rule, with its help text taken from the rule metadata
(summary, and the docstring with *What it does / Why is this bad? / Example / Fix safety*), so a
viewer can explain a result without preflight installed. One `result` per finding: the cloud
resource is a *logical* location (`aws://ACCOUNT/REGION/ID`), the fix (AWS CLI commands, fixer
id) is in the message and in `properties.fix`, and `partialFingerprints` carry a hash of
`Finding.key()` so a result keeps its identity across runs (as baselines do).

A cloud resource has no file, but GitHub code scanning wants a physical location for each result:
when the run has a file to anchor results to (`report.gate.anchor_file`: the plan or the
config file), each result also points at line 1 of that file.

UNKNOWN findings are SARIF results of kind `open` ("the tool could not tell"), level `none`, as
the specification requires for kinds other than `fail`. Unreadable resource types are also listed
as tool execution notifications.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from preflight import __version__
from preflight.engine import Finding, Report, RuleMeta
from preflight.report import fix_command, report_sources, reporter
from preflight.textsafe import fence, markdown, markdown_code, terminal

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "note"}
# GitHub maps `security-severity` (0.0-10.0) onto its own critical/high/medium/low scale.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def _rule_help(meta: RuleMeta) -> tuple[str, str]:
    """(plain text, markdown) help for one rule: `preflight explain`'s text, from its metadata and
    docstring sections (preflight.catalogue.rule_help)."""
    from preflight.catalogue import rule_help

    return rule_help(meta), rule_help(meta, markdown=True)


def rule_descriptor(meta: RuleMeta) -> dict[str, Any]:
    text, md = _rule_help(meta)
    descriptor: dict[str, Any] = {
        "id": meta.id,
        "name": meta.name,
        "shortDescription": {"text": meta.summary},
        "fullDescription": {"text": meta.rationale or meta.summary},
        "help": {"text": text, "markdown": md},
        "defaultConfiguration": {"level": LEVELS[meta.severity]},
        "properties": {
            "tags": ["cloud", "preflight", meta.id.rstrip("0123456789").lower()],
            "precision": "high",
            "problem.severity": "recommendation" if meta.severity == "info" else LEVELS[meta.severity],
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "severity": meta.severity,
        },
    }
    if meta.references:
        descriptor["helpUri"] = meta.references[0]
    return descriptor


def fingerprint(f: Finding) -> str:
    return hashlib.sha256("\x1f".join(f.key()).encode()).hexdigest()


def qualified_name(f: Finding) -> str:
    return f"aws://{f.account or '-'}/{f.region or '-'}/{f.resource}"


def _message(f: Finding, hint: str = "preflight fix --apply") -> dict[str, str]:
    # SARIF viewers render `markdown`: every value is escaped for it (preflight.textsafe), and the
    # plain `text` keeps each value on its own line.
    t = terminal
    text = [t(f"{f.resource}: {f.message}")]
    md = [f"{markdown_code(f.resource)}: {markdown(f.message)}"]
    if f.path:
        text.append(t(f"Path: {' -> '.join(f.path)}"))
        md.append(f"Path: {' → '.join(markdown_code(p) for p in f.path)}")
    if f.fix and f.fix.description:
        text.append(t(f"Fix: {f.fix.description}"))
        md.append(f"**Fix:** {markdown(f.fix.description)}")
    if f.fix and f.fix.commands:
        text += [t(f"$ {c}") for c in f.fix.commands]
        md.append("\n".join(fence(list(f.fix.commands), "sh")))
    if f.fix and f.fix.fixer:
        text.append(t(f"Or: {hint} (fixer {f.fix.fixer})"))
        md.append(f"Or: {markdown_code(hint)} (fixer {markdown_code(f.fix.fixer)})")
    return {"text": "\n".join(text), "markdown": "\n\n".join(md)}


def result(f: Finding, index: int, anchor: str | None, sources: list[str] | None = None,
           plan: Any = None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [{
            "name": f.resource,
            "fullyQualifiedName": qualified_name(f),
            "kind": "resource",
        }],
        "message": {"text": f"{f.resource} in {f.region or 'unknown region'}"
                            + (f", account {f.account}" if f.account else "")},
    }
    if anchor:
        location["physicalLocation"] = {"artifactLocation": {"uri": anchor}, "region": {"startLine": 1}}
    res: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index,
        "kind": "fail" if f.status == "FAIL" else "open",
        "level": LEVELS[f.severity] if f.status == "FAIL" else "none",
        "message": _message(f, fix_command(sources or [], f.region, f.rule, plan, f.fix.fixer if f.fix else None)),
        "locations": [location],
        "partialFingerprints": {"preflightFindingKey/v1": fingerprint(f)},
        "properties": {
            "status": f.status,
            "severity": f.severity,
            "resource": f.resource,
            "region": f.region,
            "account": f.account,
            "path": list(f.path),
            "fix": f.fix.to_dict() if f.fix else None,
            "details": f.details,
        },
    }
    return res


def sarif_dict(report: Report) -> dict[str, Any]:
    metas: dict[str, RuleMeta] = {r.meta.id: r.meta for r in report.rules}
    # A finding from a rule that was not in the run's list (should not happen) still gets a descriptor.
    for f in report.findings:
        if f.rule not in metas:
            metas[f.rule] = RuleMeta(id=f.rule, name=f.name, severity=f.severity, summary=f.name)
    ordered = sorted(metas)
    index = {rid: i for i, rid in enumerate(ordered)}
    anchor = report.gate.anchor_file or None
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"could not read {u.resource_type} in {inv.region} ({u.error_code})"
                                + (f"; grant {u.permission}" if u.permission else "")},
            "descriptor": {"id": "unreadable"},
            "properties": {"region": inv.region, "account": inv.account, "type": u.resource_type},
        }
        for inv, u in report.unreadable
    ]
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "preflight",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": [rule_descriptor(metas[rid]) for rid in ordered],
        }},
        "invocations": [invocation],
        "results": [result(f, index[f.rule], anchor, report_sources(report), report.plan) for f in report.findings],
        "properties": {
            "regions": report.regions,
            "accounts": sorted({inv.account for inv in report.inventories if inv.account}),
            "summary": report.summary(),
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


@reporter("sarif")
def render_sarif(report: Report) -> str:
    return json.dumps(sarif_dict(report), indent=2) + "\n"
