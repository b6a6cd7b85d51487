"""Two sg-open-missing-ports fixers racing on one group, through a moto server on 127.0.0.1.

Both planned from the same read (8002 and 8004 missing). A barrier after each guard's re-read makes
both send AuthorizeSecurityGroupIngress at once, so one of them gets InvalidPermission.Duplicate:
it must re-read, see every port open, and succeed. The group must end with one rule per port.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from preflight import engine, fix
from preflight.collect.aws import AwsSession, collect
from preflight.plan import plan_from_dict

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
