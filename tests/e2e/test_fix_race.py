"""Fixers racing on one account, through a moto server on 127.0.0.1.

Two sg-open-missing-ports fixers on one group: both planned from the same read (8002 and 8004
missing). A barrier after each guard's re-read makes both send AuthorizeSecurityGroupIngress at
once, so one of them gets InvalidPermission.Duplicate: it must re-read, see every port open, and
succeed. The group must end with one rule per port.

Three `preflight fix --apply` processes at once (issue 16 item 7): public subnets on a main table
with no default route. Each run gives every subnet a route table of its own; they must all exit 0,
none may print FAILED, and the account must end with exactly one table per `preflight:fix` tag.
(tests/unit/test_fix_concurrency.py forces each interleaving in process.)
"""

from __future__ import annotations

import collections
import os
import subprocess
import threading
from dataclasses import replace
from typing import Any

import pytest

from preflight import engine, fix
from preflight.collect.aws import AwsSession, collect
from preflight.collect.sandbox import Seeder
from preflight.plan import plan_from_dict
from preflight.semantics import remedies as rm
from tests.conftest import preflight_exe, run_cli

REGION = "eu-south-1"
PLAN = plan_from_dict({"ports": [8000, 8002, 8004], "security_group": "ml-serving"})

pytestmark = pytest.mark.e2e


def seed(server) -> str:
    ec2 = server.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="ml-serving", Description="reused", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return gid


def planned_change(session: AwsSession, barrier: threading.Barrier) -> fix.Change:
    inv = collect(session, REGION)
    found = engine.run([inv], engine.select_rules(engine.load_rules(), ["SG010"]), PLAN).findings
    change = fix.build_plan(found, [inv], PLAN).changes[0]
    original_guard = change.guard
    assert original_guard is not None

    def guard_then_wait(actx: Any, c: fix.Change) -> fix.Change | None:
        result = original_guard(actx, c)
        barrier.wait(timeout=30)  # both have re-read and still see 8002/8004 missing
        return result

    return replace(change, guard=guard_then_wait)


@pytest.mark.parametrize("round_", range(3))
def test_two_racing_fixers_both_succeed_with_no_duplicate_rule(moto_server, tmp_path, round_):
    gid = seed(moto_server)
    barrier = threading.Barrier(2)
    sessions = [AwsSession(region=REGION, endpoint_url=moto_server.url) for _ in range(2)]
    changes = [planned_change(s, barrier) for s in sessions]
    results: list[list[fix.Outcome]] = [[], []]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            journal = fix.Journal(directory=tmp_path / f"journal-{i}")
            results[i] = fix.apply_changes([changes[i]], sessions[i], journal)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    statuses = sorted(r[0].status for r in results)
    assert statuses == ["already", "applied"], [(r[0].status, r[0].error) for r in results]
    loser = next(r[0] for r in results if r[0].status == "already")
    assert loser.error == "InvalidPermission.Duplicate"

    rules = moto_server.client("ec2", REGION).describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    world = sorted((r["FromPort"], r["ToPort"]) for r in rules
                   if not r["IsEgress"] and r.get("CidrIpv4") == "0.0.0.0/0")
    assert world == [(8000, 8000), (8002, 8002), (8004, 8004)]  # every port open, exactly once


def seed_three_on_main(server) -> tuple[str, str, list[str]]:
    """Three public subnets and a private one on a main table with no default route (the issue's shape)."""
    s = Seeder(server, REGION)
    s.aws_like_default_vpc()
    vpc = s.vpc("10.7.0.0/16", "three-vpc")
    igw = s.igw(vpc, "three-igw")
    publics = [s.subnet(vpc, f"10.7.{n}.0/24", name=f"pub-{n}", public_ip=True) for n in range(3)]
    s.subnet(vpc, "10.7.9.0/24", name="priv", public_ip=False)  # shares the main table: stays private
    return vpc, igw, publics


@pytest.mark.parametrize("round_", range(2))
def test_three_concurrent_fix_apply_processes_end_clean(moto_server, tmp_path, round_):
    vpc, igw, publics = seed_three_on_main(moto_server)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server.url}
    argv = [*preflight_exe(), "fix", "--region", REGION, "--select", "NET002", "--apply"]
    procs = [subprocess.Popen(argv, env={**env, "PREFLIGHT_STATE_DIR": str(tmp_path / f"state-{n}")},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
             for n in range(3)]
    results = [(p.communicate(timeout=180), p.returncode) for p in procs]
    for (out, err), code in results:
        assert code == 0, out + err
        assert "FAILED" not in out and "Re-check: fixed" in out and "remaining none" in out, out

    tables = moto_server.client("ec2", REGION).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    tags = collections.Counter(t["Value"] for tb in tables for t in tb.get("Tags") or [] if t["Key"] == rm.TAG)
    assert tags == {rm.rtb_tag(s): 1 for s in publics}  # exactly one table per tag: nothing leaked
    assert len(tables) == 4  # the main table and those three
    for subnet in publics:
        [table] = [tb for tb in tables if any(t["Value"] == rm.rtb_tag(subnet) for t in tb.get("Tags") or [])]
        assert [a.get("SubnetId") for a in table["Associations"]] == [subnet]
        assert {r.get("DestinationCidrBlock"): r.get("GatewayId") for r in table["Routes"]} == {
            "10.7.0.0/16": "local", "0.0.0.0/0": igw}
    [main] = [tb for tb in tables if any(a.get("Main") for a in tb["Associations"])]
    assert [r.get("DestinationCidrBlock") for r in main["Routes"]] == ["10.7.0.0/16"]  # private stays private

    again = run_cli("check", "--region", REGION, "--select", "NET002", "--format", "json",
                    env={"AWS_ENDPOINT_URL": moto_server.url})
    assert again.code == 0, again.stdout + again.stderr
    assert [f for f in again.json()["findings"] if f["status"] == "FAIL"] == []
