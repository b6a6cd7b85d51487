"""The launch pipeline in the in-process sandbox: dry run, fixes, eventual consistency and throttling
injected into the launch's own EC2 client, security-group reuse without duplicates, replica ports."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import pytest

from preflight.collect.sandbox import Seeder
from preflight.launch.faults import FaultInjector
from preflight.launch.pipeline import LaunchSettings, Pipeline
from preflight.launch.records import LaunchRecord, load_record
from preflight.launch.retry import RetryPolicy
from preflight.plan import plan_from_dict
from preflight.ports import PortAllocator, default_db_path
from preflight.runner import Target, open_target
from tests.fakes.clock import FakeTime
from tests.unit.netfix_support import REGION, state

AMI = "ami-04681a1dbd79675a5"
BASE = {"region": REGION, "instance_type": "t3.micro", "image": AMI, "count": 2, "ports": [8000, 8002, 8004],
        "security_group": "web-sg", "name": "web"}


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))


@contextlib.contextmanager
def pipeline(scenario: str, plan: dict[str, Any] | None = None, **settings: Any) -> Iterator[tuple[Pipeline, Any]]:
    p = plan_from_dict({**BASE, **(plan or {})}, "test-plan.yaml")
    t = FakeTime()
    retry = RetryPolicy(sleep=t.sleep, clock=t.clock, rng=random.Random(5), attempts=settings.pop("attempts", 6))
    with open_target(Target(sandbox=scenario), p) as source:
        # The compute rules' extra reads (instance types, quotas) are slow in moto and not about launch.
        pl = Pipeline(source, p, LaunchSettings(retry=retry, poll=1.0, select=["NET", "SG", "PORT"], **settings))
        pl.fake_time = t  # type: ignore[attr-defined]
        yield pl, source


def stages(result) -> list[tuple[str, str]]:
    return [(s.name, s.status) for s in result.stages]


def test_dry_run_prints_every_stage_and_changes_nothing() -> None:
    with pipeline("no-default-route", fix=True) as (pl, source):
        before = state(source.session)
        result = pl.run()
        assert result.ok and result.mode == "dry-run"
        assert stages(result) == [("check", "blocked"), ("fix", "planned"), ("subnet", "planned"),
                                  ("group", "planned"), ("run", "planned"), ("wait", "planned"),
                                  ("ports", "skipped"), ("verify", "planned"), ("record", "planned")]
        fix = result.stages[1]
        assert any("aws ec2 create-route --region eu-south-1" in line for line in fix.lines)
        assert "would create security group 'web-sg'" in result.stages[3].summary
        assert state(source.session) == before and result.record is None


def test_blocked_without_fix_changes_nothing() -> None:
    with pipeline("no-default-route", apply=True) as (pl, source):
        before = state(source.session)
        result = pl.run()
        assert not result.ok and result.exit_code() == 1
        assert stages(result) == [("check", "blocked"), ("fix", "blocked")]
        assert "NET001" in result.stages[0].lines[0] and "--fix" in result.stages[1].summary
        assert state(source.session) == before


def test_not_found_for_the_first_calls_then_launch_succeeds() -> None:
    with pipeline("healthy", {"replicas": {"count": 10, "port_range": "40050-40060", "service": "model"}},
                  apply=True) as (pl, source):
        faults = FaultInjector(pl.ec2()).error("DescribeInstances", "InvalidInstanceID.NotFound", times=3)
        result = pl.run()
        assert result.ok, result.stages[-1]
        wait = next(s for s in result.stages if s.name == "wait")
        assert wait.summary == "2 running after 3 retries"
        assert faults.injected("InvalidInstanceID.NotFound") == 3
        assert pl.fake_time.sleeps[:3] and 3 <= pl.fake_time.sleeps[0] <= 5
        record = load_record(result.launch_id)
        assert record.state == "ended"  # sandbox: closed at the end of the command
        hosts_ports = [(r.host, r.port) for r in record.replicas]
        assert len(hosts_ports) == 10 and len(set(hosts_ports)) == 10
        assert {h for h, _ in hosts_ports} == set(record.instances)
        ec2 = source.session.client("ec2", REGION)
        reservations = ec2.describe_instances(InstanceIds=record.instances)["Reservations"]
        tags = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                for r in reservations for i in r["Instances"]}
        assert all(t["preflight:launch-id"] == result.launch_id for t in tags.values())
        assert sorted(tags[record.instances[0]]["preflight:replica-ports"].split(",")) == [
            "40050", "40051", "40052", "40053", "40054"]


def test_not_found_forever_is_a_clear_error_naming_the_instances() -> None:
    with pipeline("healthy", apply=True, attempts=4) as (pl, _):
        FaultInjector(pl.ec2()).error("DescribeInstances", "InvalidInstanceID.NotFound")
        result = pl.run()
        assert not result.ok
        assert [s.name for s in result.stages][-2:] == ["wait", "sandbox"]
        wait = result.stages[-2]
        assert wait.status == "failed"
        ids = load_record(result.launch_id).instances
        assert len(ids) == 2
        assert wait.summary.startswith(f"waiting for instances to run: EC2 still answers InvalidInstanceID.NotFound "
                                       f"for {ids[0]}, {ids[1]} after 4 attempts")
        assert wait.lines[-1] == "nothing to take down: the sandbox account ends with this command"
        assert load_record(result.launch_id).state == "ended"


def test_throttling_past_botocores_retries_stops_the_launch_once() -> None:
    """The injector answers before botocore's retry handler, so this is what a launch sees once
    botocore's own retries are spent: RunInstances fails once (never retried again by preflight),
    and the run stage says so."""
    with pipeline("healthy", apply=True) as (pl, _):
        faults = FaultInjector(pl.ec2()).throttle(rate=1.0, operations={"RunInstances"})
        result = pl.run()
        assert not result.ok
        run = next(s for s in result.stages if s.name == "run")
        assert run.status == "failed" and "ThrottlingException" in run.summary
        assert faults.injected("ThrottlingException") == 1


def _users_group(s: Seeder) -> None:
    s.aws_like_default_vpc()
    ids = s.public_vpc(name="app")
    s.security_group(ids["vpc"], "web-sg", ingress=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ])


def test_reused_group_gets_exactly_the_missing_ports_and_is_never_deleted(monkeypatch) -> None:
    from preflight.collect import sandbox as sb

    sb.SCENARIOS["test-users-group"] = sb.Scenario("test-users-group", "users group", _users_group)
    try:
        with pipeline("test-users-group", apply=True) as (pl, source):
            result = pl.run()
            assert result.ok, [(s.name, s.summary, s.lines) for s in result.stages]
            group = next(s for s in result.stages if s.name == "group")
            assert "reused" in group.summary and "authorized tcp 8002, 8004 from 0.0.0.0/0" in group.summary
            assert "(already open: 8000)" in group.summary
            record = load_record(result.launch_id)
            assert record.security_group.created is False and record.security_group.undo
            ec2 = source.session.client("ec2", REGION)
            gid = record.security_group.id
            rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])[
                "SecurityGroupRules"]
            tcp = sorted(r["FromPort"] for r in rules if not r["IsEgress"] and r["IpProtocol"] == "tcp")
            assert tcp == [8000, 8002, 8004]  # 8000 was not added again
    finally:
        sb.SCENARIOS.pop("test-users-group", None)


def test_admin_port_to_the_world_is_refused_before_anything_is_created() -> None:
    with pipeline("healthy", {"ports": [22, 8000]}, apply=True) as (pl, source):
        before = state(source.session)
        result = pl.run()
        assert not result.ok
        assert result.stages[-1].name == "group" and "not opening admin port(s) 22 to 0.0.0.0/0" in \
            result.stages[-1].summary and result.record is None
        assert state(source.session) == before
        assert not default_db_path().exists() or PortAllocator(default_db_path()).list() == []


def test_down_terminates_revokes_added_rules_keeps_users_group_and_releases_ports() -> None:
    from preflight.collect import sandbox as sb
    from preflight.launch.down import down
    from preflight.launch.records import save_record

    sb.SCENARIOS["test-users-group"] = sb.Scenario("test-users-group", "users group", _users_group)
    plan = {"replicas": {"count": 4, "port_range": "40050-40060"}}
    try:
        with pipeline("test-users-group", plan, apply=True) as (pl, source):
            ec2 = source.session.client("ec2", REGION)
            result = pl.run()
            assert result.ok
            record = load_record(result.launch_id)
            gid = record.security_group.id

            def ingress() -> list[tuple[str, Any]]:
                rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])[
                    "SecurityGroupRules"]
                return sorted((r["IpProtocol"], r.get("FromPort")) for r in rules if not r["IsEgress"])

            assert ingress() == [("-1", -1), ("tcp", 8000), ("tcp", 8002), ("tcp", 8004)]
            # The sandbox closed the record at the end of the command; pretend it is a live account's.
            record.source, record.state = "aws", "running"
            save_record(record)
            ledger = PortAllocator(default_db_path())
            for r in record.replicas:
                ledger.reserve(r.host, r.port, result.launch_id, state="active")
            t = FakeTime()
            res = down(source.session, result.launch_id, retry=RetryPolicy(sleep=t.sleep, clock=t.clock), poll=1)
            assert res.ok, res.steps
            texts = [text for _, text in res.steps]
            assert f"terminated {', '.join(record.instances)}" in texts
            assert f"revoked the rules this launch added to {gid} (group kept: it is yours)" in texts
            assert "released 4 replica port(s)" in texts
            assert ingress() == [("-1", -1), ("tcp", 8000)]  # the user's rules, untouched
            assert ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]  # group kept
            assert ledger.list() == [] and load_record(result.launch_id).state == "down"
    finally:
        sb.SCENARIOS.pop("test-users-group", None)


def test_skypilot_task_dry_runs() -> None:
    from pathlib import Path

    from preflight.plan import load_plan

    plan = load_plan(Path(__file__).resolve().parents[2] / "examples" / "sky-task.yaml")
    assert (plan.instance_type, plan.image, plan.count, plan.ports) == (
        "t3.micro", AMI, 2, (8000, 8002, 8004))
    with open_target(Target(sandbox="healthy"), plan) as source:
        result = Pipeline(source, plan, LaunchSettings(select=["NET", "SG"])).run()
    assert result.ok and result.mode == "dry-run"
    group = next(s for s in result.stages if s.name == "group")
    assert group.summary.startswith(f"would create security group 'preflight-model-server-{result.launch_id}'")


def test_run_params_map_the_plan() -> None:
    from types import SimpleNamespace

    from preflight.inventory.model import Subnet

    source = SimpleNamespace(regions=[REGION], session=None, target=SimpleNamespace(sandbox=None), identity={})
    plan = plan_from_dict({**BASE, "public_ip": True, "key_name": "k", "instance_profile": "prof", "spot": True})
    pl = Pipeline(source, plan, LaunchSettings(), launch_id="launch-1")
    params = pl.run_params(Subnet(id="subnet-1", vpc_id="vpc-1"), "sg-1")
    assert params["NetworkInterfaces"] == [{"DeviceIndex": 0, "SubnetId": "subnet-1", "Groups": ["sg-1"],
                                            "AssociatePublicIpAddress": True}]
    assert "SubnetId" not in params and "SecurityGroupIds" not in params
    assert (params["KeyName"], params["IamInstanceProfile"], params["InstanceMarketOptions"]) == (
        "k", {"Name": "prof"}, {"MarketType": "spot"})
    assert (params["ClientToken"], params["MinCount"], params["MaxCount"]) == ("launch-1", 2, 2)
    private = Pipeline(source, plan_from_dict({**BASE, "public_ip": False,
                                               "instance_profile": "arn:aws:iam::1:instance-profile/p"}),
                       LaunchSettings(), launch_id="launch-2").run_params(Subnet(id="subnet-1"), "sg-1")
    assert (private["SubnetId"], private["SecurityGroupIds"]) == ("subnet-1", ["sg-1"])
    assert private["IamInstanceProfile"] == {"Arn": "arn:aws:iam::1:instance-profile/p"}


def test_plan_without_image_is_an_input_error() -> None:
    from types import SimpleNamespace

    from preflight.plan import PlanError

    source = SimpleNamespace(regions=[REGION], session=None, target=SimpleNamespace(sandbox=None), identity={})
    with pytest.raises(PlanError, match="image: required by preflight launch"):
        Pipeline(source, plan_from_dict({"region": REGION, "instance_type": "t3.micro"}), LaunchSettings())
    with pytest.raises(PlanError, match="needs a plan file"):
        Pipeline(source, None, LaunchSettings())  # type: ignore[arg-type]


def test_port_range_too_small_blocks_before_anything_is_created() -> None:
    plan = {"replicas": {"count": 10, "port_range": "40050-40053", "service": "model"}}
    with pipeline("healthy", plan, apply=True, fix=True) as (pl, source):
        before = state(source.session)
        result = pl.run()
        assert not result.ok and stages(result) == [("check", "blocked"), ("fix", "blocked")]
        assert result.stages[0].lines[0].startswith("PORT002 high test-plan.yaml:replicas: 10 replicas of model")
        assert "PORT002 test-plan.yaml:replicas: no fixer" in result.stages[1].lines
        assert state(source.session) == before


def test_problems_in_another_vpc_neither_block_nor_get_fixed() -> None:
    # detached-igw: a healthy (AWS-like) default VPC, and web-vpc whose gateway was detached
    # (NET002/NET003 high there). The launch goes to the default VPC and leaves web-vpc alone.
    with pipeline("detached-igw", {"security_group": ""}, apply=True, fix=True) as (pl, source):
        result = pl.run()
        assert result.ok, [(s.name, s.summary, s.lines) for s in result.stages]
        assert stages(result)[:2] == [("check", "ok"), ("fix", "skipped")]
        record = load_record(result.launch_id)
        ec2 = source.session.client("ec2", REGION)
        [vpc] = ec2.describe_subnets(SubnetIds=[record.subnet])["Subnets"]
        assert vpc["VpcId"] != pl.source.seeder.ids["web-vpc"]
        [igw] = ec2.describe_internet_gateways(InternetGatewayIds=[pl.source.seeder.ids["web-igw"]])[
            "InternetGateways"]
        assert igw.get("Attachments") in ([], None)  # untouched
        assert record.security_group.created and record.security_group.name.startswith("preflight-web-")


def test_an_unexpected_aws_answer_is_one_failed_stage_not_a_traceback() -> None:
    with pipeline("healthy", apply=True) as (pl, _):
        FaultInjector(pl.ec2()).error("DescribeInstances", "UnauthorizedOperation", status=403)
        result = pl.run()
        assert not result.ok and result.stages[-2].name == "error"
        assert result.stages[-2].summary.startswith("AWS answered UnauthorizedOperation after the run stage")
        assert result.stages[-2].summary.endswith("; nothing to take down: the sandbox account ends with this command")


def test_a_damaged_launch_record_is_one_line_of_bad_input(tmp_path) -> None:
    from preflight.errors import PreflightError

    launches = tmp_path / "state" / "launches"
    launches.mkdir(parents=True)
    (launches / "launch-list.json").write_text("[]\n")
    (launches / "launch-empty.json").write_text("{}\n")
    (launches / "launch-bytes.json").write_bytes(b"\xff\xfe\n")
    (launches / "launch-ok.json").write_text('{"launch_id": "launch-ok", "region": "us-east-1"}\n')
    for name in ("launch-list", "launch-empty"):
        with pytest.raises(PreflightError, match=f"{name}.json: not a launch record"):
            load_record(name)
    with pytest.raises(PreflightError, match="cannot read the launch record .*launch-bytes.json"):
        load_record("launch-bytes")
    # an unknown id lists the readable records only, never tripping over the damaged ones
    with pytest.raises(PreflightError, match=r"no launch 'launch-nosuch' in .* \(recent: launch-ok\)"):
        load_record("launch-nosuch")


def test_max_changes_caps_every_fix_round_together(monkeypatch) -> None:
    from preflight.fix import Outcome
    from preflight.launch import pipeline as pipeline_module

    rounds: list[int] = []

    def fake_apply(changes, session, journal, *, max_changes=None):  # applies nothing: the blockers stay
        rounds.append(max_changes)
        return [Outcome(c, "applied") for c in changes]

    monkeypatch.setattr(pipeline_module, "apply_changes", fake_apply)
    with pipeline("no-default-route", apply=True, fix=True, max_changes=3) as (pl, _):
        result = pl.run()
    assert not result.ok and stages(result) == [("check", "blocked"), ("fix", "blocked")]
    assert rounds == [3]  # round 2 would make 2 more: 4 in all, more than 3
    assert result.stages[1].summary.startswith("2 more change(s) needed after 2 applied, beyond --max-changes 3")


def test_down_keeps_the_group_it_created_while_another_running_launch_uses_it() -> None:
    from preflight.launch.down import down
    from preflight.launch.records import save_record

    with pipeline("healthy", apply=True) as (pl, source):
        result = pl.run()
        assert result.ok, [(s.name, s.summary) for s in result.stages]
        record = load_record(result.launch_id)
        gid = record.security_group.id
        assert record.security_group.created is True
        record.source, record.state = "aws", "running"
        save_record(record)
        save_record(LaunchRecord.from_dict({"launch_id": "launch-later", "region": REGION, "state": "running",
                                            "source": "aws", "instances": [],
                                            "security_group": {"id": gid, "created": False, "undo": []}}))
        t = FakeTime()
        res = down(source.session, result.launch_id, retry=RetryPolicy(sleep=t.sleep, clock=t.clock), poll=1)
        assert res.ok, res.steps
        assert ("skipped", f"security group {gid} (created by this launch) is kept, since launch-later still "
                           f"use(s) it; once they are down: `aws ec2 delete-security-group --region {REGION} "
                           f"--group-id {gid}`") in res.steps
        ec2 = source.session.client("ec2", REGION)
        assert ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]  # kept


def test_down_throttled_to_the_end_while_revoking_is_a_failed_step_and_the_record_is_kept() -> None:
    import botocore.exceptions

    from preflight.launch.down import down
    from preflight.launch.records import save_record

    class Ec2:
        def describe_instances(self, **kw):
            return {"Reservations": []}

        def revoke_security_group_ingress(self, **kw):
            raise botocore.exceptions.ClientError({"Error": {"Code": "RequestLimitExceeded"}}, "Revoke")

    class Session:
        def client(self, service, region):
            return Ec2()

    undo = [{"operation": "revoke_security_group_ingress", "params": {"GroupId": "sg-1"}}]
    save_record(LaunchRecord.from_dict({"launch_id": "launch-slow", "region": REGION, "state": "running",
                                        "source": "aws", "instances": [],
                                        "security_group": {"id": "sg-1", "created": False, "undo": undo}}))
    t = FakeTime()
    res = down(Session(), "launch-slow", retry=RetryPolicy(attempts=2, sleep=t.sleep, clock=t.clock))
    assert not res.ok and res.exit_code() == 1
    [failed] = [text for status, text in res.steps if status == "failed"]
    assert failed == "cannot revoke the launch's rules on sg-1: RequestLimitExceeded"
    assert ("ok", "released 0 replica port(s)") in res.steps
    assert load_record("launch-slow").state == "down-failed"


def test_launch_and_down_on_a_dynamodb_ledger_release_in_the_recorded_ledger() -> None:
    from preflight.launch.down import down
    from preflight.launch.records import save_record
    from preflight.ports import open_ledger, parse_ledger_url

    url = "dynamodb://team-ports?region=eu-south-1"
    plan = {"replicas": {"count": 3, "port_range": "40050-40060"}}
    with pipeline("healthy", plan, apply=True, ledger=url) as (pl, source):
        result = pl.run()
        assert result.ok, [(s.name, s.summary) for s in result.stages]
        ports = next(s for s in result.stages if s.name == "ports")
        assert ports.lines[-1] == f"ledger: {url}"
        record = load_record(result.launch_id)
        assert record.ledger == url
        # The sandbox released them at its end; pretend it is a live account's launch.
        ledger = open_ledger(parse_ledger_url(url), source.session)
        for r in record.replicas:
            assert ledger.reserve(r.host, r.port, result.launch_id, state="active")
        record.source, record.state = "aws", "running"
        save_record(record)
        t = FakeTime()
        res = down(source.session, result.launch_id, retry=RetryPolicy(sleep=t.sleep, clock=t.clock), poll=1)
        assert "released 3 replica port(s)" in [text for _, text in res.steps], res.steps
        assert ledger.list() == []


def test_a_dry_run_is_the_plan_steps_alone(monkeypatch) -> None:
    """Every stage has a plan step and an apply step; a dry run never enters an apply step (and a
    real run applies what the plan steps planned)."""
    entered: list[str] = []
    for name in ("apply_fix", "apply_group", "apply_run", "apply_wait", "apply_ports", "apply_verify",
                 "apply_record"):
        real = getattr(Pipeline, name)

        def spy(self, detail, _name=name, _real=real):
            entered.append(_name)
            return _real(self, detail)

        monkeypatch.setattr(Pipeline, name, spy)
    plan = {"replicas": {"count": 2, "port_range": "40050-40060"}}
    with pipeline("no-default-route", plan, fix=True) as (pl, source):
        before = state(source.session)
        result = pl.run()
        assert result.ok and entered == [] and state(source.session) == before
        assert stages(result)[1:] == [("fix", "planned"), ("subnet", "planned"), ("group", "planned"),
                                      ("run", "planned"), ("wait", "planned"), ("ports", "planned"),
                                      ("verify", "planned"), ("record", "planned")]
    with pipeline("no-default-route", plan, fix=True, apply=True) as (pl, _):
        result = pl.run()
        assert result.ok, [(s.name, s.summary, s.lines) for s in result.stages]
        assert entered == ["apply_fix", "apply_group", "apply_run", "apply_wait", "apply_ports", "apply_verify",
                           "apply_record"]


V1_KEYS = {"schema", "launch_id", "state", "created_at", "region", "account", "source", "endpoint_url", "plan",
           "name", "vpc", "subnet", "security_group", "instances", "replicas", "fix_journal", "journal"}


def test_launch_record_json_keeps_the_v1_keys_and_reads_records_written_before_the_dataclass(tmp_path) -> None:
    import json

    from preflight.launch.records import GroupRecord, ReplicaRecord, record_path, save_record

    with pipeline("healthy", {"replicas": {"count": 2, "port_range": "40050-40060"}}, apply=True) as (pl, _):
        result = pl.run()
    assert result.ok
    on_disk = json.loads(record_path(result.launch_id).read_text())
    assert set(on_disk) == V1_KEYS | {"updated_at", "ledger", "ended_reason"}
    assert on_disk["schema"] == "preflight-launch-record/v1" and on_disk["security_group"]["created"] is True
    assert set(on_disk["replicas"][0]) == {"replica", "service", "host", "port"}
    assert LaunchRecord.from_dict(on_disk).to_dict() == on_disk  # round trip, key for key
    assert result.to_dict()["record"] == on_disk

    # A record as an older preflight wrote it (no schema, no replicas/journal keys) plus a key a newer
    # one added: it loads with defaults, and saving it keeps the unknown key.
    old = {"launch_id": "launch-old", "region": REGION, "state": "running", "source": "aws",
           "instances": ["i-1"], "security_group": {"id": "sg-1", "created": True}, "future": {"x": 1}}
    path = record_path("launch-old")
    path.write_text(json.dumps(old))
    rec = load_record("launch-old")
    assert (rec.instances, rec.security_group, rec.replicas, rec.fix_journal) == (
        ["i-1"], GroupRecord(id="sg-1", created=True), [], "")
    save_record(rec)
    assert json.loads(path.read_text())["future"] == {"x": 1}
    assert ReplicaRecord.from_dict({"replica": 0, "host": "i-1", "port": 40050}).port == 40050


@pytest.mark.parametrize("bad, why", [
    ({"security_group": "sg-1"}, "security_group: not an object"),
    ({"instances": "i-1"}, "instances: not a list"),
    ({"instances": [1]}, "instances: not a list of instance ids"),
    ({"state": "exploded"}, "state: 'exploded' is not one of launching, running"),
    ({"replicas": [{"host": "i-1", "port": "80"}]}, "replicas: each needs a host and an integer port"),
    ({"security_group": {"id": "sg-1", "undo": ["rm -rf"]}}, "security_group.undo: not a list of calls"),
    ({"schema": "preflight-launch-record/v9"}, "schema 'preflight-launch-record/v9' is not"),
    ({"fix_journal": 7}, "fix_journal: not a string"),
])
def test_a_launch_record_of_the_wrong_shape_is_one_line_of_bad_input(bad, why) -> None:
    import json

    from preflight.errors import PreflightError
    from preflight.launch.records import list_records, record_path

    path = record_path("launch-bad")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"launch_id": "launch-bad", "region": REGION, **bad}))
    with pytest.raises(PreflightError, match=f"cannot read the launch record .*launch-bad.json: {why}"):
        load_record("launch-bad")
    assert list_records() == []  # skipped by the listing, never a crash
