"""Which module provides each extra collector: the data a rule `needs` beyond the base resource
types (IAM policies, quotas, offerings, key pairs...). Declared as data, so that the commands that
collect nothing (`rules`, `explain`, an offline `check --snapshot`) never import the cloud SDKs the
collectors use; a run that reads an account imports the providers of what its rules need.
tests/unit/test_startup.py keeps this map and the registered collectors in step."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from preflight.errors import PreflightError

GCP_RULE_NEED = "gcp_permissions"  # rules that can judge a GCP inventory declare this in `needs`
_COMPUTE = "preflight.collect.aws_compute"
_IAM = "preflight.collect.aws_iam"

EXTRA_PROVIDERS: dict[str, str] = {
    "instance_types": _COMPUTE,
    "offerings": _COMPUTE,
    "images": _COMPUTE,
    "key_pairs": _COMPUTE,
    "instance_profiles": _COMPUTE,
    "quotas": _COMPUTE,
    "dry_run": _COMPUTE,
    "iam": _IAM,
    "iam_last_accessed": _IAM,
    "port_reservations": "preflight.collect.ports_ledger",
}


def load_extra_collectors(needs: Iterable[str] | None = None) -> None:
    """Import (so register) the collectors of `needs` (all of them when None)."""
    names = EXTRA_PROVIDERS if needs is None else [n for n in needs if n in EXTRA_PROVIDERS]
    for module in sorted({EXTRA_PROVIDERS[n] for n in names}):
        importlib.import_module(module)


# Which cloud a check reads, here rather than in collect.gcp: an offline check decides it without
# importing the GCP collector.
def resolve_cloud(cloud: str | None, plan: Any, sandbox_name: str | None) -> str:
    """--cloud, else the plan's `cloud:`, else the sandbox scenario's cloud, else aws."""
    if cloud is not None:
        cloud = cloud.lower()
        if cloud not in ("aws", "gcp"):
            raise PreflightError(f"--cloud: {cloud!r} is not supported (aws or gcp)")
    scenario_cloud = None
    if sandbox_name:
        from preflight.collect.sandbox import get_scenario

        scenario_cloud = get_scenario(sandbox_name).cloud
    chosen = cloud or (plan.cloud if plan is not None and plan.has("cloud") else None) or scenario_cloud or "aws"
    if sandbox_name and scenario_cloud != chosen:
        raise PreflightError(f"sandbox scenario {sandbox_name!r} is a {scenario_cloud} scenario, but the check "
                             f"is for {chosen}: drop --cloud {chosen} or pick a {chosen} scenario "
                             "(preflight sandbox list)")
    return chosen


def non_gcp_rule_ids(all_rules: dict[str, Any]) -> list[str]:
    """Rules that cannot judge a GCP inventory (to be ignored for --cloud gcp)."""
    return [rid for rid, r in all_rules.items() if GCP_RULE_NEED not in r.meta.needs]
