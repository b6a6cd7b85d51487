"""Findings: what a rule reports, as plain frozen data (the preflight/v1 JSON's `findings`).

Kept apart from the engine so that pure modules (semantics, reporters, remedies) can build and read
findings without importing the engine that runs rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# A finding is a FAIL (the rule judged, and it fails) or UNKNOWN (the data to judge could not be read).
Status = Literal["FAIL", "UNKNOWN"]


@dataclass(frozen=True)
class Fix:
    """How to fix a finding: the fixer that can do it (if any) and the equivalent CLI commands."""

    fixer: str | None = None
    commands: tuple[str, ...] = ()
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"fixer": self.fixer, "commands": list(self.commands), "description": self.description}


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    severity: str
    status: Status
    resource: str
    region: str
    message: str
    account: str = ""
    path: tuple[str, ...] = ()
    fix: Fix | None = None
    # Structured facts for machines (missing ports, permissions...), never secrets.
    details: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[str, str, str, str]:
        """Identity used by baselines and de-duplication."""
        return (self.rule, self.account, self.region, self.resource)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "resource": self.resource,
            "region": self.region,
            "account": self.account,
            "message": self.message,
            "path": list(self.path),
            "fix": self.fix.to_dict() if self.fix else None,
            "details": self.details,
        }
