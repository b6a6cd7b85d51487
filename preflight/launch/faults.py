"""A thin fault injector for real boto3 clients (tests and demos).

It hooks botocore's own event system: a `before-call` handler may answer an operation instead of
AWS (like botocore's Stubber) or raise, so everything else — parameter validation, moto behind the
client, preflight's retry layer — runs for real. Faults short-circuit before botocore's own retry
handler (`before-call` fires once per API call, outside botocore's retry loop), so they reach
preflight's retry code exactly as many times as configured: an injected throttle is what a caller
sees once botocore's retries are spent. To exercise botocore's retries themselves, inject on the
wire instead (tests/hostile/faultproxy.py: a loopback proxy answering with AWS's error documents).

    faults = FaultInjector(ec2)
    faults.error("DescribeInstances", "InvalidInstanceID.NotFound", times=3)   # first 3 calls
    faults.error("DescribeInstances", "InvalidInstanceID.NotFound")            # forever
    faults.throttle(rate=0.3, seed=7)                                         # 30% of all calls
    faults.crash_after(2, operations={"CreateRoute", ...})                    # die mid-run
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse


class InjectedCrash(RuntimeError):
    """Stands for the process dying (or the network going away) in the middle of a run."""


@dataclass
class _ErrorFault:
    operation: str
    code: str
    times: int | None  # None: forever
    status: int = 400
    used: int = 0


@dataclass
class FaultInjector:
    client: Any
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, injected code or "")
    _errors: list[_ErrorFault] = field(default_factory=list)
    _throttle: tuple[float, random.Random, frozenset[str] | None] | None = None
    _crash: tuple[int, frozenset[str] | None] | None = None
    _crash_seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._event = f"before-call.{self.client.meta.service_model.service_id.hyphenize()}"
        self.client.meta.events.register(self._event, self._handler, unique_id=f"preflight-faults-{id(self)}")

    def remove(self) -> None:
        self.client.meta.events.unregister(self._event, unique_id=f"preflight-faults-{id(self)}")

    def error(self, operation: str, code: str, times: int | None = None, status: int = 400) -> FaultInjector:
        self._errors.append(_ErrorFault(operation, code, times, status))
        return self

    def throttle(self, rate: float, seed: int = 0, operations: Iterable[str] | None = None,
                 code: str = "ThrottlingException") -> FaultInjector:
        self._throttle = (rate, random.Random(seed), frozenset(operations) if operations else None)
        self._throttle_code = code
        return self

    def crash_after(self, n: int, operations: Iterable[str] | None = None) -> FaultInjector:
        """Let `n` matching calls through, then raise InjectedCrash on the next one."""
        self._crash = (n, frozenset(operations) if operations else None)
        self._crash_seen = 0
        return self

    def injected(self, code: str | None = None) -> int:
        return sum(1 for _, c in self.calls if c and (code is None or c == code))

    def _handler(self, model: Any = None, **_: Any) -> Any:
        op = model.name
        with self._lock:
            if self._crash is not None:
                n, ops = self._crash
                if ops is None or op in ops:
                    if self._crash_seen >= n:
                        self.calls.append((op, "InjectedCrash"))
                        raise InjectedCrash(f"injected crash before {op} (after {n} calls)")
                    self._crash_seen += 1
            for fault in self._errors:
                if fault.operation == op and (fault.times is None or fault.used < fault.times):
                    fault.used += 1
                    self.calls.append((op, fault.code))
                    return _error_response(fault.code, fault.status)
            if self._throttle is not None:
                rate, rng, ops = self._throttle
                if (ops is None or op in ops) and rng.random() < rate:
                    self.calls.append((op, self._throttle_code))
                    return _error_response(self._throttle_code, 400)
            self.calls.append((op, ""))
        return None


def _error_response(code: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    http = AWSResponse("https://fault.invalid/", status, {}, None)
    parsed = {"Error": {"Code": code, "Message": f"injected {code}"},
              "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"}}
    return http, parsed
