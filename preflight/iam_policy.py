"""The IAM policy preflight itself needs, generated from what the code declares: the collectors'
Describe calls (`FETCHERS`), the extra collectors' `permissions=`, the fixers' `permissions=` and the
launch capabilities in permissions.yaml. Nothing is listed by hand here, so the policy cannot drift
from the calls (tests/unit/test_iam_policy.py records every AWS call a collection makes and checks
each is granted).

`policy_document(purpose)` is the stable entry point; the CLI (`preflight iam-policy`) only prints it.
"""

from __future__ import annotations

import json
from typing import Any

from preflight.errors import PreflightError

# What each purpose adds to the one before it: fix re-reads what check reads, launch may fix first.
# `ports-ledger` stands alone: what the shared DynamoDB port ledger (--ledger dynamodb://...) needs,
# for the principals that launch or reserve ports, on top of their check/launch policy.
PURPOSES = ("check", "fix", "launch", "ports-ledger")
# Extra collectors whose calls change something or are opt-in writes: never in the read-only policy.
_WRITE_COLLECTORS = frozenset({"dry_run"})  # RunInstances with DryRun=True (--dry-run-launch): `launch` has it
# The launch capabilities (permissions.yaml) a `preflight launch` exercises; storage is the job's, not ours.
_LAUNCH_CAPABILITIES = ("compute", "network", "iam-pass-role")


def check_actions() -> dict[str, list[str]]:
    """action -> what reads with it, for `preflight check` (every rule, every extra collector)."""
    from preflight.collect import aws
    from preflight.collect.registry import load_extra_collectors

    load_extra_collectors()
    why: dict[str, list[str]] = {}
    for action in aws.BASE_PERMISSIONS:
        why.setdefault(action, []).append("identity and regions")
    for name, fetcher in aws.FETCHERS.items():
        why.setdefault(fetcher.permission, []).append(f"collect {name}")
    for name, actions in sorted(aws.EXTRA_PERMISSIONS.items()):
        if name not in _WRITE_COLLECTORS:
            for action in actions:
                why.setdefault(action, []).append(f"collect {name}")
    return why


def fix_actions() -> dict[str, list[str]]:
    """action -> fixers that call it (writes, and the reads their guards make)."""
    from preflight.fix import load_fixers

    why: dict[str, list[str]] = {}
    for fixer in load_fixers().values():
        for action in fixer.meta.permissions:
            why.setdefault(action, []).append(f"fixer {fixer.meta.id}")
    return why


def launch_actions() -> dict[str, list[str]]:
    """action -> launch capability (or collector) that needs it."""
    from preflight.collect import aws
    from preflight.collect.registry import load_extra_collectors
    from preflight.permissions import catalogue

    load_extra_collectors(_WRITE_COLLECTORS)
    capabilities = catalogue().get("aws", {})
    why: dict[str, list[str]] = {}
    for name in _LAUNCH_CAPABILITIES:
        for action in capabilities[name].permissions if name in capabilities else ():
            why.setdefault(action, []).append(f"launch {name}")
    for name in sorted(_WRITE_COLLECTORS):
        for action in aws.EXTRA_PERMISSIONS.get(name, ()):
            why.setdefault(action, []).append(f"collect {name}")
    return why


def ledger_actions() -> dict[str, list[str]]:
    """action -> why, for the DynamoDB port ledger (the `ports-ledger` capability, which a test keeps
    equal to the calls preflight/ports_dynamodb.py makes)."""
    from preflight.permissions import catalogue

    cap = catalogue().get("aws", {}).get("ports-ledger")
    return {action: ["ports ledger (DynamoDB)"] for action in (cap.permissions if cap else ())}


def _statement(sid: str, actions: dict[str, list[str]], seen: set[str]) -> dict[str, Any] | None:
    new = sorted(a for a in actions if a not in seen)
    seen.update(new)
    if not new:
        return None
    return {"Sid": sid, "Effect": "Allow", "Action": new, "Resource": "*"}


def policy_document(purpose: str = "check") -> dict[str, Any]:
    """An IAM policy document (identity-based) granting what `preflight <purpose>` calls: one
    statement per layer (read, fix, launch), each action listed once, in the first layer needing it."""
    if purpose not in PURPOSES:
        raise PreflightError(f"--for: unknown purpose {purpose!r} (one of: {', '.join(PURPOSES)})")
    if purpose == "ports-ledger":
        statement = _statement("PreflightPortsLedger", ledger_actions(), set())
        return {"Version": "2012-10-17", "Statement": [statement] if statement else []}
    layers = [("PreflightRead", check_actions)]
    if purpose in ("fix", "launch"):
        layers.append(("PreflightFix", fix_actions))
    if purpose == "launch":
        layers.append(("PreflightLaunch", launch_actions))
    seen: set[str] = set()
    statements = [s for sid, fn in layers if (s := _statement(sid, fn(), seen))]
    return {"Version": "2012-10-17", "Statement": statements}


def render_policy(purpose: str = "check") -> str:
    return json.dumps(policy_document(purpose), indent=2) + "\n"
