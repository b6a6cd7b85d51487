"""Port allocator: a SQLite ledger of (host, port) reservations with owners and leases.

Why it exists: a model server started 10 replicas and two were given the same port on the same
worker, so one of them died. Here every replica port is taken through one table with
`UNIQUE(host, port)`, and a reservation is one write transaction (`BEGIN IMMEDIATE`: the conflict
check and the insert happen under the database's write lock), so two processes can never hold the
same port on the same host. On a conflict the allocator moves on to the next free port in the
range.

A reservation carries a lease. `reserved` rows expire at `expires_at` unless renewed, so a process
that dies while holding a port (SIGKILL, power loss) leaves a zombie that the next allocation, or
`gc()` / `preflight ports gc`, reclaims. `active` rows have no expiry (`expires_at` NULL): they
belong to a running launch and are released by `preflight down`.

The database lives in the user state dir (platformdirs), or `$PREFLIGHT_STATE_DIR`, or a path
given by the caller. It uses WAL mode and a busy timeout so many processes can allocate at once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError

DEFAULT_LEASE_SECONDS = 600.0
BUSY_TIMEOUT_MS = 60_000
STATES = ("reserved", "active")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reservations (
    host        TEXT    NOT NULL,
    port        INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    owner       TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('reserved', 'active')),
    service     TEXT    NOT NULL DEFAULT '',
    pid         INTEGER NOT NULL DEFAULT 0,
    created_at  REAL    NOT NULL,
    expires_at  REAL,
    UNIQUE (host, port)
);
CREATE INDEX IF NOT EXISTS reservations_owner ON reservations (owner);
CREATE INDEX IF NOT EXISTS reservations_expiry ON reservations (expires_at);
"""


class PortsError(PreflightError):
    pass


class PortRangeExhausted(PortsError):
    """No free port left in the requested range on that host."""


