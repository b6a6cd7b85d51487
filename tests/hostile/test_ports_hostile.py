"""Hostile cases for the port ledger (issue 16 items 4, 19, 20): another process holding the
ledger lock during a launch, the ledger file's permissions, and input that used to be accepted
silently. Each case fails with one line (exit 2, nothing changed) or, once something exists, a
report of what was created and how to take it down (exit 1) — never an internal error."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.ports import PortAllocator, PortsError, default_db_path

HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(120)
"""


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in process (as `preflight ...` runs it): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PREFLIGHT_PORTS_LEDGER", raising=False)
    monkeypatch.chdir(tmp_path)  # no config file from the repository
    return tmp_path / "state"


@pytest.fixture
def held_ledger(state: Path) -> Iterator[Path]:
    """The ledger file, with another process in a BEGIN EXCLUSIVE transaction on it."""
    PortAllocator(default_db_path()).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(default_db_path())], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield default_db_path()
    finally:
        holder.kill()
        holder.wait(timeout=10)


# --- item 4: the ledger lock --------------------------------------------------------------------

def test_locked_ledger_stops_launch_fix_apply_before_any_change(held_ledger: Path, capsys) -> None:
    code, out, err = run_main(capsys, "launch", "examples/launch.yaml" if Path("examples/launch.yaml").exists()
                              else str(Path(__file__).parents[2] / "examples" / "launch.yaml"),
                              "--sandbox", "no-default-route", "--fix", "--apply")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "internal error" not in err
    assert err.startswith(f"preflight: error: the port ledger {held_ledger} is locked by another process (waited 5 s)")
    assert err.rstrip().endswith("(launch stopped before changing anything)")
    # Nothing was started: no journal, no launch record.
    assert not (held_ledger.parent / "launches").exists() and not (held_ledger.parent / "journal").exists()


def test_lock_taken_after_instances_exist_reports_what_was_created(state: Path) -> None:
    from tests.unit.test_launch_pipeline import pipeline

    plan = {"replicas": {"count": 4, "port_range": "40050-40060"}}
    PortAllocator().close()
    blocker = sqlite3.connect(str(default_db_path()), isolation_level=None, timeout=1)
    try:
        with pipeline("no-default-route", plan, apply=True, fix=True, ledger_wait=0.2) as (pl, source):
            def grab_lock_after_wait(st) -> None:
                if st.name == "wait":  # instances are running: now someone else holds the ledger
                    blocker.execute("BEGIN EXCLUSIVE")

            pl.progress = grab_lock_after_wait
            result = pl.run()
            ec2 = source.session.client("ec2", source.regions[0])
            running = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    finally:
        blocker.close()
    assert result.exit_code() == 1 and not result.ok
    ports = result.stages[-2] if result.stages[-1].name == "sandbox" else result.stages[-1]
    assert (ports.name, ports.status) == ("ports", "failed")
    assert ports.summary.startswith(f"the port ledger {default_db_path()} is locked by another process")
    # a sandbox launch: `down` would refuse its record (item 21), so it is not suggested
    assert "nothing to take down: the sandbox account ends with this command" in ports.lines
    assert not any("preflight down" in line for line in ports.lines)
    assert result.launch_id and result.record is not None and sorted(result.record.instances) == sorted(running)
    assert result.fix_journal  # the fixes made before are named, with their journal


def test_ports_commands_on_a_locked_ledger_are_one_line(held_ledger: Path, capsys) -> None:
    code, out, err = run_main(capsys, "ports", "reserve", "--host", "h", "--owner", "o", "--range", "40000-40010")
    assert code == 2 and out == ""
    assert err == (f"preflight: error: the port ledger {held_ledger} is locked by another process (waited 5 s): "
                   "wait for it to finish (or stop it) and retry\n")


# --- item 19: the ledger file is private ------------------------------------------------------------

def test_ledger_is_0600_in_a_0700_dir_under_the_state_dir(state: Path, capsys) -> None:
    code, out, _ = run_main(capsys, "ports", "reserve", "--host", "h", "--owner", "o", "--range", "40000-40010")
    assert code == 0 and out == "40000\n"
    db = state / "ports.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    with PortAllocator() as ledger:  # while open, SQLite's side files inherit the mode
        ledger.allocate("h", "o2", (40000, 40010))
        for side in ("ports.sqlite3-wal", "ports.sqlite3-shm"):
            assert stat.S_IMODE((state / side).stat().st_mode) == 0o600, side


