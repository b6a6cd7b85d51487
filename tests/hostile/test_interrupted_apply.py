"""Interrupted write paths tell the truth (issue 16, items 16 and 17).

`fix --apply` and `launch --fix --apply` run as subprocesses against a moto server behind the
loopback fault proxy. The proxy holds one call in flight (so the signal lands while a change is
under way, the hardest case: that change is "in doubt") or makes the endpoint vanish. The command
must then print what it changed (count and list), what is in doubt, the journal path, the launch
id and the exact `preflight undo`/`preflight down` commands, and exit 1 — and those commands must
really take everything back. Interrupted before any change: the plain message and exit 130.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.collect.aws import AwsSession
from preflight.collect.sandbox import Seeder, get_scenario
from tests.conftest import preflight_exe, run_cli
from tests.hostile.faultproxy import FaultProxy, fault_proxy

REGION = "eu-south-1"
PLAN = str(Path(__file__).resolve().parents[2] / "examples" / "launch.yaml")

pytestmark = pytest.mark.e2e


def three_on_main(s: Seeder) -> None:
    """Three public subnets on a main table with no default route: 9 changes (table, route and
    association per subnet), so an interruption can land in the middle."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.7.0.0/16", "three-vpc")
    s.igw(vpc, "three-igw")
    for n in range(3):
        s.subnet(vpc, f"10.7.{n}.0/24", name=f"pub-{n}", public_ip=True)


@pytest.fixture
def proxy(moto_server) -> Iterator[FaultProxy]:
    with fault_proxy(moto_server.url) as p:
        yield p


def state(url: str) -> dict[str, object]:
    ec2 = AwsSession(region=REGION, endpoint_url=url).client("ec2", REGION)
    tables = ec2.describe_route_tables()["RouteTables"]
    return {
        "routes": sorted((t["RouteTableId"], r.get("DestinationCidrBlock", ""), r.get("GatewayId", ""))
                         for t in tables for r in t["Routes"]),
        "associations": sorted((a["RouteTableId"], a.get("SubnetId", "")) for t in tables
                               for a in t.get("Associations", [])),
        "running": sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                          if i["State"]["Name"] in ("pending", "running")),
        "groups": sorted(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]),
        "map_public": sorted((s["SubnetId"], s["MapPublicIpOnLaunch"]) for s in ec2.describe_subnets()["Subnets"]),
    }


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*preflight_exe(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env}, stdin=subprocess.DEVNULL)


FIX = ["fix", "--select", "NET002", "--apply", "--region", REGION]
LAUNCH = ["launch", PLAN, "--fix", "--apply", "--select", "NET,SG,PORT", "--retry-base", "0", "--retry-jitter", "0"]

# (case, scenario, command, fault: (kind, action, nth), expected exit, some change was made)
CASES = [
    ("fix-sigint-mid-apply", three_on_main, FIX, ("SIGINT", "CreateRoute", 2), 1, True),
    ("fix-sigterm-mid-apply", three_on_main, FIX, ("SIGTERM", "CreateRoute", 3), 1, True),
    ("fix-endpoint-lost-mid-apply", three_on_main, FIX, ("cut", "CreateRoute", 2), 1, True),
    ("fix-sigint-while-reading", three_on_main, FIX, ("SIGINT", "DescribeRouteTables", 1), 130, False),
    ("fix-sigint-at-the-second-change", three_on_main, FIX, ("SIGINT", "CreateRoute", 1), 1, True),
    ("launch-sigint-at-run", "no-default-route", LAUNCH, ("SIGINT", "RunInstances", 1), 1, True),
    ("launch-sigterm-at-tags", "no-default-route", LAUNCH, ("SIGTERM", "CreateTags", 1), 1, True),
    ("launch-endpoint-lost-at-group", "no-default-route", LAUNCH, ("cut", "CreateSecurityGroup", 1), 1, True),
]


