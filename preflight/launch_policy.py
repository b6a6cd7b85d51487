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
            for op, cond_key, value in conditions:
                cond.setdefault(op, {})[cond_key] = value
            st["Condition"] = cond
        out.append(st)
    return out


def document(specs: Iterable[ActionSpec], facts: LaunchFacts) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements(specs, facts)}


LAUNCHER_POLICIES = ("skypilot", "ray", "launch")


def policy_for_plan(launcher: str, plan: Any, region: str, account: str, inventory: Any = None) -> dict[str, Any]:
    """The least-privilege policy `launcher` needs for this plan (`preflight iam-policy --for
    skypilot|ray|launch --plan P`): the capabilities the launch uses, from the launcher's
    permission profile, with the plan's ARNs filled in. Pure: the account comes from the caller."""
    import dataclasses

    from preflight import permissions
    from preflight.errors import PreflightError
    from preflight.inventory.model import Inventory

    if launcher not in LAUNCHER_POLICIES:
        raise PreflightError(f"--for: {launcher!r} is not a launcher with a permission profile "
                             f"(one of: {', '.join(LAUNCHER_POLICIES)})")
    if not region:
        raise PreflightError("iam-policy: no region (set it in the plan, or pass --region)")
    if not (account.isdigit() and len(account) == 12):
        raise PreflightError(f"--account: {account!r} is not a 12-digit AWS account id")
    name = {"launch": "preflight"}.get(launcher, launcher)
    if dataclasses.is_dataclass(plan) and not isinstance(plan, type) and hasattr(plan, "launcher"):
        plan = dataclasses.replace(plan, launcher=name)
    else:
        plan = _WithLauncher(plan, name)
    inv = inventory or Inventory(account=account, region=region)
    caps = permissions.capabilities_for("aws", plan)
    facts = permissions.launch_facts(plan, inv, {"account": account})
    specs = [cap.spec(k) for cap in caps.values() for k in cap.permissions]
    return document(specs, facts)


class _WithLauncher:
    """A plan seen as run by another launcher (plans from before `Plan.launcher`)."""

    def __init__(self, plan: Any, launcher: str) -> None:
        self._plan, self.launcher = plan, launcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plan, name)


def render_for_plan(launcher: str, plan_path: Any, region: str | None, account: str | None) -> str:
    """`preflight iam-policy --for skypilot|ray|launch --plan P`: the policy as indented JSON."""
    import json

    from preflight.errors import PreflightError
    from preflight.plan import load_plan

    if plan_path is None:
        raise PreflightError(f"iam-policy --for {launcher}: needs --plan (the task or cluster file to launch)")
    plan = load_plan(plan_path)
    region = region or getattr(plan, "region", "") or ""
    if not account:
        try:
            import boto3

            account = str(boto3.client("sts", region_name=region or None).get_caller_identity()["Account"])
        except Exception as exc:  # no credentials, no network: the account must be given
            raise PreflightError(f"iam-policy: pass --account ACCOUNT_ID (cannot ask STS for it: "
                                 f"{type(exc).__name__})") from None
    return json.dumps(policy_for_plan(launcher, plan, region, account), indent=2) + "\n"
