"""The DynamoDB port ledger across processes and machines, on the shared moto server: many
processes allocating at once never share a port, a SIGKILLed holder's leases expire and are
reclaimed, two working directories pointing at one table are one ledger, and the `preflight
ports` commands (init, reserve, release, list, gc) work on it as documented."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from preflight.collect.aws import AwsSession
from preflight.ports import PortRangeExhausted, parse_ledger_url
from preflight.ports_dynamodb import DynamoLedger
from tests.conftest import MotoServer, run_cli, run_in_process
from tests.unit.test_ports import Clock, run_allocators

REGION = "eu-south-1"
URL = f"dynamodb://shared-ports?region={REGION}"


@pytest.fixture
def table(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    DynamoLedger(parse_ledger_url(URL), AwsSession(endpoint_url=moto_server.url)).init()
    return moto_server


def ledger(server: MotoServer, **kw) -> DynamoLedger:
    return DynamoLedger(parse_ledger_url(URL), AwsSession(endpoint_url=server.url), **kw)


def test_eight_processes_eighty_allocations_one_table_no_duplicates(table: MotoServer) -> None:
    pairs = run_allocators(URL, 8, 80)  # each process's botocore reads AWS_ENDPOINT_URL (the server)
    assert len(pairs) == 640
    assert [k for k, c in Counter(pairs).items() if c > 1] == []
    held = ledger(table).list()
    assert len(held) == 640 and {(r.host, r.port) for r in held} == set(pairs)
    assert Counter(r.owner for r in held) == {f"proc-{i}": 80 for i in range(8)}


_HOLDER = """
import sys, time
from preflight.collect.aws import AwsSession
from preflight.ports import parse_ledger_url
from preflight.ports_dynamodb import DynamoLedger
ledger = DynamoLedger(parse_ledger_url(sys.argv[1]), AwsSession(endpoint_url=sys.argv[2]), lease_seconds=30)
print(ledger.allocate_many("worker-1", "doomed", (40052, 40053), 2), flush=True)
time.sleep(120)
"""


def test_sigkilled_holder_leases_expire_and_are_reclaimed(table: MotoServer) -> None:
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, URL, table.url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert json.loads(child.stdout.readline()) == [40052, 40053]
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    clock = Clock(time.time())
    survivor = ledger(table, clock=clock)
    assert [(r.port, r.owner, r.pid) for r in survivor.list()] == [(40052, "doomed", child.pid),
                                                                   (40053, "doomed", child.pid)]
    with pytest.raises(PortRangeExhausted):  # the leases still run
        survivor.allocate("worker-1", "next", (40052, 40053))
    clock.t += 31
    assert survivor.allocate("worker-1", "next", (40052, 40053)) == 40052  # reclaimed by the put itself
    assert [(r.port, r.owner) for r in survivor.gc()] == [(40053, "doomed")]
    assert [(r.port, r.owner) for r in survivor.list()] == [(40052, "next")]


def test_two_working_directories_on_one_table_are_one_ledger(table: MotoServer, tmp_path: Path) -> None:
    laptop, runner = tmp_path / "laptop", tmp_path / "ci-runner"
    laptop.mkdir()
    runner.mkdir()
    (laptop / "pyproject.toml").write_text(f'[tool.preflight]\nports-ledger = "{URL}"\n')
    env = {"AWS_ENDPOINT_URL": table.url, "PREFLIGHT_STATE_DIR": str(tmp_path / "state-runner")}
    a = run_cli("ports", "reserve", "--host", "i-1", "--owner", "laptop", "--range", "40050-40059", "--count", "3",
                cwd=laptop, env={**env, "PREFLIGHT_STATE_DIR": str(tmp_path / "state-laptop")})
    b = run_cli("ports", "reserve", "--host", "i-1", "--owner", "runner", "--range", "40050-40059", "--count", "3",
                "--format", "json", cwd=runner, env={**env, "PREFLIGHT_PORTS_LEDGER": URL})
    assert (a.code, b.code) == (0, 0), (a.stderr, b.stderr)
    assert a.stdout.split() == ["40050", "40051", "40052"]
    assert b.json()["ports"] == [40053, 40054, 40055] and b.json()["ledger"] == URL
    listed = run_cli("ports", "list", "--format", "json", cwd=laptop, env=env).json()
    assert [(r["port"], r["owner"]) for r in listed] == [(40050, "laptop"), (40051, "laptop"), (40052, "laptop"),
                                                         (40053, "runner"), (40054, "runner"), (40055, "runner")]
    # Near miss: without the shared ledger each directory has its own SQLite file, and the same
    # port goes out twice (the incident the DynamoDB ledger exists for).
    c = run_cli("ports", "reserve", "--host", "i-1", "--owner", "x", "--range", "40050-40059", cwd=runner, env=env)
    assert c.stdout.split() == ["40050"]


def test_ports_commands_on_the_dynamodb_ledger(moto_server: MotoServer, tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": moto_server.url, "PREFLIGHT_STATE_DIR": str(tmp_path)}
    missing = run_cli("ports", "list", "--ledger", URL, env=env)
    assert missing.code == 2 and missing.stderr.strip() == (
        "preflight: error: the DynamoDB port ledger shared-ports in eu-south-1 does not exist: create it with "
        f"`preflight ports init --ledger {URL}`")
    init = run_cli("ports", "init", "--ledger", URL, env=env)
    assert init.code == 0 and init.stdout.splitlines()[0] == (
        "created DynamoDB table shared-ports in eu-south-1: on-demand billing, key host (string) + port (number)")
    assert "TTL enabled on attribute ttl" in init.stdout
    res = run_cli("ports", "reserve", "--ledger", URL, "--host", "i-9", "--owner", "svc", "--range", "40000-40001",
                  "--count", "2", "--lease", "0", "--service", "api", env=env)
    assert res.code == 0 and res.stdout.split() == ["40000", "40001"]
    full = run_cli("ports", "reserve", "--ledger", URL, "--host", "i-9", "--owner", "other", "--range", "40000-40001",
                   env=env)
    assert full.code == 1 and "port range 40000-40001 on i-9 has 0 free port(s), 1 needed" in full.stderr
    table = run_cli("ports", "list", "--ledger", URL, env=env)
    assert table.stdout.splitlines()[1].split() == ["i-9", "40000", "active", "svc", "api", "never", "(until",
                                                    "down)"]
    assert run_cli("ports", "release", "--ledger", URL, "--owner", "svc", env=env).stdout == \
        "released 2 reservation(s) of svc\n"
    assert run_cli("ports", "list", "--ledger", URL, "--format", "json", env=env).json() == []


def test_launch_with_a_missing_ledger_table_stops_before_anything_is_created(moto_server: MotoServer,
                                                                             tmp_path: Path) -> None:
    plan = Path(__file__).parents[2] / "examples" / "launch.yaml"
    env = {"AWS_ENDPOINT_URL": moto_server.url, "PREFLIGHT_STATE_DIR": str(tmp_path)}
    res = run_in_process("launch", str(plan), "--fix", "--apply", "--ledger", URL, env=env, cwd=tmp_path)
    assert res.code == 2 and res.stdout == ""
    assert res.stderr == ("preflight: error: the DynamoDB port ledger shared-ports in eu-south-1 does not exist: "
                          f"create it with `preflight ports init --ledger {URL}` (launch stopped before changing "
                          "anything)\n")
    ec2 = moto_server.client("ec2")
    assert ec2.describe_instances()["Reservations"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == ["default"]
    assert not (tmp_path / "launches").exists() and not (tmp_path / "journal").exists()
