"""`preflight fix` as a user runs it: the sandbox incident, a moto server account, bad input.

The incident and the moto-server account are fixed by the installed command in a subprocess (slow
tests); the refusals and bad input run the same entry point in process (run_in_process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, run_cli, run_in_process

REGION = "eu-south-1"
PORTS = "8000,8002,8004"

pytestmark = pytest.mark.e2e


def seed_incident(server) -> str:
    """The incident's group on a moto server: -1 from the VPC, 8000 from the world, a duplicate 8000 rule."""
    ec2 = server.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="ml-serving", Description="reused", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/16"}]}])
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": "10.0.5.9/16"}]}])
    return gid


def rules_of(server, gid: str) -> list[tuple]:
    rules = server.client("ec2", REGION).describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    return sorted((r["IsEgress"], r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), r.get("CidrIpv4", ""))
                  for r in rules)


def fix_cli(server, *args: str, run: Callable[..., Result] = run_cli) -> Result:
    """`preflight fix` against the server, scoped to the SG rules (the bare VPC has network findings)."""
    scope = () if "--select" in args else ("--select", "SG")
    return run("fix", "--region", REGION, *scope, *args, env={"AWS_ENDPOINT_URL": server.url})


def test_sandbox_incident_apply_makes_only_the_safe_change_and_names_the_unsafe_flag():
    """--apply alone: the missing ports (safe) are opened; revoking the duplicate rules (unsafe) is
    skipped, said so with the flag that applies it, and those findings remain (exit 1)."""
    res = run_cli("fix", "--sandbox", "duplicate-port-rule", "--ports", PORTS, "--apply", "--format", "json")
    assert res.code == 1, res.stdout + res.stderr
    out = res.json()
    assert out["unsafe_fixes"] is False
    assert [(o["status"], o["change"]["fixer"], o["change"]["safe"]) for o in out["outcomes"]] == [
        ("applied", "sg-open-missing-ports", True), ("skipped", "sg-remove-duplicate-rules", False)]
    assert out["outcomes"][1]["error"] == "unsafe: add --unsafe-fixes to apply it"
    assert [f["rule"] for f in out["recheck"]["fixed"]] == ["SG010"]
    assert sorted(f["rule"] for f in out["recheck"]["remaining"]) == ["SG001", "SG002"]
    events = [json.loads(line)["event"] for line in Path(out["journal"]).read_text().splitlines()]
    assert events == ["run", "begin", "done"]  # the skipped change never reached the journal


def test_sandbox_incident_is_fixed_with_unsafe_fixes():
    res = run_cli("fix", "--sandbox", "duplicate-port-rule", "--ports", PORTS, "--apply", "--unsafe-fixes",
                  "--format", "json")
    assert res.code == 0, res.stdout + res.stderr
    out = res.json()
    assert out["schema"] == "preflight-fix/v1" and out["mode"] == "apply" and out["unsafe_fixes"] is True
    assert [o["status"] for o in out["outcomes"]] == ["applied", "applied"]
    assert sorted(f["rule"] for f in out["recheck"]["fixed"]) == ["SG001", "SG002", "SG010"]
    assert out["recheck"]["remaining"] == []
    journal = Path(out["journal"])
    assert journal.exists() and journal.parent.name == "journal"
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert events == ["run", "begin", "done", "begin", "done"]


def test_sandbox_check_reports_the_incident_and_dry_run_changes_nothing():
    res = run_cli("check", "--sandbox", "duplicate-port-rule", "--ports", PORTS, "--select", "SG", "--format", "json")
    assert res.code == 1
    rules = {f["rule"]: f for f in res.json()["findings"]}
    assert set(rules) == {"SG001", "SG002", "SG010"}
    assert "port(s) 8002, 8004 (tcp)" in rules["SG010"]["message"]
    dry = run_cli("fix", "--sandbox", "duplicate-port-rule", "--ports", PORTS)
    assert dry.code == 1
    assert "2 change(s) planned in eu-south-1 (dry run, nothing changed; add --apply to make them)" in dry.stdout
    assert "$ aws ec2 authorize-security-group-ingress --region eu-south-1 --group-id sg-" in dry.stdout
    assert "Permissions needed: ec2:AuthorizeSecurityGroupIngress" in dry.stdout


def test_moto_server_account_is_fixed_once_then_nothing_to_do(moto_server):
    gid = seed_incident(moto_server)
    before = rules_of(moto_server, gid)
    dry = fix_cli(moto_server, "--security-group", "ml-serving", "--ports", PORTS)
    assert dry.code == 1 and rules_of(moto_server, gid) == before  # dry run: nothing changed
    safe_only = fix_cli(moto_server, "--security-group", "ml-serving", "--ports", PORTS, "--apply")
    assert safe_only.code == 1, safe_only.stdout + safe_only.stderr
    assert "[skipped] revoke ingress rule(s) " in safe_only.stdout
    assert ("Skipped 1 unsafe change(s) of sg-remove-duplicate-rules (`preflight fixers` says why each is unsafe); "
            "add --unsafe-fixes to apply them.") in safe_only.stdout
    assert "remaining SG001" in safe_only.stdout and (False, "tcp", 8000, 8000, "10.0.0.0/16") in rules_of(
        moto_server, gid)  # the duplicate is still there
    first = fix_cli(moto_server, "--security-group", "ml-serving", "--ports", PORTS, "--apply", "--unsafe-fixes",
                    "--format", "json")
    assert first.code == 0, first.stdout + first.stderr
    assert rules_of(moto_server, gid) == [
        (False, "-1", -1, -1, "10.0.0.0/16"), (False, "tcp", 8000, 8000, "0.0.0.0/0"),
        (False, "tcp", 8002, 8002, "0.0.0.0/0"), (False, "tcp", 8004, 8004, "0.0.0.0/0"),
        (True, "-1", -1, -1, "0.0.0.0/0")]
    second = fix_cli(moto_server, "--security-group", "ml-serving", "--ports", PORTS, "--apply")
    assert second.code == 0 and "nothing to change." in second.stdout and "Journal:" not in second.stdout
    assert "Re-check: fixed none; remaining none" in second.stdout


