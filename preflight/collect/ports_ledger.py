"""Extra collector `port_reservations`: the live reservations of the port ledger.

Not a cloud read for the default ledger: that is preflight's own SQLite table (preflight.ports).
With PREFLIGHT_PORTS_LEDGER naming a DynamoDB ledger, the table is read through the check's own
session (same credentials and endpoint). It is collected like any other extra so that PORT rules
stay pure and snapshots carry what the ledger said. Reservations whose lease has expired are
zombies and are left out; a ledger that cannot be read makes PORT001 UNKNOWN, never a silent pass.
"""

from __future__ import annotations

from typing import Any, cast

from preflight.collect.aws import Denied, extra_collector
from preflight.inventory.extras import PortReservation


@extra_collector("port_reservations")
def collect_port_reservations(session: Any, region: str, plan: Any) -> list[PortReservation]:
    from preflight.ports import PortsError, open_ledger, resolve_ledger_url

    url = resolve_ledger_url()
    if url.kind == "sqlite" and (url.path is None or not url.path.exists()):
        return []
    try:
        with open_ledger(url, session) as ledger:
            return [cast(PortReservation, r.to_dict()) for r in ledger.live()]
    except PortsError as exc:
        raise Denied("dynamodb:Scan" if url.kind == "dynamodb" else "", "LedgerUnreadable", str(exc)) from None
