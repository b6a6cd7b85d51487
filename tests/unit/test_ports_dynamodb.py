"""The DynamoDB port ledger on moto in process: conditional writes decide who holds a port, the
table is created as `ports init` promises, every failure is one line, and the ledger state machine
of test_ports.py holds on this backend too."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import settings
from moto import mock_aws

from preflight.collect.aws import AwsSession
from preflight.ports import (
    Ledger,
    PortRangeExhausted,
    PortsError,
    allocate_replicas,
    open_ledger,
    parse_ledger_url,
    resolve_ledger_url,
)
from preflight.ports_dynamodb import DynamoLedger
from tests.conftest import Sleeps
from tests.unit.test_ports import Clock, LedgerMachine

REGION = "eu-south-1"
URL = f"dynamodb://team-ports?region={REGION}"


@contextlib.contextmanager
def dynamo(clock: Clock | None = None, **kw: Any) -> Iterator[tuple[DynamoLedger, Any]]:
    with mock_aws():
        ledger = DynamoLedger(parse_ledger_url(URL), AwsSession(), clock=clock or Clock(), **kw)
        ledger.init()
        yield ledger, boto3.client("dynamodb", region_name=REGION)


def test_init_creates_on_demand_table_with_key_schema_and_ttl_and_is_idempotent() -> None:
    with mock_aws():
        ledger = DynamoLedger(parse_ledger_url(URL), AwsSession())
        first = ledger.init()
        assert first[0] == ("created DynamoDB table team-ports in eu-south-1: on-demand billing, "
                            "key host (string) + port (number)")
        assert first[1].startswith("TTL enabled on attribute ttl")
        ddb = boto3.client("dynamodb", region_name=REGION)
        table = ddb.describe_table(TableName="team-ports")["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == [
            ("host", "HASH"), ("port", "RANGE")]
        ttl = ddb.describe_time_to_live(TableName="team-ports")["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
        assert ledger.init() == ["DynamoDB table team-ports in eu-south-1 already exists",
                                 "TTL already enabled on attribute ttl"]


def test_missing_table_is_one_line_naming_ports_init() -> None:
    with mock_aws():
        ledger = DynamoLedger(parse_ledger_url(URL), AwsSession())
        for action in (ledger.check, ledger.list, lambda: ledger.allocate("h", "o", (1, 2))):
            with pytest.raises(PortsError) as info:
                action()
            assert str(info.value) == ("the DynamoDB port ledger team-ports in eu-south-1 does not exist: create it "
                                       f"with `preflight ports init --ledger {URL}`")


def test_a_table_with_another_key_is_not_taken_for_a_ledger() -> None:
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="team-ports", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        with pytest.raises(PortsError, match=r"is not a preflight port ledger \(its key is id \(HASH\)"):
            DynamoLedger(parse_ledger_url(URL), AwsSession()).check()


def test_reservation_item_carries_lease_expiry_and_ttl_active_ones_neither() -> None:
    clock = Clock(1_000_000.5)
    with dynamo(clock, lease_seconds=30) as (ledger, ddb):
        assert ledger.allocate("i-1", "alice", (40050, 40060), prefer=40052, service="model") == 40052
        item = ddb.get_item(TableName="team-ports", Key={"host": {"S": "i-1"}, "port": {"N": "40052"}})["Item"]
        assert item["owner"] == {"S": "alice"} and item["state"] == {"S": "reserved"}
        assert float(item["expires_at"]["N"]) == 1_000_030.5 and item["ttl"] == {"N": "1000031"}
        assert ledger.activate("alice") == 1
        item = ddb.get_item(TableName="team-ports", Key={"host": {"S": "i-1"}, "port": {"N": "40052"}})["Item"]
        assert item["state"] == {"S": "active"} and "expires_at" not in item and "ttl" not in item


def test_conditional_put_failure_means_taken_and_the_next_port_is_tried() -> None:
    clock = Clock()
    with dynamo(clock) as (a, _):
        session = AwsSession()
        b = DynamoLedger(parse_ledger_url(URL), session, clock=clock)
        assert a.allocate("i-1", "alice", (100, 110), prefer=101) == 101
        # b has not read anything: its put on 101 fails its condition (taken), 102 is free.
        assert b.allocate("i-1", "bob", (100, 110), prefer=101) == 102
        assert session.stats.calls == {"dynamodb:PutItem": 2}
        assert b.reserve("i-1", 101, "bob") is False
        # Contention: after the blind tries fail, one query says what is held, and held ports are
        # skipped without a write (104 and 105 here).
        a.allocate_many("i-1", "alice", (103, 105), 3)
        session.stats.clear()
        assert b.allocate("i-1", "bob", (100, 110), prefer=101) == 106
        assert session.stats.calls == {"dynamodb:PutItem": 4, "dynamodb:Query": 1}
        assert [(r.port, r.owner) for r in a.list(owner="bob")] == [(102, "bob"), (106, "bob")]
        with pytest.raises(PortRangeExhausted, match="port range 101-102 on i-1 has 0 free port"):
            a.allocate("i-1", "carol", (101, 102))


def test_allocate_many_is_all_or_nothing_and_rolls_back_only_its_own() -> None:
    with dynamo() as (ledger, _):
        ledger.allocate("h", "x", (10, 12), prefer=11)
        with pytest.raises(PortRangeExhausted):
            ledger.allocate_many("h", "y", (10, 12), 3)
        assert [(r.port, r.owner) for r in ledger.list()] == [(11, "x")]
        placed = allocate_replicas(ledger, "launch-1", ["i-a", "i-b"], 4, (40050, 40059))
        assert placed == [("i-a", 40050), ("i-b", 40050), ("i-a", 40051), ("i-b", 40051)]


def test_release_is_conditional_on_the_owner() -> None:
    with dynamo() as (ledger, _):
        ledger.allocate_many("h1", "alice", (10, 20), 2)
        ledger.allocate("h2", "alice", (10, 20))
        ledger.allocate("h1", "bob", (10, 20))
        assert ledger.release("h1", 10, owner="bob") is False  # alice's: refused
        assert ledger.release_owner("alice", host="h1") == 2
        assert [(r.host, r.owner) for r in ledger.list()] == [("h1", "bob"), ("h2", "alice")]
        assert ledger.release_owner("alice") == 1 and ledger.release_owner("alice") == 0


def test_expired_lease_is_reclaimed_by_the_next_put_and_gc_is_conditional() -> None:
    clock = Clock()
    with dynamo(clock, lease_seconds=30) as (ledger, _):
        ledger.allocate("h", "dead", (5000, 5000))
        ledger.allocate("h", "alive", (5001, 5001))
        clock.t += 20
        assert ledger.renew("alive") == 1
        clock.t += 15
        assert [r.owner for r in ledger.live()] == ["alive"]
        assert ledger.allocate("h", "new", (5000, 5000)) == 5000  # the put's condition saw the expiry
        clock.t += 100
        # A gc that read the ledger before "newer" took 5001 again must not delete newer's lease.
        stale = list(ledger._items())
        assert ledger.allocate("h", "newer", (5001, 5001)) == 5001
        ledger._items = lambda *a, **k: iter(stale)  # type: ignore[method-assign]
        assert [(r.owner, r.port) for r in ledger.gc()] == [("new", 5000)]
        del ledger._items
        assert [(r.owner, r.port) for r in ledger.list()] == [("newer", 5001)]


def test_throttled_put_is_retried_by_botocore_and_a_landed_first_attempt_is_recognised_as_ours(
        fast_botocore: Sleeps) -> None:
    from preflight.launch.faults import FaultInjector

    with dynamo() as (ledger, _):
        # The first two attempts of the put reach moto (the write lands) but come back as
        # throttling: botocore retries (adaptive mode), the third attempt finds the item already
        # there. Its token says it is ours, so the port is ours, not "taken by someone".
        sent: list[str] = []

        def throttle_twice(request: Any, **_: Any) -> Any:
            from botocore.awsrequest import AWSResponse

            sent.append("x")
            if len(sent) <= 2:
                body = b'{"__type":"ProvisionedThroughputExceededException","message":"slow down"}'
                return AWSResponse(request.url, 400, {"x-amzn-errortype": "ProvisionedThroughputExceededException"},
                                   _Raw(body))
            return None

        ledger._client.meta.events.register("before-send.dynamodb.PutItem", throttle_twice)
        assert ledger.allocate("h", "o", (10, 20)) == 10
        assert len(sent) == 3
        ledger._client.meta.events.unregister("before-send.dynamodb.PutItem", throttle_twice)
        assert [(r.port, r.owner) for r in ledger.list()] == [(10, "o")]
        # Near miss: the same retried conflict on someone else's item is "taken".
        sent.clear()
        other = DynamoLedger(parse_ledger_url(URL), AwsSession(), clock=ledger.clock)
        other._client.meta.events.register("before-send.dynamodb.PutItem", throttle_twice)
        assert other.reserve("h", 10, "someone") is False and len(sent) == 3
        assert [(r.port, r.owner) for r in ledger.list()] == [(10, "o")]
        # Throttling that outlasts the retries is one line.
        faults = FaultInjector(ledger._client).error("PutItem", "ThrottlingException")
        with pytest.raises(PortsError, match=r"is throttling dynamodb:PutItem \(ThrottlingException\) beyond "):
            ledger.allocate("h", "o", (10, 20))
        faults.remove()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


def test_ledger_urls_and_their_precedence(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert str(parse_ledger_url("sqlite:///var/lib/p.db").path) == "/var/lib/p.db"
    u = parse_ledger_url("dynamodb://my.table_1?region=us-west-2")
    assert (u.kind, u.table, u.region) == ("dynamodb", "my.table_1", "us-west-2")
    for bad, why in [("ports.db", "is not a port ledger URL"), ("sqlite://host/p.db", "absolute path"),
                     ("dynamodb://x?region=eu-south-1", "table name"), ("dynamodb://tbl?regio=x", "unknown parameter"),
                     ("dynamodb://tab?region=mars", "not a region name"), ("redis://x", "is not a port ledger")]:
        with pytest.raises(PortsError, match=why):
            parse_ledger_url(bad)
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("PREFLIGHT_PORTS_LEDGER", raising=False)
    assert resolve_ledger_url().path == tmp_path / "ports.sqlite3"
    assert resolve_ledger_url(None, URL).table == "team-ports"
    monkeypatch.setenv("PREFLIGHT_PORTS_LEDGER", "dynamodb://env-ports?region=eu-west-1")
    assert resolve_ledger_url(None, URL).table == "env-ports"
    assert resolve_ledger_url(URL.replace("team", "cli"), URL).table == "cli-ports"
    with pytest.raises(PortsError, match="^PREFLIGHT_PORTS_LEDGER: 'nope'"):
        monkeypatch.setenv("PREFLIGHT_PORTS_LEDGER", "nope")
        resolve_ledger_url()


def test_region_comes_from_the_url_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with mock_aws():
        with pytest.raises(PortsError, match=r"needs a region: dynamodb://t-x\?region=REGION"):
            open_ledger(parse_ledger_url("dynamodb://t-x"), AwsSession())
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
        assert open_ledger(parse_ledger_url("dynamodb://t-x"), AwsSession()).url == "dynamodb://t-x?region=eu-west-3"


class DynamoLedgerMachine(LedgerMachine):
    """The same interleavings as the SQLite machine, on two DynamoDB ledger objects over one table
    (a fresh table per example; one moto account and session for the whole run, which is what
    costs time)."""

    shared: dict[str, Any] = {}

    def make_ledgers(self) -> list[Ledger]:
        session = self.shared["session"]
        self.shared["n"] = n = self.shared.get("n", 0) + 1
        url = parse_ledger_url(f"dynamodb://machine-{n}?region={REGION}")
        first = DynamoLedger(url, session, lease_seconds=10, clock=self.clock, create=True)
        return [first, DynamoLedger(url, session, lease_seconds=10, clock=self.clock)]

    def teardown(self) -> None:
        pass


class TestDynamoLedgerMachine(DynamoLedgerMachine.TestCase):  # type: ignore[name-defined,misc]
    settings = settings(max_examples=10, stateful_step_count=15, deadline=None)

    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = mock_aws()
        cls.mock.start()
        DynamoLedgerMachine.shared["session"] = AwsSession()

    @classmethod
    def tearDownClass(cls) -> None:
        DynamoLedgerMachine.shared.clear()
        cls.mock.stop()


def test_catalogue_lists_exactly_what_the_ledger_calls_and_only_plans_naming_it_check_it() -> None:
    from preflight.permissions import all_permissions, capabilities_for, catalogue
    from preflight.plan import plan_from_dict
    from preflight.ports_dynamodb import INIT_PERMISSIONS, PERMISSIONS

    cap = catalogue()["aws"]["ports-ledger"]
    assert cap.opt_in and cap.permissions == PERMISSIONS + INIT_PERMISSIONS
    assert "ports-ledger" not in capabilities_for("aws", None)
    assert "dynamodb:PutItem" in all_permissions("aws")  # verdicts are collected, judged only when named
    assert list(capabilities_for("aws", plan_from_dict({"capabilities": ["compute", "ports-ledger"]}))) == [
        "compute", "ports-ledger"]