def test_max_changes_refuses_and_changes_nothing(moto_server):
    gid = seed_incident(moto_server)
    before = rules_of(moto_server, gid)
    res = fix_cli(moto_server, "--security-group", gid, "--ports", PORTS, "--apply", "--unsafe-fixes",
                  "--max-changes", "1", run=run_in_process)
    assert res.code == 2
    assert res.stderr.strip() == ("preflight: error: the fix plan has 2 changes, more than --max-changes 1; "
                                  "nothing was changed (narrow it with --select, or raise --max-changes)")
    assert rules_of(moto_server, gid) == before
    only = fix_cli(moto_server, "--security-group", gid, "--ports", PORTS, "--apply", "--max-changes", "1",
                   "--select", "SG010", run=run_in_process)
    assert only.code == 0 and "fixed SG010" in only.stdout


def test_admin_port_needs_allow_world(moto_server):
    gid = seed_incident(moto_server)
    res = fix_cli(moto_server, "--security-group", gid, "--ports", "22", "--select", "SG010", "--apply")
    assert res.code == 1
    assert f"{gid}: not opening admin port(s) 22 (SSH) to 0.0.0.0/0" in res.stdout
    assert "remaining SG010" in res.stdout
    assert not any(r[2] == 22 for r in rules_of(moto_server, gid))
    ok = fix_cli(moto_server, "--security-group", gid, "--ports", "22", "--select", "SG010", "--apply",
                 "--allow-world")
    assert ok.code == 0 and (False, "tcp", 22, 22, "0.0.0.0/0") in rules_of(moto_server, gid)


@pytest.mark.parametrize("args, message", [
    (["--ports", "70000"], "--ports: port 70000 is out of range 1-65535"),
    (["--ports", "8004-8000"], "--ports: range '8004-8000' is reversed (write 8000-8004)"),
    (["--ports", "abc"], "--ports: 'abc' is not a port or a range like 8000-8010"),
    (["--ports", PORTS, "--source-cidr", "not-a-cidr"], "--source-cidr: 'not-a-cidr' is not a CIDR"),
    (["--ports", PORTS, "--security-group", "sg-0123456789abcdef0"],
     "security group 'sg-0123456789abcdef0' not found in eu-south-1"),
    (["--ports", PORTS, "--max-changes", "-1"], "--max-changes: must be 0 or more"),
    (["--fixer", "no-such-fixer"], "unknown fixer 'no-such-fixer'"),
    (["--select", "SG004"], "no selected rule has a fixer"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_changes(moto_server, args, message):
    gid = seed_incident(moto_server)
    before = rules_of(moto_server, gid)
    full = ["--security-group", gid, *args] if "--security-group" not in args else list(args)
    res = fix_cli(moto_server, *full, "--apply", run=run_in_process)
    assert res.code == 2, res.stdout + res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert rules_of(moto_server, gid) == before


def test_apply_on_a_snapshot_is_refused(tmp_path):
    from preflight.inventory import snapshot
    from preflight.inventory.model import Inventory

    snap = tmp_path / "s.json"
    snapshot.save(snap, [Inventory(region=REGION, account="123456789012")])
    res = run_in_process("fix", "--snapshot", str(snap), "--apply")
    assert res.code == 2 and "--apply needs a live account or --sandbox, not --snapshot" in res.stderr


def test_dry_run_of_every_fixer_leaves_the_whole_account_identical(moto_server, tmp_path):
    seed_incident(moto_server)  # its bare VPC also has network findings: network fixes get planned too

    def account() -> dict:
        out = tmp_path / "snap.json"
        res = run_cli("snapshot", "--out", str(out), "--region", REGION, env={"AWS_ENDPOINT_URL": moto_server.url})
        assert res.code == 0, res.stderr
        data = json.loads(out.read_text())
        for inv in data["inventories"]:
            inv.pop("collected_at", None)
        return data

    before = account()
    dry = fix_cli(moto_server, "--select", "SG,NET", "--security-group", "ml-serving", "--ports", PORTS,
                  "--format", "json")
    assert dry.code == 1, dry.stdout + dry.stderr
    out = dry.json()
    assert out["mode"] == "dry-run" and out["outcomes"] == [] and out["journal"] == ""
    assert {c["fixer"] for c in out["changes"]} >= {"sg-open-missing-ports", "sg-remove-duplicate-rules"}
    assert any(c["fixer"] not in ("sg-open-missing-ports", "sg-remove-duplicate-rules") for c in out["changes"])
    assert account() == before
