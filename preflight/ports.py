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
given by the caller: a 0600 file in a 0700 directory (who holds which port is nobody else's
business, and a writable ledger is a way to steal ports). It uses WAL mode and a busy timeout so
many processes can allocate at once.

The SQLite ledger is atomic on one machine only. A team launching from several machines shares a
DynamoDB ledger instead (preflight.ports_dynamodb, same interface `Ledger`), chosen by a ledger URL:
`--ledger`, else $PREFLIGHT_PORTS_LEDGER, else `ports-ledger` in the config, else the local file
(`resolve_ledger_url`, `open_ledger`).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from preflight.errors import PreflightError
from preflight.porttags import (  # re-exported: PORT001 reads the launch tags without the ledger
    LAUNCH_TAG,  # noqa: F401
    REPLICA_PORTS_TAG,  # noqa: F401
    format_ports_tag,  # noqa: F401
    parse_ports_tag,  # noqa: F401
)

DEFAULT_LEASE_SECONDS = 600.0
BUSY_TIMEOUT_MS = 60_000
LEDGER_ENV = "PREFLIGHT_PORTS_LEDGER"
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
    """No free port left in the requested range on that host. Not bad input: exit 1."""

    exit_code = 1


class LedgerLocked(PortsError):
    """Another process holds the SQLite ledger's write lock longer than we are willing to wait."""


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


def private_dir(path: Path, *, tighten: bool) -> None:
    """Create `path` (0700). `tighten`: also chmod an existing one to 0700, only for directories
    that are preflight's own (never a directory the user named, like /tmp)."""
    existed = path.is_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if tighten or not existed:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)


def private_file(path: Path, *, tighten: bool) -> None:
    """Create `path` empty with mode 0600 if it does not exist (SQLite gives its -wal and -shm files
    the database file's mode). `tighten`: also chmod an existing one (preflight's own state file;
    a file the user named may be shared with a group on purpose)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        if tighten and path.stat().st_uid == os.getuid():
            os.chmod(path, 0o600)
    except OSError:
        pass  # sqlite3.connect reports an unusable path with the reason


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


class Ledger:
    """A port ledger: reserve, renew and release ports per host, atomically for every process that
    uses the same ledger. Two backends: `PortAllocator` (SQLite, one machine) and
    `preflight.ports_dynamodb.DynamoLedger` (a DynamoDB table shared by a team).

    Subclasses implement allocate_many, reserve, release, release_owner, renew, activate, gc,
    list, check and close; the rest is shared.
    """

    url: str = ""
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    clock: Callable[[], float] = staticmethod(time.time)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def check(self, wait: float | None = None) -> None:
        """Raise PortsError (one line) unless the ledger can take a reservation right now (waiting
        at most `wait` seconds for a lock, where the backend has one)."""

    def _expiry(self, lease: float | None, state: str) -> float | None:
        if state == "active":
            return None
        return self.clock() + (self.lease_seconds if lease is None else float(lease))

    def allocate(self, host: str, owner: str, port_range: tuple[int, int], *, prefer: int | None = None,
                 service: str = "", lease: float | None = None, state: str = "reserved") -> int:
        """Reserve one port on `host` within `port_range` (inclusive) and return it.

        Starts at `prefer` (or the low end) and takes the next free port on conflict, wrapping
        around once. Expired leases on the way are reclaimed.
        """
        return self.allocate_many(host, owner, port_range, 1, prefer=prefer, service=service, lease=lease,
                                  state=state)[0]

    def allocate_many(self, host: str, owner: str, port_range: tuple[int, int], count: int, *,
                      prefer: int | None = None, service: str = "", lease: float | None = None,
                      state: str = "reserved") -> list[int]:
        raise NotImplementedError

    def reserve(self, host: str, port: int, owner: str, *, service: str = "", lease: float | None = None,
                state: str = "reserved") -> bool:
        raise NotImplementedError

    def release(self, host: str, port: int, owner: str | None = None) -> bool:
        raise NotImplementedError

    def release_owner(self, owner: str, host: str | None = None) -> int:
        raise NotImplementedError

    def renew(self, owner: str, lease: float | None = None) -> int:
        raise NotImplementedError

    def activate(self, owner: str) -> int:
        raise NotImplementedError

    def gc(self) -> builtins.list[Reservation]:
        raise NotImplementedError

    def list(self, *, host: str | None = None, owner: str | None = None,
             include_expired: bool = True) -> builtins.list[Reservation]:
        raise NotImplementedError

    def live(self, **kw: Any) -> builtins.list[Reservation]:
        return self.list(include_expired=False, **kw)


def _validate_request(host: str, owner: str, state: str) -> None:
    if not host or not owner:
        raise PortsError("a reservation needs a host and an owner")
    if state not in STATES:
        raise PortsError(f"state must be one of {STATES}, not {state!r}")


def candidate_ports(lo: int, hi: int, prefer: int | None) -> list[int]:
    """The order ports are tried in: from `prefer` (or the low end) up, then wrapping around."""
    start = prefer if prefer is not None and lo <= prefer <= hi else lo
    return [*range(start, hi + 1), *range(lo, start)]


def exhausted(lo: int, hi: int, host: str, free: int, count: int, held: int) -> PortRangeExhausted:
    return PortRangeExhausted(
        f"port range {lo}-{hi} on {host} has {free} free port(s), {count} needed "
        f"({held} held): widen the range or release ports (`preflight ports gc`)")


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    """SQLite's 'database is locked' / SQLITE_BUSY: another connection holds the lock."""
    return "locked" in str(exc) or "busy" in str(exc)


