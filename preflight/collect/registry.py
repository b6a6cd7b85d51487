"""Which module provides each extra collector: the data a rule `needs` beyond the base resource
types (IAM policies, quotas, offerings, key pairs...). Declared as data, so that the commands that
collect nothing (`rules`, `explain`, an offline `check --snapshot`) never import the cloud SDKs the
collectors use; a run that reads an account imports the providers of what its rules need.
tests/unit/test_startup.py keeps this map and the registered collectors in step."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

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