def state_dir(override: str | Path | None = None) -> Path:
    """preflight's state directory: the argument, else $PREFLIGHT_STATE_DIR, else platformdirs."""
    if override:
        return Path(override)
    env = os.environ.get("PREFLIGHT_STATE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_state_dir("preflight"))


def default_db_path(override: str | Path | None = None) -> Path:
    return state_dir(override) / "ports.sqlite3"


@dataclass(frozen=True)
class Reservation:
    host: str
    port: int
    owner: str
    state: str
    service: str = ""
    pid: int = 0
    created_at: float = 0.0
    expires_at: float | None = None

    def is_live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(r: sqlite3.Row | tuple[Any, ...]) -> Reservation:
    return Reservation(host=r[0], port=int(r[1]), owner=r[2], state=r[3], service=r[4], pid=int(r[5]),
                       created_at=float(r[6]), expires_at=None if r[7] is None else float(r[7]))


_COLUMNS = "host, port, owner, state, service, pid, created_at, expires_at"


def _check_range(port_range: tuple[int, int]) -> tuple[int, int]:
    lo, hi = int(port_range[0]), int(port_range[1])
    if not (1 <= lo <= hi <= 65535):
        raise PortsError(f"port range {lo}-{hi} is not within 1-65535 (low end first)")
    return lo, hi


class PortAllocator:
    """Reserve, renew and release ports per host. Safe across threads and processes.

    Each method opens its own short transaction; a connection is kept per allocator object and
    must not be shared across processes (create one allocator per process).
    """

    def __init__(self, path: str | Path | None = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path else default_db_path()
        self.lease_seconds = float(lease_seconds)
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN ourselves, so the conflict check and the
            # reservation are one transaction under the write lock.
            self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise PortsError(f"cannot open the port ledger {self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock before the first read."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def _expiry(self, lease: float | None, state: str) -> float | None:
        if state == "active":
            return None
        return self.clock() + (self.lease_seconds if lease is None else float(lease))

    # --- allocation ---------------------------------------------------------------------------

    def allocate(self, host: str, owner: str, port_range: tuple[int, int], *, prefer: int | None = None,
                 service: str = "", lease: float | None = None, state: str = "reserved") -> int:
        """Reserve one port on `host` within `port_range` (inclusive) and return it.

        Starts at `prefer` (or the low end) and takes the next free port on conflict, wrapping
        around once. Expired leases on the way are reclaimed in the same transaction.
        """
        return self.allocate_many(host, owner, port_range, 1, prefer=prefer, service=service, lease=lease,
                                  state=state)[0]

    def allocate_many(self, host: str, owner: str, port_range: tuple[int, int], count: int, *,
                      prefer: int | None = None, service: str = "", lease: float | None = None,
                      state: str = "reserved") -> list[int]:
        """Reserve `count` distinct ports on `host` in one transaction: all of them or none."""
        if not host or not owner:
            raise PortsError("a reservation needs a host and an owner")
        if state not in STATES:
            raise PortsError(f"state must be one of {STATES}, not {state!r}")
        if count < 1:
            return []
        lo, hi = _check_range(port_range)
        start = prefer if prefer is not None and lo <= prefer <= hi else lo
        with self._write() as db:
            now = self.clock()
            db.execute("DELETE FROM reservations WHERE host = ? AND port BETWEEN ? AND ? "
                       "AND expires_at IS NOT NULL AND expires_at <= ?", (host, lo, hi, now))
            taken = {p for (p,) in db.execute(
                "SELECT port FROM reservations WHERE host = ? AND port BETWEEN ? AND ?", (host, lo, hi))}
            chosen: list[int] = []
            for port in (*range(start, hi + 1), *range(lo, start)):
                if port not in taken:
                    chosen.append(port)
                    if len(chosen) == count:
                        break
            if len(chosen) < count:
                raise PortRangeExhausted(
                    f"port range {lo}-{hi} on {host} has {len(chosen)} free port(s), {count} needed "
                    f"({len(taken)} held): widen the range or release ports (`preflight ports gc`)")
            expires = self._expiry(lease, state)
            pid = os.getpid()
            db.executemany(
                f"INSERT INTO reservations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(host, p, owner, state, service, pid, now, expires) for p in chosen])
        return chosen

    def reserve(self, host: str, port: int, owner: str, *, service: str = "", lease: float | None = None,
                state: str = "reserved") -> bool:
        """Reserve exactly `port` on `host`; False if someone else holds a live lease on it."""
        with self._write() as db:
            now = self.clock()
            db.execute("DELETE FROM reservations WHERE host = ? AND port = ? AND expires_at IS NOT NULL "
                       "AND expires_at <= ?", (host, port, now))
            try:
                db.execute(f"INSERT INTO reservations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (host, port, owner, state, service, os.getpid(), now, self._expiry(lease, state)))
            except sqlite3.IntegrityError:
                return False
        return True

    # --- lifecycle ------------------------------------------------------------------------------

    def release(self, host: str, port: int, owner: str | None = None) -> bool:
        """Release one reservation (only the owner's, when `owner` is given)."""
        sql, args = "DELETE FROM reservations WHERE host = ? AND port = ?", [host, port]
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        with self._write() as db:
            return db.execute(sql, args).rowcount > 0

    def release_owner(self, owner: str) -> int:
        """Release every reservation of an owner (a launch id on `down`, or on failure)."""
        with self._write() as db:
            return db.execute("DELETE FROM reservations WHERE owner = ?", (owner,)).rowcount

    def renew(self, owner: str, lease: float | None = None) -> int:
        """Extend the lease of an owner's `reserved` rows that have not yet expired."""
        with self._write() as db:
            now = self.clock()
            return db.execute(
                "UPDATE reservations SET expires_at = ? WHERE owner = ? AND state = 'reserved' "
                "AND expires_at > ?", (self._expiry(lease, "reserved"), owner, now)).rowcount

    def activate(self, owner: str) -> int:
        """Turn an owner's live reservations into `active` ones (no expiry) once it is running."""
        with self._write() as db:
            now = self.clock()
            return db.execute(
                "UPDATE reservations SET state = 'active', expires_at = NULL WHERE owner = ? "
                "AND (expires_at IS NULL OR expires_at > ?)", (owner, now)).rowcount

    def gc(self) -> list[Reservation]:
        """Reclaim expired leases (zombies left by dead processes); return what was removed."""
        with self._write() as db:
            now = self.clock()
            gone = [_row(r) for r in db.execute(
                f"SELECT {_COLUMNS} FROM reservations WHERE expires_at IS NOT NULL AND expires_at <= ? "
                "ORDER BY host, port", (now,))]
            db.execute("DELETE FROM reservations WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
        return gone

    # --- reading --------------------------------------------------------------------------------

    def list(self, *, host: str | None = None, owner: str | None = None,
             include_expired: bool = True) -> list[Reservation]:
        where, args = [], []
        if host is not None:
            where.append("host = ?")
            args.append(host)
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if not include_expired:
            where.append("(expires_at IS NULL OR expires_at > ?)")
            args.append(self.clock())
        sql = f"SELECT {_COLUMNS} FROM reservations"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_row(r) for r in self._db.execute(sql + " ORDER BY host, port", args)]

    def live(self, **kw: Any) -> list[Reservation]:
        return self.list(include_expired=False, **kw)


def place_replicas(hosts: Iterable[str], count: int, port_range: tuple[int, int]) -> list[tuple[str, int]]:
    """The placement a launch asks for: replicas spread round-robin over hosts, ports from the
    range. Pure (no ledger): used by PORT002 to judge capacity before anything is reserved."""
    hosts = list(hosts)
    lo, hi = _check_range(port_range)
    if not hosts:
        return []
    per_host: dict[str, int] = {h: lo for h in hosts}
    out: list[tuple[str, int]] = []
    for i in range(count):
        host = hosts[i % len(hosts)]
        port = per_host[host]
        if port > hi:
            break
        out.append((host, port))
        per_host[host] = port + 1
    return out


def allocate_replicas(allocator: PortAllocator, owner: str, hosts: Iterable[str], count: int,
                      port_range: tuple[int, int], *, service: str = "", lease: float | None = None
                      ) -> list[tuple[str, int]]:
    """Reserve a (host, port) for each of `count` replicas, round-robin over `hosts`.

    All or nothing: if any replica cannot get a port, the ones already reserved are released and
    PortRangeExhausted is raised, so a failed launch leaves no reservation behind.
    """
    hosts = list(hosts)
    if count and not hosts:
        raise PortsError("no hosts to place replicas on")
    per_host: dict[str, int] = {}
    for i in range(count):
        h = hosts[i % len(hosts)]
        per_host[h] = per_host.get(h, 0) + 1
    placed: list[tuple[str, int]] = []
    try:
        for host in hosts:
            if per_host.get(host):
                ports = allocator.allocate_many(host, owner, port_range, per_host[host], service=service,
                                                lease=lease)
                placed.extend((host, p) for p in ports)
    except BaseException:
        for host, port in placed:
            allocator.release(host, port, owner)
        raise
    # Replica order: round-robin, as the placement above.
    by_host = {h: [p for hh, p in placed if hh == h] for h in hosts}
    return [(hosts[i % len(hosts)], by_host[hosts[i % len(hosts)]].pop(0)) for i in range(count)]


# Tags a launch puts on its instances, so other machines (and PORT001) can see which replica
# ports a host already carries: "40052,40053" in replica order.
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
