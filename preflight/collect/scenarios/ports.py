"""Port-ledger scenario: a DynamoDB ledger shared by a team, for `preflight ports list --sandbox`.

The sandbox account lives only as long as one command, so a ledger that a `ports list` can show
has to be seeded: this scenario creates the ledger table (`preflight-ports` in the sandbox region,
as `preflight ports init` does) and makes reservations through the ledger's own code: two launches
from two machines sharing worker i-0a1b2c3d4e5f60001 (distinct ports: the conditional puts saw to
it), a serving script's `ports reserve`, and a zombie whose process died and whose lease expired
(`preflight ports gc --sandbox shared-port-ledger --ledger ...` reclaims it).
"""

from __future__ import annotations

import time

from preflight.collect.sandbox import DEFAULT_REGION, Seeder, scenario

LEDGER_URL = f"dynamodb://preflight-ports?region={DEFAULT_REGION}"


@scenario("shared-port-ledger",
          "a DynamoDB port ledger shared by two operators and a script, with one zombie lease "
          f"(use with --ledger {LEDGER_URL})")
def shared_port_ledger(s: Seeder) -> None:
    from preflight.ports import parse_ledger_url
    from preflight.ports_dynamodb import DynamoLedger

    s.aws_like_default_vpc()  # a healthy network: this scenario is about the ledger only
    s.public_vpc()
    url = parse_ledger_url(LEDGER_URL, "sandbox")
    ledger = DynamoLedger(url, s.session, create=True)
    worker, other = "i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002"
    # Two operators' launches (a laptop, a CI runner) place replicas on the same worker.
    for owner in ("launch-20261128-091500-6c1e", "launch-20261128-091502-d07a"):
        ledger.allocate_many(worker, owner, (40050, 40099), 2, service="model")
        ledger.activate(owner)
    ledger.allocate_many(other, "serving-canary", (40000, 40999), 1, service="canary", lease=3600)
    # A process killed while holding a lease: expired ten minutes ago.
    dead = DynamoLedger(url, s.session, clock=lambda: time.time() - 1200, lease_seconds=600)
    dead.allocate_many(worker, "launch-20261128-085959-9b42", (40050, 40099), 1, service="model")
