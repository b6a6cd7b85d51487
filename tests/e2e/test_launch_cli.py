"""End to end: `preflight launch --fix --apply` on the eu-south-1 incident in a moto server, then
`check` is clean, and `down` + `undo` leave the account exactly as it was (compared by snapshot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflight.collect.aws import AwsSession
from preflight.collect.sandbox import Seeder, get_scenario
from tests.conftest import run_cli

REGION = "eu-south-1"
PLAN = str(Path(__file__).resolve().parents[2] / "examples" / "launch.yaml")
FAST = ("--retry-base", "0.05", "--retry-jitter", "0.05")

pytestmark = pytest.mark.e2e


def account_state(url: str) -> dict[str, Any]:
    """A snapshot of the server's account without its timestamp; terminated instances (EC2 keeps
    listing them for a while) and their interfaces are left out."""
    snap = run_cli("snapshot", "--region", REGION, "--out", "/dev/stdout", env={"AWS_ENDPOINT_URL": url})
    assert snap.code == 0, snap.stderr
    data = json.loads(snap.stdout)
    [inv] = data["inventories"] if "inventories" in data else [data]
    inv.pop("collected_at", None)
    gone = {i["id"] for i in inv["instances"] if i["state"] in ("terminated", "shutting-down")}
    inv["instances"] = [i for i in inv["instances"] if i["id"] not in gone]
    inv["network_interfaces"] = [n for n in inv["network_interfaces"] if n["instance_id"] not in gone]
    for subnet in inv["subnets"]:  # moto never gives terminated instances' addresses back (EC2 does)
        subnet.pop("available_ip_address_count", None)
    return inv


def test_launch_fix_apply_check_down_undo(moto_server, tmp_path: Path) -> None:
    session = AwsSession(region=REGION, endpoint_url=moto_server.url)
    seeder = Seeder(session, REGION)
    get_scenario("no-default-route").seed(seeder)
    env = {"AWS_ENDPOINT_URL": moto_server.url, "PREFLIGHT_STATE_DIR": str(tmp_path / "state"),
           "PREFLIGHT_JOURNAL_DIR": str(tmp_path / "journal")}
    start = account_state(moto_server.url)

    res = run_cli("launch", PLAN, "--fix", "--apply", "--select", "NET,SG,PORT", *FAST, "--format", "json", env=env)
    assert res.code == 0, res.stdout + res.stderr
    out = res.json()
    assert out["ok"] and [s["name"] for s in out["stages"]] == [
        "check", "fix", "subnet", "group", "run", "wait", "ports", "verify", "record"]
    record = out["record"]
    assert record["state"] == "running" and len(record["instances"]) == 2
    assert record["subnet"] == seeder.ids["app-subnet"] and record["security_group"]["created"] is True
    fix_journal = out["fix_journal"]
    assert Path(fix_journal).exists()

    # The account is now clean for the network rules (NET006, info: no default VPC, is by design).
    check = run_cli("check", "--plan", PLAN, "--select", "NET,SG010", "--format", "json", env=env)
    assert check.code == 0, check.stdout
    assert [f["rule"] for f in check.json()["findings"] if f["status"] == "FAIL"] == ["NET006"]

    ports = run_cli("ports", "list", "--format", "json", env=env)
    rows = ports.json()
    assert len(rows) == 10 and len({(r["host"], r["port"]) for r in rows}) == 10
    assert {r["owner"] for r in rows} == {out["launch_id"]} and {r["state"] for r in rows} == {"active"}

    down = run_cli("down", out["launch_id"], env=env)
    assert down.code == 0, down.stdout + down.stderr
    assert f"deleted security group {record['security_group']['id']}" in down.stdout
    assert "released 10 replica port(s)" in down.stdout
    assert f"preflight undo {fix_journal}" in down.stdout
    undo = run_cli("undo", fix_journal, env=env)
    assert undo.code == 0, undo.stdout + undo.stderr
    assert account_state(moto_server.url) == start
    assert run_cli("ports", "list", "--format", "json", env=env).json() == []
    # Both are safe to repeat.
    assert run_cli("undo", fix_journal, env=env).stdout.startswith("preflight undo: 0 step(s)")
    again = run_cli("down", out["launch_id"], env=env)
    assert again.code == 0 and "no instances" in again.stdout


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in process (fast) for input errors: exit code, stdout, stderr."""
    from preflight.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_launch_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("region: eu-south-1\ninstance_type: t3.micro\n")
    code, _, err = run_main(capsys, "launch", str(bad), "--sandbox")
    assert code == 2 and err.strip().count("\n") == 0
    assert "image: required by preflight launch" in err
    code, _, err = run_main(capsys, "down", "launch-nope")
    assert code == 2 and "no launch 'launch-nope'" in err
    code, _, err = run_main(capsys, "down", "../etc/passwd")
    assert code == 2 and "is not a launch id" in err
    code, _, err = run_main(capsys, "undo", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "journal not found" in err
    code, _, err = run_main(capsys, "launch", PLAN, "--retry-attempts", "0", "--sandbox")
    assert code == 2 and "--retry-attempts 0: expected a number from 1" in err


def test_ports_list_and_gc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from preflight.ports import PortAllocator, default_db_path

    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path))
    code, out, _ = run_main(capsys, "ports", "list")
    assert code == 0 and out == "no port reservations\n"
    ledger = PortAllocator(default_db_path())
    ledger.allocate("i-0abc", "launch-1", (40052, 40052), state="active", service="model")
    ledger.allocate("i-0abc", "crashed", (40060, 40060), lease=-1)  # a zombie
    code, out, _ = run_main(capsys, "ports", "list")
    assert "i-0abc                 40052  active   launch-1" in out and "never (until down)" in out
    assert "EXPIRED (zombie; `preflight ports gc`)" in out
    code, out, _ = run_main(capsys, "ports", "gc")
    assert code == 0 and "reclaimed i-0abc:40060 (owner crashed" in out and "1 expired reservation(s)" in out
    assert [r.owner for r in ledger.list()] == ["launch-1"]


def test_readme_sandbox_launch_transcript(tmp_path: Path) -> None:
    """Exactly the README's command: the broken eu-south-1 sandbox to running instances with open ports."""
    res = run_cli("launch", "examples/launch.yaml", "--sandbox", "no-default-route", "--fix", "--apply",
                  cwd=Path(PLAN).parents[1], env={"PREFLIGHT_STATE_DIR": str(tmp_path / "state"),
                                                  "PREFLIGHT_JOURNAL_DIR": str(tmp_path / "journal")})
    assert res.code == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    marks = [line[:10].strip() for line in lines if line[:1] in "!✓✗·-"]
    assert marks == ["! check", "✓ fix", "✓ subnet", "✓ group", "✓ run", "✓ wait", "✓ ports", "✓ verify",
                     "✓ record", "✓ sandbox"]
    assert "NET001 high vpc-" in res.stdout
    assert "aws ec2 create-route --region eu-south-1 --route-table-id rtb-" in res.stdout
    assert "modify-subnet-attribute --region eu-south-1 --subnet-id subnet-" in res.stdout
    assert "authorized tcp 8000, 8002, 8004 from 0.0.0.0/0" in res.stdout
    assert "10 replica port(s) reserved, no two on one host and port" in res.stdout
    assert "ports 8000,8002,8004 open; network rules clean" in res.stdout
    assert lines[-1].startswith("launched launch-")
