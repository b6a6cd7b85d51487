"""Run settings: what may differ between two checks running at once in one process.

A SkyPilot admin policy or a CI script calls `preflight.check()` from many threads, each with its
own endpoint, IAM mode and permission cache. Nothing here is a module global: a `RunSettings` is
made once per run (from the command line, the API's arguments, and the environment read once, at
the start) and travels with it — on the `AwsSession` to the collectors, on the `Context` to the
rules. Frozen: a run cannot change another run's settings, nor its own halfway through.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from preflight.inventory.model import Inventory

DEFAULT_TTL = 3600  # seconds a cached permission verdict is trusted


@dataclass(frozen=True)
class CacheSettings:
    """The permission-verdict cache (preflight.permcache)."""

    enabled: bool = True
    refresh: bool = False  # ignore cached verdicts, re-check and rewrite them
    ttl: int = DEFAULT_TTL
    directory: str | None = None  # None: PREFLIGHT_CACHE_DIR, else the user's cache directory

    def root(self) -> Path:
        """The directory holding the verdict files."""
        base = self.directory or os.environ.get("PREFLIGHT_CACHE_DIR")
        if base:
            return Path(base) / "permissions"
        import platformdirs

        return Path(platformdirs.user_cache_dir("preflight")) / "permissions"


class InventoryCache(Protocol):
    """Base inventories read shortly before, by (account, region): a long-lived caller (the SkyPilot
    admin policy) reuses them across checks. The cache decides how long an entry lives."""

    def get(self, account: str, region: str) -> Inventory | None: ...

    def put(self, account: str, region: str, inventory: Inventory) -> None: ...


@dataclass(frozen=True)
class RunSettings:
    """Everything one run reads that is not the account, the plan or the rule config."""

    simulate: bool = False  # AWS IAM verdicts from SimulatePrincipalPolicy instead of local evaluation
    cache: CacheSettings = field(default_factory=CacheSettings)
    endpoint_url: str | None = None  # another AWS endpoint (moto, LocalStack)
    permissions_file: str | None = None  # a catalogue overriding/extending preflight/data/permissions.yaml
    # Reuse the network inventory of a region read shortly before (the plan's own extras are always
    # read): for callers that check many launches in one process. None: read everything each run.
    inventory_cache: InventoryCache | None = field(default=None, compare=False)

    @classmethod
    def from_env(cls, *, simulate: bool = False, refresh: bool = False, cache: bool = True,
                 endpoint_url: str | None = None, cache_dir: str | None = None,
                 permissions_file: str | None = None) -> RunSettings:
        """Explicit arguments, else the environment (AWS_ENDPOINT_URL, PREFLIGHT_CACHE_DIR,
        PREFLIGHT_PERMISSIONS), read once here so that the run never reads it again."""
        return cls(
            simulate=simulate,
            cache=CacheSettings(enabled=cache, refresh=refresh,
                                directory=cache_dir or os.environ.get("PREFLIGHT_CACHE_DIR") or None),
            endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
            permissions_file=permissions_file or os.environ.get("PREFLIGHT_PERMISSIONS") or None,
        )

    def with_inventory_cache(self, cache: InventoryCache | None) -> RunSettings:
        return dataclasses.replace(self, inventory_cache=cache)

    def without_cache(self) -> RunSettings:
        """Sandboxes: their identities (fresh keys each run) are made up, and their verdicts must
        never mix with real ones."""
        return dataclasses.replace(self, cache=dataclasses.replace(self.cache, enabled=False))
