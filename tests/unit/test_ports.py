"""Port allocator: uniqueness under concurrency, leases and zombies, replica placement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from preflight.ports import (
    Ledger,
    PortAllocator,
    PortRangeExhausted,
    PortsError,
    allocate_replicas,
    default_db_path,
    place_replicas,
)


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_state_dir_env_and_parameter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "env"))
    assert default_db_path() == tmp_path / "env" / "ports.sqlite3"
    assert default_db_path(tmp_path / "arg") == tmp_path / "arg" / "ports.sqlite3"
    monkeypatch.delenv("PREFLIGHT_STATE_DIR")
    assert default_db_path().name == "ports.sqlite3" and "preflight" in str(default_db_path())


def test_conflict_takes_next_free_port_and_wal(tmp_path: Path) -> None:
    a = PortAllocator(tmp_path / "p.db")
    assert a._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert a.allocate("i-1", "alice", (40050, 40060), prefer=40052) == 40052
    assert a.allocate("i-1", "bob", (40050, 40060), prefer=40052) == 40053
    # Another host is independent.
    assert a.allocate("i-2", "bob", (40050, 40060), prefer=40052) == 40052
    assert a.reserve("i-1", 40052, "carol") is False
    assert a.reserve("i-1", 40070, "carol") is True
    assert [(r.host, r.port, r.owner) for r in a.live(host="i-1")] == [
        ("i-1", 40052, "alice"), ("i-1", 40053, "bob"), ("i-1", 40070, "carol")]


def test_wraps_around_then_exhausts_with_clear_error(tmp_path: Path) -> None:
    a = PortAllocator(tmp_path / "p.db")
    got = [a.allocate("h", "o", (100, 102), prefer=101) for _ in range(3)]
    assert got == [101, 102, 100]
    with pytest.raises(PortRangeExhausted, match=r"port range 100-102 on h has 0 free port\(s\), 1 needed"):
        a.allocate("h", "o", (100, 102))


def test_allocate_many_is_all_or_nothing(tmp_path: Path) -> None:
    a = PortAllocator(tmp_path / "p.db")
    a.allocate("h", "x", (10, 12), prefer=11)
    with pytest.raises(PortRangeExhausted):
        a.allocate_many("h", "y", (10, 12), 3)
    assert [r.owner for r in a.list()] == ["x"]


def test_bad_input(tmp_path: Path) -> None:
    a = PortAllocator(tmp_path / "p.db")
    with pytest.raises(PortsError, match="not within 1-65535"):
        a.allocate("h", "o", (0, 10))
    with pytest.raises(PortsError, match="not within"):
        a.allocate("h", "o", (20, 10))
    with pytest.raises(PortsError, match="host and an owner"):
        a.allocate("", "o", (10, 20))


def test_lease_expiry_renew_activate_release_gc(tmp_path: Path) -> None:
    clock = Clock()
    a = PortAllocator(tmp_path / "p.db", lease_seconds=30, clock=clock)
    assert a.allocate("h", "dead", (5000, 5000)) == 5000
    assert a.allocate("h", "alive", (5001, 5001)) == 5001
    assert a.allocate("h", "launch", (5002, 5002)) == 5002
    assert a.activate("launch") == 1
    clock.t += 20
    assert a.renew("alive") == 1  # now expires at +50
    clock.t += 15  # "dead" expired at +30
    assert [r.owner for r in a.live()] == ["alive", "launch"]
    assert a.allocate("h", "new", (5000, 5000)) == 5000  # reclaimed in the same transaction
    clock.t += 100
    assert [(r.owner, r.port) for r in a.gc()] == [("new", 5000), ("alive", 5001)]
    assert [(r.owner, r.state, r.expires_at) for r in a.list()] == [("launch", "active", None)]
    assert a.release("h", 5002, owner="someone-else") is False
    assert a.release_owner("launch") == 1
    assert a.list() == []


# One allocating process, on any ledger URL (tests/e2e/test_ports_ledger_cli.py runs it on DynamoDB).
ALLOCATOR = """
import json, sys
from preflight.ports import open_ledger, parse_ledger_url
url, idx, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hosts = ["host-a", "host-b", "host-c", "host-d"]
a = open_ledger(parse_ledger_url(url))
sys.stdin.readline()  # start together
got = []
for i in range(n):
    host = hosts[(idx + i) % len(hosts)]
    got.append((host, a.allocate(host, f"proc-{idx}", (20000, 20999), prefer=20000 + (i * 7) % 300)))