def test_an_existing_world_readable_ledger_is_tightened_but_a_user_dir_is_left_alone(state: Path,
                                                                                      tmp_path: Path) -> None:
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    (state / "ports.sqlite3").touch(mode=0o644)
    os.chmod(state / "ports.sqlite3", 0o644)
    PortAllocator().close()
    assert stat.S_IMODE((state / "ports.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    PortAllocator(shared / "team.db").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # the user's directory: not ours to change
    assert stat.S_IMODE((shared / "team.db").stat().st_mode) == 0o600  # created private
    os.chmod(shared / "team.db", 0o660)  # shared with a group on purpose: kept
    PortAllocator(shared / "team.db").close()
    assert stat.S_IMODE((shared / "team.db").stat().st_mode) == 0o660


# --- item 20: input that used to be accepted silently -------------------------------------------------

PLAN = "region: eu-south-1\ninstance_type: t3.micro\nimage: ami-0abc\ncount: 2\n"


@pytest.mark.parametrize("replicas, message", [
    ("{count: -5, port_range: 40000-40010}", "replicas.count: must be 0 or more, got -5"),
    ("{count: 2, port_range: 40000-40010, prots: [1]}",
     "replicas: unknown key 'prots' (known: service, count, port_range, ports)"),
    ("{count: 2, portrange: 40000-40010}", "replicas: unknown key 'portrange'"),
    ("{count: two, port_range: 40000-40010}", "replicas.count: expected a whole number, got 'two'"),
    ("{count: true, port_range: 40000-40010}", "replicas.count: expected a whole number, got True"),
])
def test_bad_replicas_are_one_line_exit_2(state: Path, tmp_path: Path, capsys, replicas: str, message: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN + f"replicas: {replicas}\n")
    code, out, err = run_main(capsys, "launch", str(plan))
    assert (code, out) == (2, "")
    assert err.startswith(f"preflight: error: {plan}: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["check", "--region", "eu-south-1", "--ports", ""], "--ports: empty; give ports like 8000,8002,8004"),
    (["check", "--region", "eu-south-1", "--ports", " , "], "--ports: empty"),
    (["ports", "list", "--format", "xml"], "--format: unknown format 'xml' (table or json)"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "1-10", "--format", "yaml"],
     "--format: unknown format 'yaml'"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "70000-80000"], "--range: '70000-80000' must be"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "40010-40000"], "low end first"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "lots"], "is not a port range like 40000-40999"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "1-10", "--count", "0"], "--count: 0 must be"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "1-10", "--count", "11"], "size of --range (10)"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "1-10", "--lease", "-5"], "--lease: -5.0 must"),
    (["ports", "reserve", "--host", "h", "--owner", "o", "--range", "1-10", "--lease", "nan"], "--lease: nan must"),
    (["ports", "reserve", "--host", " ", "--owner", "o", "--range", "1-10"], "--host and --owner must not be empty"),
    (["ports", "release", "--owner", ""], "--owner must not be empty"),
    (["ports", "list", "--ledger", "redis://x"], "--ledger: 'redis://x' is not a port ledger URL"),
    (["ports", "list", "--ledger", "dynamodb://x"], "the table name must be 3-255"),
    (["ports", "gc", "--ledger", "sqlite://relative.db"], "absolute path"),
])
def test_bad_ports_input_is_one_line_exit_2(state: Path, capsys, argv: list[str], message: str) -> None:
    code, out, err = run_main(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("preflight: error: ") and message in err and err.count("\n") == 1, err
    assert not (state / "ports.sqlite3").exists()  # nothing was created


def test_bad_ledger_from_environment_or_config_names_its_source(state: Path, tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_PORTS_LEDGER", "mysql://db")
    code, _, err = run_main(capsys, "ports", "list")
    assert code == 2 and err.startswith("preflight: error: PREFLIGHT_PORTS_LEDGER: 'mysql://db' is not a port ledger")
    monkeypatch.delenv("PREFLIGHT_PORTS_LEDGER")
    (tmp_path / ".preflight.toml").write_text('select = ["NET"]\nports-ledger = 5\n')
    code, _, err = run_main(capsys, "ports", "list")
    assert code == 2 and err.startswith(f"preflight: error: {tmp_path / '.preflight.toml'}:2: ports-ledger: '5'"), err


def test_port002_advice_stays_within_real_ports() -> None:
    from preflight import engine
    from preflight.inventory.model import Inventory
    from preflight.plan import plan_from_dict

    def port002(count: int, replicas: int, rng: str) -> str:
        plan = plan_from_dict({"region": "eu-south-1", "count": count,
                               "replicas": {"count": replicas, "port_range": rng}}, "launch.yaml")
        inv = Inventory(region="eu-south-1", account="123456789012", source="test")
        [f] = [f for f in engine.run([inv], engine.select_rules(engine.load_rules(), ["PORT002"]), plan).findings
               if f.status == "FAIL"]
        return f.message

    absurd = port002(1, 1_000_000_000, "1-10")
    assert "1000000000" not in absurd.split("replicas")[-1] and "Widen it to at least" not in absurd
    assert "No port range can hold 1000000000 ports per instance (at most 65535 from 1): lower replicas.count, or " \
           "raise count to at least 15260 with the range widened to 1-65535" in absurd
    # Near miss: a reachable width is still advised as before.
    assert port002(2, 30, "40050-40059").endswith("Widen it to at least 40050-40064, or raise count to 3")


def test_exhausted_ledger_is_exit_1_not_an_input_error(state: Path, capsys) -> None:
    assert run_main(capsys, "ports", "reserve", "--host", "h", "--owner", "a", "--range", "5-6", "--count", "2")[0] == 0
    code, out, err = run_main(capsys, "ports", "reserve", "--host", "h", "--owner", "b", "--range", "5-6")
    assert (code, out) == (1, "")
    assert err == ("preflight: error: port range 5-6 on h has 0 free port(s), 1 needed (2 held): widen the range or "
                   "release ports (`preflight ports gc`)\n")
    with pytest.raises(PortsError):
        PortAllocator().allocate("h", "c", (5, 6))
