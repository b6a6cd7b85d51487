"""The JSON report: a stable contract (`"schema": "preflight/v1"`) for scripts and CI."""

from __future__ import annotations

import json
from typing import Any

from preflight.engine import Report
from preflight.report import reporter

SCHEMA = "preflight/v1"


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "regions": report.regions,
        "accounts": sorted({inv.account for inv in report.inventories if inv.account}),
        "findings": [f.to_dict() for f in report.findings],
        "unreadable": [
            {"account": inv.account, "region": inv.region, "type": u.resource_type, "error": u.error_code,
             "permission": u.permission}
            for inv, u in report.unreadable
        ],
        "summary": report.summary(),
        # Only when the CI gate hid something: what suppressions and the baseline accepted.
        **({"suppressed": report.gate.suppressed} if report.gate.suppressed else {}),
        **({"baseline": report.gate.baseline} if report.gate.baseline is not None else {}),
    }


@reporter("json")
def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"