@pytest.mark.parametrize(("case", "scenario", "args", "fault", "want", "changed"), CASES, ids=[c[0] for c in CASES])
def test_interrupted_apply_names_changes_journal_and_commands(case, scenario, args, fault, want, changed, proxy,
                                                             moto_server, moto_amis, tmp_path):
    seeder = Seeder(AwsSession(region=REGION, endpoint_url=moto_server.url), REGION)
    if callable(scenario):
        scenario(seeder)
    else:
        get_scenario(scenario).seed(seeder)
    before = state(moto_server.url)
    env = {"AWS_ENDPOINT_URL": proxy.url, "PREFLIGHT_STATE_DIR": str(tmp_path / "state"),
           "MOTO_EC2_LOAD_DEFAULT_AMIS": "true"}
    kind, action, nth = fault
    if kind == "cut":
        proxy.cut(action, nth)
        proc = start(args, env)
    else:
        rule = proxy.hold(action, nth)
        proc = start(args, env)
        assert rule.reached.wait(60), f"{action} #{nth} never came"
        time.sleep(0.2)  # the request is in flight: the client waits for its answer
        proc.send_signal(signal.SIGINT if kind == "SIGINT" else signal.SIGTERM)
        time.sleep(0.3)
        proxy.release()  # the held call now reaches the server: it did happen (in doubt for the client)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == want, (proc.returncode, out[-3000:], err[-3000:])
    if not changed:
        assert err.strip().endswith("preflight: interrupted") and "change(s)" not in err, err
        return
    cause = {"SIGINT": "interrupted (SIGINT)", "SIGTERM": "terminated (SIGTERM)", "cut": "cannot reach"}[kind]
    head = re.search(r"^preflight: (.*)\n(\d+) change\(s\) made(, (\d+) in doubt)? before it stopped:$", err, re.M)
    assert head and cause in head.group(1), err
    n_done = int(head.group(2))
    listed = [line for line in err.splitlines() if line.startswith("  changed: ")]
    assert len(listed) == n_done and (n_done >= 1 or nth == 1), err
    if kind != "cut" and action != "CreateTags":
        assert head.group(4) == "1", err  # the held call: journalled as begun, never answered
    journals = re.findall(r"^undo the fixes: preflight undo (\S+)$", err, re.M)
    assert journals and all(Path(j).is_file() for j in journals), err
    assert all(f"journal: {j}" in err for j in journals)
    assert all(j.startswith(str(tmp_path / "state")) for j in journals)
    launch_id = ""
    if args[0] == "launch":
        found = re.search(r"^launch id: (launch-\S+)$", err, re.M)
        assert found, err
        launch_id = found.group(1)
        assert f"take the launch down: preflight down {launch_id}" in err
    # The commands it printed take everything back (with the endpoint back: straight to the server).
    env = {**env, "AWS_ENDPOINT_URL": moto_server.url}
    if launch_id:
        down = run_cli("down", launch_id, "--endpoint-url", moto_server.url, env=env)
        assert down.code == 0, down.stdout + down.stderr
    for journal in journals:
        undo = run_cli("undo", journal, env=env)
        assert undo.code == 0, undo.stdout + undo.stderr
    after = state(moto_server.url)
    after["groups"] = [g for g in after["groups"] if g in before["groups"]] if launch_id else after["groups"]
    assert after == before


# Item 21: a sandbox launch must not suggest `preflight down`/`preflight undo`: its account ended
# with the command and `down` refuses a sandbox record. It says so instead.
SANDBOX_LAUNCHES = [
    ("launched", ["launch", PLAN, "--sandbox", "no-default-route", "--fix", "--apply"]),
    ("launched-json", ["launch", PLAN, "--sandbox", "no-default-route", "--fix", "--apply", "--format", "json"]),
    ("stopped-at-wait", ["launch", PLAN, "--sandbox", "no-default-route", "--fix", "--apply", "--wait-timeout", "0",
                         "--retry-attempts", "1"]),
]


@pytest.mark.parametrize(("case", "args"), SANDBOX_LAUNCHES, ids=[c[0] for c in SANDBOX_LAUNCHES])
def test_sandbox_launch_suggests_no_command_that_would_refuse(case, args, tmp_path, monkeypatch, moto_amis, capsys):
    from preflight.cli import main

    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(SystemExit) as info:
        main([*args, "--retry-base", "0", "--retry-jitter", "0"])
    out, err = capsys.readouterr()
    assert info.value.code in (0, 1), out + err
    assert "preflight down" not in out + err and "preflight undo" not in out + err, out + err
    assert "the sandbox account ends with this command" in out + err
