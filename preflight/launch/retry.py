"""Bounded exponential backoff with jitter for calls EC2 answers "not yet" to.

Why: at 150+ nodes an autoscaler called DescribeInstances right after RunInstances; EC2 is
eventually consistent, answered `InvalidInstanceID.NotFound` for instances that did exist, and
an assertion killed the whole launch. Here such answers are retried with exponential backoff on a
3-5 s scale with jitter, a bounded number of times, and after the last attempt the error names the
instances and says what to do, instead of a traceback.

Throttling is NOT retried here: every client preflight makes already uses botocore's adaptive
retries (preflight.collect.aws.client_config), and a second layer around it multiplies the two
budgets (4 HTTP requests x 6 attempts = 24 per throttled call). Only codes botocore does not
retry — EC2's eventual consistency — belong to this layer.

Sleep, clock and random source are injectable so tests run in milliseconds and deterministically.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import botocore.exceptions

from preflight.errors import PreflightError

T = TypeVar("T")

NOT_FOUND_CODES = frozenset({
    "InvalidInstanceID.NotFound",
    # Other ids EC2 may not know yet right after their creation.
    "InvalidGroup.NotFound", "InvalidRouteTableID.NotFound", "InvalidInternetGatewayID.NotFound",
    "InvalidSubnetID.NotFound", "InvalidAllocationID.NotFound", "InvalidNetworkInterfaceID.NotFound",
})
RETRYABLE_CODES = NOT_FOUND_CODES


class RetryExhausted(PreflightError):
    """The last retry failed; the message names what was being waited for."""

    def __init__(self, message: str, code: str = "", attempts: int = 0, ids: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code, self.attempts, self.ids = code, attempts, ids


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


@dataclass
class RetryPolicy:
    """attempts: calls in total (first try included); delay n (0-based) is
    min(cap, base * multiplier**n) + uniform(0, jitter) seconds: 3-5 s, 6-8 s, 12-14 s ..."""

    attempts: int = 6
    base: float = 3.0
    multiplier: float = 2.0
    jitter: float = 2.0
    cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise PreflightError(f"retry attempts must be at least 1, got {self.attempts}")
        if self.base < 0 or self.jitter < 0 or self.cap < 0 or self.multiplier < 1:
            raise PreflightError("retry delays must be non-negative and the multiplier at least 1")

    def _backoff(self, n: int) -> float:
        try:
            return min(self.cap, self.base * self.multiplier ** n)
        except OverflowError:  # a long --retry-attempts run: the cap was reached long ago
            return 0.0 if self.base == 0 else self.cap

    def delay(self, n: int) -> float:
        return self._backoff(n) + self.rng.uniform(0, self.jitter)

    def max_total_delay(self) -> float:
        return sum(self._backoff(n) + self.jitter for n in range(self.attempts - 1))


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, what: str, ids: Iterable[str] = (),
                    retry_on: frozenset[str] = RETRYABLE_CODES,
                    on_retry: Callable[[int, str, float], None] | None = None) -> T:
    """Call `fn` until it succeeds or fails with a code outside `retry_on`, at most
    `policy.attempts` times. Raises RetryExhausted naming `what` and `ids` after the last one."""
    ids = tuple(ids)
    waited = 0.0
    for n in range(policy.attempts):
        try:
            return fn()
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code not in retry_on:
                raise
            if n == policy.attempts - 1:
                raise RetryExhausted(_exhausted_message(what, ids, code, policy.attempts, waited),
                                     code=code, attempts=policy.attempts, ids=ids) from None
            pause = policy.delay(n)
            if on_retry is not None:
                on_retry(n + 1, code, pause)
            policy.sleep(pause)
            waited += pause
    raise AssertionError("unreachable")  # pragma: no cover


def _exhausted_message(what: str, ids: tuple[str, ...], code: str, attempts: int, waited: float) -> str:
    names = f" for {', '.join(ids)}" if ids else ""
    if code in NOT_FOUND_CODES:
        why = (f"EC2 still answers {code}{names} after {attempts} attempts over {waited:.0f}s. EC2 is eventually "
               f"consistent, but not this slow: the resources may have failed to start or were removed. "
               f"Look them up with `aws ec2 describe-instances --instance-ids {' '.join(ids)}`"
               if ids else f"EC2 still answers {code} after {attempts} attempts over {waited:.0f}s")
    else:
        why = f"AWS still answers {code}{names} after {attempts} attempts over {waited:.0f}s; retry later"
    return f"{what}: {why}"


RUNNING = "running"
FAILED_STATES = frozenset({"terminated", "shutting-down", "stopping", "stopped"})


def wait_until_running(ec2: Any, instance_ids: Iterable[str], policy: RetryPolicy, *, timeout: float = 600.0,
                       poll: float = 5.0, on_retry: Callable[[int, str, float], None] | None = None
                       ) -> list[dict[str, Any]]:
    """Describe the instances until all are `running`; returns their descriptions.

    NotFound is retried per `policy` (throttling by botocore); `pending` is polled every `poll` seconds
    until `timeout`. An instance that ends up terminated or stopped is an error naming it (with
    EC2's state reason, e.g. insufficient capacity).
    """
    ids = list(dict.fromkeys(instance_ids))
    if not ids:
        return []
    deadline = policy.clock() + timeout
    while True:
        resp = call_with_retry(lambda: ec2.describe_instances(InstanceIds=ids), policy,
                               what="waiting for instances to run", ids=ids, on_retry=on_retry)
        found = {i["InstanceId"]: i for r in resp.get("Reservations", []) for i in r.get("Instances", [])}
        missing = [i for i in ids if i not in found]
        dead = [i for i in ids if i in found and found[i].get("State", {}).get("Name") in FAILED_STATES]
        if dead:
            reasons = "; ".join(f"{i} is {found[i]['State']['Name']}" + _reason(found[i]) for i in dead)
            raise PreflightError(f"instances did not start: {reasons}")
        pending = [i for i in ids if i in found and found[i].get("State", {}).get("Name") != RUNNING]
        if not missing and not pending:
            return [found[i] for i in ids]
        if policy.clock() >= deadline:
            late = ", ".join(missing + pending)
            raise RetryExhausted(f"waiting for instances to run: {late} not running after {timeout:.0f}s",
                                 ids=tuple(missing + pending))
        policy.sleep(poll)


def _reason(instance: dict[str, Any]) -> str:
    msg = (instance.get("StateReason") or {}).get("Message", "")
    return f" ({msg})" if msg else ""
