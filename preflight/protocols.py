"""The shapes the pure layers read, as Protocols: what a rule context, a plan and a cloud session
must offer, so that semantics and rules type their parameters without importing the engine, the
plan loader or an SDK (and without `Any`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from preflight.inventory.model import Inventory

T = TypeVar("T")


class CachingContext(Protocol):
    """A rule context as the semantics see it: the inventory, and a cache shared by the rules of
    one run (`preflight.engine.Context` is one)."""

    @property
    def inventory(self) -> Inventory: ...

    def cached(self, key: str, make: Callable[[], T]) -> T: ...


class Session(Protocol):
    """A cloud session as collectors and fixers use it (`preflight.collect.aws.AwsSession`): boto3
    clients per service and region, and the endpoint it talks to (None: AWS itself)."""

    endpoint_url: str | None

    def client(self, service: str, region: str) -> Any: ...
