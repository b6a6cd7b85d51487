"""Least-privilege IAM policies generated from the same data the checks read: the capabilities a
launch needs (launcher permission profile or catalogue), each action authorized against exactly
the resource ARNs the plan implies, with the conditions the launcher's calls satisfy
(`iam:PassedToService` for PassRole, `ec2:CreateAction` for tagging at creation).

`preflight iam-policy --for skypilot --plan task.yaml` prints one; IAM001's fix grants the missing
part of one. A test evaluates a generated policy with the local evaluator: everything the profile
needs is ALLOW, anything else is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight import sar
from preflight.launcher_permissions import ActionSpec
from preflight.semantics.iam_requests import LaunchFacts, build_requests


def _statement_parts(spec: ActionSpec, facts: LaunchFacts) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    """(resource ARNs, conditions) granting exactly this call in this launch."""
    requests = build_requests(spec.action, facts, sar.load(), spec.resources, spec.create_action)
    resources = tuple(dict.fromkeys(r.resource for r in requests))
    conditions: list[tuple[str, str, str]] = []
    if spec.action.lower() == "iam:passrole":
        conditions.append(("StringEquals", "iam:PassedToService", "ec2.amazonaws.com"))
    if spec.create_action:
        conditions.append(("StringEquals", "ec2:CreateAction", spec.create_action))
    return resources, tuple(conditions)


def statements(specs: Iterable[ActionSpec], facts: LaunchFacts) -> list[dict[str, Any]]:
    """Policy statements for these calls: one per distinct (resources, conditions), actions sorted."""
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], list[str]] = {}
    for spec in specs:
        key = _statement_parts(spec, facts)
        acts = groups.setdefault(key, [])
        if spec.action not in acts:
            acts.append(spec.action)
    out = []
    for (resources, conditions), actions in groups.items():
        st: dict[str, Any] = {"Effect": "Allow", "Action": actions[0] if len(actions) == 1 else sorted(actions),
                              "Resource": resources[0] if len(resources) == 1 else list(resources)}
        if conditions:
            cond: dict[str, dict[str, str]] = {}
            for op, key, value in conditions:
                cond.setdefault(op, {})[key] = value
            st["Condition"] = cond
        out.append(st)
    return out


def document(specs: Iterable[ActionSpec], facts: LaunchFacts) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements(specs, facts)}
