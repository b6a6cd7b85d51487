"""Extra collector `port_reservations`: the live reservations of the local port ledger.

Not a cloud read: the ledger is preflight's own SQLite table (preflight.ports). It is collected
like any other extra so that PORT rules stay pure and snapshots carry what the ledger said.
Reservations whose lease has expired are zombies and are left out.
"""

from __future__ import annotations

from typing import Any

from preflight.collect.aws import extra_collector


@extra_collector("port_reservations")
def collect_port_reservations(session: Any, region: str, plan: Any) -> list[dict[str, Any]]:
    from preflight.ports import PortAllocator, default_db_path

    path = default_db_path()
    if not path.exists():
        return []
    ledger = PortAllocator(path)
    try:
        return [r.to_dict() for r in ledger.live()]
    finally:
        ledger.close()
