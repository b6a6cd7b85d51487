"""PORT001 host-port-collision and PORT002 port-range-exhausted: faults and near misses."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import engine
from preflight.collect.ports_ledger import collect_port_reservations
from preflight.inventory.model import Instance, Inventory
from preflight.plan import plan_from_dict
from preflight.ports import LAUNCH_TAG, REPLICA_PORTS_TAG, PortAllocator


def run(rule_id: str, inv: Inventory, plan=None) -> list[engine.Finding]:
    rules = engine.select_rules(engine.load_rules(), [rule_id])
    return engine.run([inv], rules, plan).findings


def inv(*instances: Instance, reservations: list | None = None) -> Inventory:
    extra = {} if reservations is None else {"port_reservations": reservations}
    return Inventory(region="eu-south-1", account="123456789012", instances=instances, extra=extra)


def vm(iid: str, ports: str = "", launch: str = "", state: str = "running") -> Instance:
    tags = {}
    if ports:
        tags[REPLICA_PORTS_TAG] = ports
    if launch:
        tags[LAUNCH_TAG] = launch
    return Instance(id=iid, state=state, tags=tags)


def test_port001_two_plan_replicas_on_one_host_port() -> None:
    plan = plan_from_dict({"region": "eu-south-1", "count": 2, "replicas": {
        "count": 4, "service": "model", "ports": [40052, 40053, 40052, 40054]}}, "launch.yaml")
    [f] = run("PORT001", inv(), plan)
    assert (f.rule, f.status, f.severity, f.resource) == ("PORT001", "FAIL", "high", "launch.yaml:replicas")
    assert "replicas 0, 2 of model would all listen on port 40052 of plan instance #0" in f.message
    assert f.details == {"host": "#0", "port": 40052, "replicas": [0, 2]}


def test_port001_near_miss_same_port_on_different_hosts() -> None:
    # replicas 0 and 1 both use 40052, but on instances #0 and #1.
    plan = plan_from_dict({"region": "eu-south-1", "count": 2, "replicas": {
        "count": 2, "ports": [40052, 40052]}}, "launch.yaml")
    assert run("PORT001", inv(), plan) == []


def test_port001_tag_lists_a_port_twice() -> None:
    [f] = run("PORT001", inv(vm("i-0abc", "40051,40052,40052", launch="l-1")))
    assert f.resource == "i-0abc" and "port 40052 on i-0abc is claimed 2 times, by l-1 (x2)" in f.message


def test_port001_ledger_and_foreign_tag_collide() -> None:
    reservations = [{"host": "i-0abc", "port": 40052, "owner": "l-2", "state": "active"}]
    [f] = run("PORT001", inv(vm("i-0abc", "40052", launch="l-1"), reservations=reservations))
    assert f.resource == "i-0abc" and "claimed 2 times, by l-1, l-2" in f.message
    assert f.details["owners"] == {"l-1": 1, "l-2": 1}


def test_port001_near_misses_same_owner_other_host_terminated() -> None:
    reservations = [
        {"host": "i-0abc", "port": 40052, "owner": "l-1", "state": "active"},  # same claim as the tag
        {"host": "i-0def", "port": 40052, "owner": "l-2", "state": "active"},  # other host
        {"host": "i-dead", "port": 40051, "owner": "l-3", "state": "active"},
    ]
    inventory = inv(vm("i-0abc", "40052,40053", launch="l-1"), vm("i-0def"),
                    vm("i-dead", "40051", launch="l-4", state="terminated"), reservations=reservations)
    assert run("PORT001", inventory) == []


def test_port001_reads_the_ledger_through_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path))
    assert collect_port_reservations(None, "eu-south-1", None) == []  # no ledger yet: nothing, no file
    assert not (tmp_path / "ports.sqlite3").exists()
    ledger = PortAllocator(tmp_path / "ports.sqlite3")
    ledger.allocate("i-0abc", "l-9", (40052, 40052), state="active")
    ledger.allocate("i-0abc", "zombie", (40060, 40060), lease=-1)  # already expired: not live
    got = collect_port_reservations(None, "eu-south-1", None)
    assert [(r["host"], r["port"], r["owner"]) for r in got] == [("i-0abc", 40052, "l-9")]
    [f] = run("PORT001", inv(vm("i-0abc", "40052", launch="l-1"), reservations=got))
    assert "by l-1, l-9" in f.message


def test_port002_range_too_small() -> None:
    plan = plan_from_dict({"region": "eu-south-1", "count": 1, "replicas": {
        "count": 10, "service": "model", "port_range": "40050-40057"}}, "launch.yaml")
    [f] = run("PORT002", inv(), plan)
    assert (f.rule, f.severity, f.resource) == ("PORT002", "high", "launch.yaml:replicas")
    assert ("10 replicas of model on 1 instance(s) need 10 port(s) per instance, but replicas.port_range "
            "40050-40057 has 8, so 2 replica(s) would get no port. Widen it to at least 40050-40059, "
            "or raise count to 2") in f.message


def test_port002_near_miss_exact_fit_over_hosts() -> None:
    plan = plan_from_dict({"region": "eu-south-1", "count": 2, "replicas": {
        "count": 10, "port_range": "40050-40054"}}, "launch.yaml")
    assert run("PORT002", inv(), plan) == []
    other_region = plan_from_dict({"region": "us-east-1", "count": 1, "replicas": {
        "count": 10, "port_range": "40050-40051"}})
    assert run("PORT002", inv(), other_region) == []