class PortAllocator(Ledger):
    """The SQLite ledger. Safe across threads and processes of one machine.

    Each method opens its own short transaction; a connection is kept per allocator object and
    must not be shared across processes (create one allocator per process).
    """

    def __init__(self, path: str | Path | None = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 clock: Callable[[], float] = time.time, lock_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = Path(path) if path else default_db_path()
        own = not path or self.path.parent == state_dir()
        self.url = str(LedgerUrl("sqlite", path=self.path.absolute()))
        self.lease_seconds = float(lease_seconds)
        self.clock = clock
        self._lock_timeout = float(lock_timeout)
        try:
            private_dir(self.path.parent, tighten=own)
            private_file(self.path, tighten=own)
            # isolation_level=None: we issue BEGIN ourselves, so the conflict check and the
            # reservation are one transaction under the write lock.
            self._db = sqlite3.connect(str(self.path), timeout=self._lock_timeout, isolation_level=None,
                                       check_same_thread=False)
            self.lock_timeout = self._lock_timeout
            self._set_up()
        except sqlite3.OperationalError as exc:
            raise self._locked_or(exc, f"cannot open the port ledger {self.path}") from None
        except (sqlite3.DatabaseError, OSError) as exc:
            raise PortsError(f"cannot open the port ledger {self.path}: {exc}") from None

    def _set_up(self) -> None:
        """WAL mode and the schema. Switching a fresh file to WAL answers SQLITE_BUSY at once, without
        the busy handler, while another connection is doing the same (ten replicas starting
        together on a new ledger): retry that for up to the lock timeout."""
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.01
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if not _is_lock_error(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    def _locked_or(self, exc: sqlite3.OperationalError, what: str) -> PortsError:
        """'database is locked' (another process holds the write lock past our wait) gets its own
        message: what holds it and what to do; any other OperationalError is one line too."""
        if _is_lock_error(exc):
            return LedgerLocked(
                f"the port ledger {self.path} is locked by another process (waited {self.lock_timeout:g} s): "
                "wait for it to finish (or stop it) and retry")
        return PortsError(f"{what}: {exc}")

    @property
    def lock_timeout(self) -> float:
        """Seconds a write waits for another process's lock before LedgerLocked."""
        return self._lock_timeout

    @lock_timeout.setter
    def lock_timeout(self, seconds: float) -> None:
        self._lock_timeout = float(seconds)
        self._db.execute(f"PRAGMA busy_timeout = {int(self._lock_timeout * 1000)}")

    def close(self) -> None:
        self._db.close()

    def check(self, wait: float | None = None) -> None:
        """Take the write lock and let it go (waiting at most `wait` seconds): a ledger held by
        another process fails here, before a launch changes anything, not after its instances exist."""
        saved = self.lock_timeout
        if wait is not None:
            self.lock_timeout = wait
        try:
            with self._write():
                pass
        finally:
            self.lock_timeout = saved

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock before the first read."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._locked_or(exc, f"port ledger {self.path}") from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise self._locked_or(exc, f"port ledger {self.path}") from None

    # --- allocation ---------------------------------------------------------------------------

    def allocate_many(self, host: str, owner: str, port_range: tuple[int, int], count: int, *,
                      prefer: int | None = None, service: str = "", lease: float | None = None,
                      state: str = "reserved") -> list[int]:
        """Reserve `count` distinct ports on `host` in one transaction: all of them or none."""
        _validate_request(host, owner, state)
        if count < 1:
            return []
        lo, hi = _check_range(port_range)
        with self._write() as db:
            now = self.clock()
            db.execute("DELETE FROM reservations WHERE host = ? AND port BETWEEN ? AND ? "
                       "AND expires_at IS NOT NULL AND expires_at <= ?", (host, lo, hi, now))
            taken = {p for (p,) in db.execute(
                "SELECT port FROM reservations WHERE host = ? AND port BETWEEN ? AND ?", (host, lo, hi))}
            chosen: list[int] = []
            for port in candidate_ports(lo, hi, prefer):
                if port not in taken:
                    chosen.append(port)
                    if len(chosen) == count:
                        break
            if len(chosen) < count:
                raise exhausted(lo, hi, host, len(chosen), count, len(taken))
            expires = self._expiry(lease, state)
            pid = os.getpid()
            db.executemany(
                f"INSERT INTO reservations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(host, p, owner, state, service, pid, now, expires) for p in chosen])
        return chosen

    def reserve(self, host: str, port: int, owner: str, *, service: str = "", lease: float | None = None,
                state: str = "reserved") -> bool:
        """Reserve exactly `port` on `host`; False if someone else holds a live lease on it."""
        _validate_request(host, owner, state)
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

    def release_owner(self, owner: str, host: str | None = None) -> int:
        """Release every reservation of an owner (a launch id on `down`, or on failure), on one host
        or all."""
        with self._write() as db:
            if host is not None:
                return db.execute("DELETE FROM reservations WHERE owner = ? AND host = ?", (owner, host)).rowcount
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

    def gc(self) -> builtins.list[Reservation]:
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
             include_expired: bool = True) -> builtins.list[Reservation]:
        where: builtins.list[str] = []
        args: builtins.list[object] = []
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
        try:
            return [_row(r) for r in self._db.execute(sql + " ORDER BY host, port", args)]
        except sqlite3.OperationalError as exc:
            raise self._locked_or(exc, f"port ledger {self.path}") from None


SqliteLedger = PortAllocator


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


def allocate_replicas(allocator: Ledger, owner: str, hosts: Iterable[str], count: int,
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


# --- choosing a ledger --------------------------------------------------------------------------

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
LEDGER_FORMS = "sqlite:///PATH or dynamodb://TABLE?region=REGION"


@dataclass(frozen=True)
class LedgerUrl:
    """Where the ledger lives: a SQLite file on this machine, or a DynamoDB table."""

    kind: str  # "sqlite" | "dynamodb"
    path: Path | None = None
    table: str = ""
    region: str = ""
    origin: str = ""  # which setting chose it, for messages ("--ledger", "PREFLIGHT_PORTS_LEDGER"...)

    def __str__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite://{urllib.parse.quote(str(self.path))}"
        return f"dynamodb://{self.table}" + (f"?region={self.region}" if self.region else "")


def parse_ledger_url(text: str, origin: str = "--ledger") -> LedgerUrl:
    """`sqlite:///ABSOLUTE/PATH` or `dynamodb://TABLE[?region=R]`; anything else is one line naming
    the setting it came from."""
    text = text.strip()
    bad = f"{origin}: {text!r} is not a port ledger URL ({LEDGER_FORMS})"
    try:
        u = urllib.parse.urlsplit(text)
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True, strict_parsing=bool(u.query))
    except ValueError:
        raise PortsError(bad) from None
    if u.scheme == "sqlite":
        if u.netloc or u.query or not u.path or u.path == "/":
            raise PortsError(f"{bad}: a SQLite ledger is sqlite:/// followed by an absolute path")
        return LedgerUrl("sqlite", path=Path(urllib.parse.unquote(u.path)), origin=origin)
    if u.scheme == "dynamodb":
        if not _TABLE_NAME.match(u.netloc or "") or u.path not in ("", "/"):
            raise PortsError(f"{bad}: the table name must be 3-255 letters, digits, '_', '-' or '.'")
        unknown = sorted(set(query) - {"region"})
        if unknown:
            raise PortsError(f"{bad}: unknown parameter {unknown[0]!r} (only region)")
        region = (query.get("region") or [""])[-1]
        if "region" in query and not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", region):
            raise PortsError(f"{bad}: region {region!r} is not a region name like eu-south-1")
        return LedgerUrl("dynamodb", table=u.netloc, region=region, origin=origin)
    raise PortsError(bad)


def resolve_ledger_url(cli: str | None = None, config: str | None = None,
                       state: str | Path | None = None) -> LedgerUrl:
    """The ledger a command uses: --ledger, else $PREFLIGHT_PORTS_LEDGER, else `ports-ledger` from
    the config file, else the SQLite file in the state directory."""
    if cli:
        return parse_ledger_url(cli, "--ledger")
    env = os.environ.get(LEDGER_ENV, "").strip()
    if env:
        return parse_ledger_url(env, LEDGER_ENV)
    if config:
        return parse_ledger_url(config, "ports-ledger (config)")
    return LedgerUrl("sqlite", path=default_db_path(state), origin="default")


def open_ledger(url: LedgerUrl | None = None, session: Any = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                clock: Callable[[], float] = time.time, lock_timeout: float = BUSY_TIMEOUT_MS / 1000,
                create: bool = False) -> Ledger:
    """A ledger object for `url` (default: the local SQLite file). A DynamoDB ledger uses `session`
    (an AwsSession: the credential chain, profile and --endpoint-url of the rest of preflight; a
    fresh one when not given). `create`: make the table if it does not exist (the sandbox)."""
    url = url or resolve_ledger_url()
    if url.kind == "sqlite":
        return PortAllocator(url.path, lease_seconds=lease_seconds, clock=clock, lock_timeout=lock_timeout)
    from preflight.ports_dynamodb import DynamoLedger

    return DynamoLedger(url, session, lease_seconds=lease_seconds, clock=clock, create=create)


@contextlib.contextmanager
def command_ledger(url: LedgerUrl, *, profile: str | None = None, endpoint_url: str | None = None,
                   sandbox: str | None = None, check: bool = True) -> Iterator[Ledger | None]:
    """The ledger a `preflight ports ...` command works on, closed afterwards. None when the
    SQLite file does not exist yet and `check` is False (nothing to list or collect).

    A DynamoDB ledger gets an AwsSession like every other command (--profile, --endpoint-url or
    AWS_ENDPOINT_URL, the default credential chain). With --sandbox it lives in the in-process
    moto account, which is seeded with the scenario and gets the table created on first use."""
    if url.kind == "sqlite":
        assert url.path is not None
        if not check and not url.path.exists():
            yield None
            return
        with PortAllocator(url.path) as ledger:
            if check:
                ledger.check(wait=5.0)
            yield ledger
        return
    if sandbox:
        from preflight.collect.sandbox import DEFAULT_REGION
        from preflight.collect.sandbox import sandbox as in_process

        with in_process(sandbox, url.region or DEFAULT_REGION) as (session, _):
            with open_ledger(url, session, create=True) as ledger:
                yield ledger
        return
    from preflight.collect.aws import AwsSession

    session = AwsSession(profile=profile, endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None)
    with open_ledger(url, session) as ledger:
        ledger.check()
        yield ledger


def parse_port_range(text: str, what: str = "--range") -> tuple[int, int]:
    """`40000-40999` (or one port) as (low, high); one line naming the option otherwise."""
    m = re.fullmatch(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?", text or "")
    if not m:
        raise PortsError(f"{what}: {text!r} is not a port range like 40000-40999")
    lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    if not (1 <= lo <= hi <= 65535):
        raise PortsError(f"{what}: {text!r} must be within 1-65535, low end first")
    return lo, hi
