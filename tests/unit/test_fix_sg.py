"""The SG fixers against moto in process: exactly the missing ports, idempotent, stale-plan and
Duplicate handling, revoke by rule id only, admin-port refusal, and journalled undo data that works."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from moto import mock_aws

from preflight import engine, fix
from preflight.collect.aws import AwsSession, collect
from preflight.collect.sandbox import Seeder
from preflight.plan import plan_from_dict
from preflight.semantics import secgroups as sg

REGION = "eu-south-1"


class World:
    def __init__(self, session: AwsSession, seeder: Seeder, tmp_path: Any) -> None:
        self.session, self.seeder, self.ec2 = session, seeder, seeder.ec2
        self.journal_dir = tmp_path / "journal"

    def group(self, name: str, *perms: dict[str, Any]) -> str:
        vpc = self.seeder.ids.get("app-vpc") or self.seeder.public_vpc(name="app")["vpc"]
        return self.seeder.security_group(vpc, name, ingress=list(perms) or None)

    def rules(self, gid: str) -> list[dict[str, Any]]:
        return [r for r in self.ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"] if not r["IsEgress"]]

    def shape(self, gid: str) -> list[tuple]:
        return sorted((r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), r.get("CidrIpv4", ""))
                      for r in self.rules(gid))

    def plan(self, rules: tuple[str, ...], plan: dict[str, Any] | None = None, **options: Any) -> fix.FixPlan:
        inv = collect(self.session, REGION)
        p = plan_from_dict(plan) if plan else None
        found = engine.run([inv], engine.select_rules(engine.load_rules(), list(rules)), p).findings
        return fix.build_plan(found, [inv], p, options=options)

    def apply(self, changes: list[fix.Change]) -> tuple[list[fix.Outcome], fix.Journal]:
        journal = fix.Journal(directory=self.journal_dir)
        return fix.apply_changes(changes, self.session, journal), journal


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    with mock_aws():
        session = AwsSession(region=REGION)
        yield World(session, Seeder(session, REGION), tmp_path)


def tcp(port: int, *cidrs: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": c} for c in cidrs]}


INCIDENT = ({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}, tcp(8000, "0.0.0.0/0"))
PLAN = {"ports": [8000, 8001, 8002, 8004], "security_group": "ml-serving"}


def test_opens_exactly_the_missing_ports_in_one_call_and_is_idempotent(world):
    gid = world.group("ml-serving", *INCIDENT)
    fp = world.plan(("SG010",), PLAN)
    assert len(fp.changes) == 1
    c = fp.changes[0]
    perms = c.call.params["IpPermissions"]
    assert [(p["FromPort"], p["ToPort"]) for p in perms] == [(8001, 8002), (8004, 8004)]  # contiguous merged
    assert c.resource == gid and c.rules == ("SG010",) and c.before == {"open_plan_ports": [8000]}
    world.session.stats.calls.clear()
    outcomes, journal = world.apply(fp.changes)
    assert [o.status for o in outcomes] == ["applied"]
    assert world.session.stats.calls.get("ec2:AuthorizeSecurityGroupIngress") == 1
    assert ("tcp", 8000, 8000, "0.0.0.0/0") in world.shape(gid)
    assert sg.missing_ports(collect(world.session, REGION).security_groups, PLAN["ports"], "0.0.0.0/0") == []
    assert world.plan(("SG010", "SG001"), PLAN).changes == []  # second run: nothing to do, no duplicate
    assert [e["event"] for e in fix.read_journal(journal.path)] == ["run", "begin", "done"]


def test_a_stale_plan_is_narrowed_right_before_the_call(world):
    gid = world.group("ml-serving", *INCIDENT)
    fp = world.plan(("SG010",), PLAN)
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(8001, "0.0.0.0/0")])  # meanwhile
    outcomes, journal = world.apply(fp.changes)
    assert outcomes[0].status == "applied"
    begun = [e for e in fix.read_journal(journal.path) if e["event"] == "begin"]
    assert [(p["FromPort"], p["ToPort"]) for p in begun[0]["change"]["call"]["params"]["IpPermissions"]] == \
        [(8002, 8002), (8004, 8004)]
    assert sorted(p for _, p, _, c in world.shape(gid) if c == "0.0.0.0/0") == [8000, 8001, 8002, 8004]


def test_duplicate_from_aws_succeeds_only_when_the_ports_are_open(world):
    gid = world.group("ml-serving", *INCIDENT)
    incident = {**PLAN, "ports": [8000, 8002, 8004]}
    stale = replace(world.plan(("SG010",), incident).changes[0], guard=None)  # as if the guard lost the race
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(8002, "0.0.0.0/0")])
    outcomes, journal = world.apply([stale])
    # AWS rejected the whole call (8002 is a duplicate); the re-read narrowed it to 8004 and retried
    assert outcomes[0].status == "applied"
    lines = fix.read_journal(journal.path)
    assert [e["event"] for e in lines] == ["run", "begin", "retry", "begin", "done"]
    assert lines[2]["error"] == "InvalidPermission.Duplicate"
    assert [p["FromPort"] for p in lines[3]["change"]["call"]["params"]["IpPermissions"]] == [8004]
    everything = replace(world.plan(("SG010",), {**PLAN, "ports": [8000, 8005]}).changes[0], guard=None)
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(8005, "0.0.0.0/0")])
    outcomes, journal = world.apply([everything])
    assert outcomes[0].status == "already" and outcomes[0].error == "InvalidPermission.Duplicate"
    assert fix.read_journal(journal.path)[-1]["undo"] is None  # nothing of ours to undo
    ports = [p for _, p, _, c in world.shape(gid) if c == "0.0.0.0/0"]
    assert sorted(ports) == sorted(set(ports)) == [8000, 8002, 8004, 8005]


def test_admin_port_to_the_world_is_refused_without_allow_world(world):
    gid = world.group("web")
    plan = {"ports": [22, 8000], "security_group": "web"}
    fp = world.plan(("SG010",), plan)
    assert [(p["FromPort"]) for p in fp.changes[0].call.params["IpPermissions"]] == [8000]
    assert len(fp.refusals) == 1 and fp.refusals[0].resource == gid
    assert "not opening admin port(s) 22 (SSH) to 0.0.0.0/0" in fp.refusals[0].reason
    assert "--allow-world" in fp.refusals[0].reason
    allowed = world.plan(("SG010",), plan, allow_world=True)
    assert [p["FromPort"] for p in allowed.changes[0].call.params["IpPermissions"]] == [22, 8000]
    assert allowed.refusals == []
    narrow = world.plan(("SG010",), {**plan, "source_cidr": "203.0.113.7/32"})
    assert [p["FromPort"] for p in narrow.changes[0].call.params["IpPermissions"]] == [22, 8000]


def test_revokes_only_the_duplicate_cidr_of_a_three_cidr_permission(world):
    gid = world.group("shared", tcp(443, "10.1.0.0/16", "10.2.0.9/16", "10.3.0.0/16"))
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "10.2.0.0/16", "Description": "office VPN"}]}])
    dup_id = next(r["SecurityGroupRuleId"] for r in world.rules(gid) if r.get("CidrIpv4") == "10.2.0.9/16")
    fp = world.plan(("SG001", "SG002"))
    assert len(fp.changes) == 1
    c = fp.changes[0]
    assert c.call.operation == "revoke_security_group_ingress"
    assert c.call.params == {"GroupId": gid, "SecurityGroupRuleIds": [dup_id]}
    assert "IpPermissions" not in c.call.params  # never a whole permission entry
    outcomes, journal = world.apply(fp.changes)
    assert outcomes[0].status == "applied"
    assert world.shape(gid) == [("tcp", 443, 443, "10.1.0.0/16"), ("tcp", 443, 443, "10.2.0.0/16"),
                                ("tcp", 443, 443, "10.3.0.0/16")]
    perms = world.ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert sorted(x["CidrIp"] for p in perms for x in p["IpRanges"]) == ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]
    assert world.plan(("SG001", "SG002")).changes == []


def test_remove_guard_keeps_a_twin_whose_cover_disappeared(world):
    gid = world.group("g", {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}, tcp(8000, "10.0.0.0/16"))
    fp = world.plan(("SG002",))
    cover = next(r["SecurityGroupRuleId"] for r in world.rules(gid) if r["IpProtocol"] == "-1")
    world.ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[cover])  # someone removed the -1
    outcomes, _ = world.apply(fp.changes)
    assert outcomes[0].status == "already"
    assert world.shape(gid) == [("tcp", 8000, 8000, "10.0.0.0/16")]  # access kept


def test_journalled_undo_calls_restore_the_group(world):
    gid = world.group("ml-serving", *INCIDENT, tcp(8000, "10.0.0.0/16"))
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(8000, "10.0.5.9/16")])
    before = world.shape(gid)
    fp = world.plan(("SG001", "SG002", "SG010"), PLAN)
    assert {c.fixer for c in fp.changes} == {"sg-open-missing-ports", "sg-remove-duplicate-rules"}
    outcomes, journal = world.apply(fp.changes)
    assert {o.status for o in outcomes} == {"applied"}
    assert world.shape(gid) != before
    done = [e for e in fix.read_journal(journal.path) if e["event"] == "done"]
    for entry in reversed(done):  # what `preflight undo` will do
        undo = fix.Call.from_dict(entry["undo"])
        getattr(world.session.client(undo.service, undo.region), undo.operation)(**undo.params)
    assert world.shape(gid) == before


def test_revoke_of_a_rule_someone_already_removed_is_already_done(world):
    gid = world.group("g", tcp(443, "10.2.0.0/16"))
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(443, "10.2.0.9/16")])
    stale = replace(world.plan(("SG001",)).changes[0], guard=None)
    ids = stale.call.params["SecurityGroupRuleIds"]
    world.ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=ids)
    outcomes, journal = world.apply([stale])
    assert outcomes[0].status == "already" and outcomes[0].error == "InvalidPermission.NotFound"
    assert world.shape(gid) == [("tcp", 443, 443, "10.2.0.0/16")]


def test_egress_duplicates_are_revoked_with_the_egress_call(world):
    gid = world.group("out")
    world.ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[tcp(443, "10.9.0.7/16")])
    world.ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[tcp(443, "10.9.0.0/16")])
    fp = world.plan(("SG001",))
    assert [c.call.operation for c in fp.changes] == ["revoke_security_group_egress"]
    assert fp.changes[0].undo.operation == "authorize_security_group_egress"
    assert fp.changes[0].permissions == ("ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules")
    outcomes, _ = world.apply(fp.changes)
    assert outcomes[0].status == "applied"
    egress = sorted(r.get("CidrIpv4") for r in world.ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"] if r["IsEgress"])
    assert egress == ["0.0.0.0/0", "10.9.0.0/16"]


def test_fixing_only_duplicates_never_revokes_a_covered_rule_and_vice_versa(world):
    # 443 twice (SG001) and 8000 under an all-traffic rule for the same peer (SG002)
    gid = world.group("both", {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
                      tcp(8000, "10.0.0.0/16"), tcp(443, "10.2.0.0/16"))
    world.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(443, "10.2.0.9/16")])
    dup = next(r["SecurityGroupRuleId"] for r in world.rules(gid) if r.get("CidrIpv4") == "10.2.0.9/16")
    covered = next(r["SecurityGroupRuleId"] for r in world.rules(gid) if r.get("FromPort") == 8000)
    only_dup = world.plan(("SG001",))
    assert [c.call.params["SecurityGroupRuleIds"] for c in only_dup.changes] == [[dup]]
    assert only_dup.changes[0].rules == ("SG001",)
    only_covered = world.plan(("SG002",))
    assert [c.call.params["SecurityGroupRuleIds"] for c in only_covered.changes] == [[covered]]
    outcomes, _ = world.apply(only_dup.changes)
    assert [o.status for o in outcomes] == ["applied"]
    assert ("tcp", 8000, 8000, "10.0.0.0/16") in world.shape(gid)  # not asked for: kept
    assert world.plan(("SG001",)).changes == []
