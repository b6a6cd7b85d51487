"""The tags a launch puts on its instances, so other machines (and PORT001) can see which replica
ports a host already carries: "40052,40053" in replica order.

Apart from preflight.ports so that a check reads them without importing the port ledger (sqlite3)."""

from __future__ import annotations

from collections.abc import Iterable

LAUNCH_TAG = "preflight:launch-id"
REPLICA_PORTS_TAG = "preflight:replica-ports"


def format_ports_tag(ports: Iterable[int]) -> str:
    return ",".join(str(p) for p in ports)


def parse_ports_tag(value: str) -> list[int]:
    """Ports from a replica-ports tag; anything that is not a port is ignored (tags are user data)."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if item.isdigit() and 1 <= int(item) <= 65535:
            out.append(int(item))
    return out
