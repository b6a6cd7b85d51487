"""A SkyPilot admin policy that gates every launch with preflight.

In SkyPilot's config (`~/.sky/config.yaml`, or the API server's config):

    admin_policy: preflight.integrations.skypilot.PreflightPolicy

For each launch request, the policy builds the plan from the request's task, the effective
SkyPilot config and the cluster name (exactly as `preflight check --plan task.yaml` reads them),
checks the AWS account, and rejects the request — SkyPilot's documented way: raise
`UserRequestRejectedByPolicy` — with the launch-blocking findings and their fixes in a short
message. Otherwise the request passes unchanged. Tasks for other clouds pass untouched.

Settings (environment of the process that applies the policy, or a subclass's attributes):
- `PREFLIGHT_POLICY_CACHE_SECONDS` (default 60): account reads (the network inventory) are reused
  per account+region for this long, so a busy API server does not re-read the account on every
  request; 0 turns the cache off.
- `PREFLIGHT_POLICY_FAIL` = `open` (default) or `closed`: what to do when preflight itself fails
  (no credentials, an API error, a bug): `open` lets the launch through with a warning on the
  log, `closed` rejects it.
- `PREFLIGHT_POLICY_REGION`: the region to check when the task names none (default: the AWS
  default region of the process).

Modelled on SkyPilot 0.14.1's `sky.AdminPolicy` (sky/admin_policy.py) and tested through its own
policy machinery (`sky.utils.admin_policy_utils.apply`). SkyPilot is imported only here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import sky

import preflight

log = logging.getLogger("preflight.integrations.skypilot")

MAX_LISTED = 5  # findings in the rejection message; the rest are counted
SKIPPED_REQUESTS = frozenset({"validate", "optimize", "sky.validate", "sky.optimize", "sky.exec"})


class _InventoryCache:
    """(account, region) -> (time read, base Inventory), shared by the requests of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], tuple[float, Any]] = {}

    def get(self, key: tuple[str, str], ttl: float) -> Any:
        with self._lock:
            hit = self._items.get(key)
        if hit is None or ttl <= 0 or time.monotonic() - hit[0] > ttl:
            return None
        return hit[1]

    def put(self, key: tuple[str, str], inventory: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), inventory)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = _InventoryCache()


class PreflightPolicy(sky.AdminPolicy):
    """Reject a SkyPilot launch that preflight knows will fail; pass everything else unchanged."""

    cache_seconds: float | None = None  # None: PREFLIGHT_POLICY_CACHE_SECONDS, else 60
    fail_closed: bool | None = None  # None: PREFLIGHT_POLICY_FAIL, else open

    @classmethod
    def validate_and_mutate(cls, user_request: Any) -> Any:
        name = str(getattr(user_request.request_name, "value", user_request.request_name) or "")
        if name in SKIPPED_REQUESTS:
            return _unchanged(user_request)
        try:
            reasons = cls.blocking_reasons(user_request)
        except sky.exceptions.UserRequestRejectedByPolicy:
            raise
        except Exception as exc:  # noqa: BLE001 - preflight itself failed: never crash the launch blindly
            if cls._fail_closed():
                raise sky.exceptions.UserRequestRejectedByPolicy(
                    f"preflight could not check this launch ({_one_line(exc)}); the policy fails closed") from None
            log.warning("preflight could not check this launch (%s); letting it through (fail open)", _one_line(exc))
            return _unchanged(user_request)
        if reasons:
            raise sky.exceptions.UserRequestRejectedByPolicy(reasons)
        return _unchanged(user_request)

    @classmethod
    def blocking_reasons(cls, user_request: Any) -> str:
        """The rejection message, '' when the launch may go ahead (or is not on AWS)."""
        from preflight.launchers.skypilot_task import plan_from_task

        options = user_request.request_options
        cluster = (getattr(options, "cluster_name", None) or "") if options is not None else ""
        task = user_request.task
        doc = task.to_yaml_config()
        config = dict(user_request.skypilot_config or {})
        plan = plan_from_task([doc], f"task {task.name or ''}".strip(), cluster, (config, ("SkyPilot request",)))
        variants = list(plan.alternatives) or [plan]
        if not any(v.cloud == "aws" and not v.unchecked for v in variants):
            return ""  # not an AWS launch: not ours to judge
        blocking = list(cls.check(plan).blocking())
        return _message(blocking) if blocking else ""

    @classmethod
    def check(cls, plan: Any) -> preflight.Report:
        """Check the plan against the account through the public API, as SkyPilot's launch
        (launcher profile `skypilot`); the network inventory is read once per account and region
        per TTL (`RunSettings.inventory_cache`)."""
        region = (plan.region or next((v.region for v in plan.alternatives if v.region), "")
                  or os.environ.get("PREFLIGHT_POLICY_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                  or os.environ.get("AWS_REGION") or None)
        settings = preflight.RunSettings.from_env().with_inventory_cache(_Cached(CACHE, cls._cache_seconds()))
        # CMP006 (a RunInstances dry run) and IAM005 (last-accessed reports) are opt-in: never run here.
        return preflight.check(plan=plan, region=region, ignore=("CMP006", "IAM005"), launcher="skypilot",
                               settings=settings)

    @classmethod
    def _cache_seconds(cls) -> float:
        if cls.cache_seconds is not None:
            return float(cls.cache_seconds)
        try:
            return float(os.environ.get("PREFLIGHT_POLICY_CACHE_SECONDS", "60"))
        except ValueError:
            return 60.0

    @classmethod
    def _fail_closed(cls) -> bool:
        if cls.fail_closed is not None:
            return bool(cls.fail_closed)
        return os.environ.get("PREFLIGHT_POLICY_FAIL", "open").strip().lower() == "closed"


class _Cached:
    """The policy's view of the cache for one request: base inventories by (account, region)."""

    def __init__(self, cache: _InventoryCache, ttl: float) -> None:
        self.cache, self.ttl = cache, ttl

    def get(self, account: str, region: str) -> Any:
        return self.cache.get((account, region), self.ttl)

    def put(self, account: str, region: str, inventory: Any) -> None:
        if self.ttl > 0:
            self.cache.put((account, region), inventory)


def _unchanged(user_request: Any) -> Any:
    return sky.MutatedUserRequest(task=user_request.task, skypilot_config=user_request.skypilot_config)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _message(blocking: list[Any]) -> str:
    lines = [f"preflight: this launch will fail ({len(blocking)} blocking finding{'s' if len(blocking) != 1 else ''}):"]
    for f in blocking[:MAX_LISTED]:
        text = f.message if len(f.message) <= 400 else f.message[:397] + "..."
        lines.append(f"- {f.rule} {f.name} on {f.resource} ({f.region}): {text}")
        if f.fix is not None:
            if f.fix.description:
                lines.append(f"  fix: {f.fix.description}")
            lines.extend(f"    $ {c}" for c in f.fix.commands[:4])
    if len(blocking) > MAX_LISTED:
        lines.append(f"... and {len(blocking) - MAX_LISTED} more: run `preflight check --plan <task.yaml>` for all")
    return "\n".join(lines)