print(json.dumps(got))
"""


def run_allocators(url: str, processes: int, each: int, timeout: float = 600) -> list[tuple[str, int]]:
    """`processes` separate interpreters (not fork: each its own connection or client) started
    together, each allocating `each` ports on ledger `url`; every (host, port) they were given."""
    procs = [subprocess.Popen([sys.executable, "-c", ALLOCATOR, url, str(i), str(each)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for i in range(processes)]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    pairs: list[tuple[str, int]] = []
    for p in procs:
        out, _ = p.communicate(timeout=timeout)
        assert p.returncode == 0
        pairs.extend((h, port) for h, port in json.loads(out))
    return pairs


def test_ten_processes_hundred_ports_four_hosts_no_duplicates(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    PortAllocator(db).close()  # create the schema once, as a first `preflight` run would
    pairs = run_allocators(f"sqlite://{db}", 10, 100)
    assert len(pairs) == 1000
    dupes = [k for k, c in Counter(pairs).items() if c > 1]
    assert dupes == []
    ledger = PortAllocator(db).list()
    assert len(ledger) == 1000 and {(r.host, r.port) for r in ledger} == set(pairs)


_CHILD = """
import sys, time
from preflight.ports import PortAllocator
a = PortAllocator(sys.argv[1], lease_seconds=float(sys.argv[2]))
print(a.allocate("worker-1", "doomed", (40052, 40052)), flush=True)
time.sleep(60)
"""


def test_sigkilled_holder_lease_expires_and_port_is_reused(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, db, "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "40052"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    clock = Clock(time.time())
    a = PortAllocator(db, clock=clock)
    [zombie] = a.list()
    assert zombie.owner == "doomed" and zombie.pid == child.pid and zombie.state == "reserved"
    with pytest.raises(PortRangeExhausted):  # the lease is still running
        a.allocate("worker-1", "next", (40052, 40052))
    clock.t += 31
    assert [r.owner for r in a.gc()] == ["doomed"]
    assert a.allocate("worker-1", "next", (40052, 40052)) == 40052


def test_ten_replicas_never_share_a_port(tmp_path: Path) -> None:
    a = PortAllocator(tmp_path / "p.db")
    placed = allocate_replicas(a, "launch-1", ["i-1"], 10, (40050, 40059), service="model")
    assert sorted(p for _, p in placed) == list(range(40050, 40060))
    # Spread over 3 hosts: unique per host, round-robin order.
    placed3 = allocate_replicas(a, "launch-2", ["i-a", "i-b", "i-c"], 10, (40050, 40059))
    assert [h for h, _ in placed3] == ["i-a", "i-b", "i-c"] * 3 + ["i-a"]
    assert len(set(placed3)) == 10
    # A second service on the same host can only fail: nothing left, nothing leaked.
    with pytest.raises(PortRangeExhausted):
        allocate_replicas(a, "launch-3", ["i-1", "i-a"], 2, (40050, 40059))
    assert a.list(owner="launch-3") == []


def test_ten_replica_threads_on_one_worker_never_share(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    got: list[int] = []
    lock = threading.Lock()

    def start_replica(i: int) -> None:
        port = PortAllocator(db).allocate("worker-1", f"replica-{i}", (40050, 40059), prefer=40052)
        with lock:
            got.append(port)

    threads = [threading.Thread(target=start_replica, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(40050, 40060))


def test_place_replicas_is_pure_round_robin() -> None:
    assert place_replicas(["a", "b"], 3, (10, 20)) == [("a", 10), ("b", 10), ("a", 11)]
    assert place_replicas(["a"], 5, (10, 12)) == [("a", 10), ("a", 11), ("a", 12)]
    assert place_replicas([], 5, (10, 12)) == []


class LedgerMachine(RuleBasedStateMachine):
    """Any interleaving of allocate/reserve/release/expire/gc by two 'processes' keeps (host, port)
    unique among live reservations and never hands out a port someone else holds alive."""

    HOSTS = ("h1", "h2")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.procs = self.make_ledgers()
        self.model: dict[tuple[str, int], tuple[str, float | None]] = {}  # live holders

    def make_ledgers(self) -> list[Ledger]:
        """Two 'processes' on one ledger (the DynamoDB machine overrides this)."""
        self.dir = tempfile.TemporaryDirectory()
        db = Path(self.dir.name) / "p.db"
        return [PortAllocator(db, lease_seconds=10, clock=self.clock) for _ in range(2)]

    def teardown(self) -> None:
        for p in self.procs:
            p.close()
        self.dir.cleanup()

    def _live_model(self) -> dict[tuple[str, int], str]:
        return {k: o for k, (o, exp) in self.model.items() if exp is None or exp > self.clock.t}

    @rule(proc=st.integers(0, 1), host=st.sampled_from(HOSTS), prefer=st.integers(1, 8),
          owner=st.sampled_from(["a", "b", "c"]))
    def allocate(self, proc: int, host: str, prefer: int, owner: str) -> None:
        live = self._live_model()
        try:
            port = self.procs[proc].allocate(host, owner, (1, 8), prefer=prefer)
        except PortRangeExhausted:
            assert all((host, p) in live for p in range(1, 9))
            return
        assert (host, port) not in live
        assert 1 <= port <= 8
        self.model[(host, port)] = (owner, self.clock.t + 10)

    @rule(proc=st.integers(0, 1), host=st.sampled_from(HOSTS), port=st.integers(1, 8))
    def release(self, proc: int, host: str, port: int) -> None:
        self.procs[proc].release(host, port)
        self.model.pop((host, port), None)

    @rule(owner=st.sampled_from(["a", "b", "c"]))
    def activate(self, owner: str) -> None:
        self.procs[0].activate(owner)
        for k, (o, exp) in list(self.model.items()):
            if o == owner and (exp is None or exp > self.clock.t):
                self.model[k] = (o, None)

    @rule(dt=st.sampled_from([1.0, 5.0, 11.0]))
    def advance(self, dt: float) -> None:
        self.clock.t += dt

    @rule()
    def gc(self) -> None:
        self.procs[1].gc()
        self.model = {k: v for k, v in self.model.items() if v[1] is None or v[1] > self.clock.t}

    @invariant()
    def ledger_matches_model(self) -> None:
        live = self.procs[0].live()
        keys = [(r.host, r.port) for r in live]
        assert len(keys) == len(set(keys))
        assert {(r.host, r.port): r.owner for r in live} == self._live_model()


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)


def test_port002_fixed_ports_fewer_than_replicas() -> None:
    from preflight import engine
    from preflight.inventory.model import Inventory
    from preflight.plan import plan_from_dict

    def port002(replicas: dict) -> list[engine.Finding]:
        plan = plan_from_dict({"region": "eu-south-1", "count": 2, "replicas": replicas}, "launch.yaml")
        inv = Inventory(region="eu-south-1", account="123456789012", source="test")
        rules = engine.select_rules(engine.load_rules(), ["PORT002"])
        return [f for f in engine.run([inv], rules, plan).findings if f.status == "FAIL"]

    [f] = port002({"count": 4, "ports": [40050, 40051]})
    assert (f.rule, f.resource) == ("PORT002", "launch.yaml:replicas")
    assert f.message.startswith("replicas.ports lists 2 port(s) for 4 replicas, so 2 replica(s) would get no port")
    assert port002({"count": 2, "ports": [40050, 40051]}) == []  # near miss: one port each
    assert port002({"count": 2, "ports": [40050, 40051, 40052]}) == []
