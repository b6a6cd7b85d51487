"""Journal safety: a crash after 2 of 4 calls leaves the journal exact, undo restores the start state
(compared by snapshot), re-running finishes without duplicates, --max-changes caps the blast radius."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.collect.sandbox import Seeder
from preflight.errors import PreflightError
from preflight.fix import Journal, apply_changes
from preflight.launch.faults import FaultInjector, InjectedCrash
from preflight.undo import apply_undo, plan_undo, render_undo
from tests.unit.netfix_support import REGION, account, apply, check, fails, plan_fixes, state

MUTATING = {"CreateRoute", "CreateRouteTable", "AssociateRouteTable", "CreateInternetGateway",
            "AttachInternetGateway", "ModifySubnetAttribute", "ReplaceRoute"}


def four_subnets(s: Seeder) -> None:
    """Four public subnets, each with its own route table lacking a default route: 4 create_route calls."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.7.0.0/16", "four-vpc")
    s.igw(vpc, "four-igw")
    for i in range(4):
        sub = s.subnet(vpc, f"10.7.{i}.0/24", name=f"four-{i}", public_ip=True)
        s.route_table(vpc, [sub], name=f"four-rt-{i}")


def chain(s: Seeder) -> None:
    """No gateway, and the public subnet shares the main table: create igw, attach, own table, route, associate."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.8.0.0/16", "chain-vpc")
    s.subnet(vpc, "10.8.1.0/24", name="chain-pub", public_ip=True)
    s.subnet(vpc, "10.8.2.0/24", name="chain-priv", public_ip=False)


def events(journal: Journal) -> list[tuple[str, int | None]]:
    return [(e["event"], e.get("seq")) for e in map(json.loads, journal.path.read_text().splitlines())]


def default_routes(session) -> list[str]:
    tables = session.client("ec2", REGION).describe_route_tables()["RouteTables"]
    return sorted(t["RouteTableId"] for t in tables for r in t["Routes"]
                  if r.get("DestinationCidrBlock") == "0.0.0.0/0")


def undo(session, journal: Journal):
    run = plan_undo(journal.path)
    return apply_undo(run, session)


def test_crash_after_two_of_four_then_undo_and_rerun(tmp_path: Path) -> None:
    with account(four_subnets) as (session, s):
        start = state(session)
        ids_before = default_routes(session)
        faults = FaultInjector(session.client("ec2", REGION)).crash_after(2, MUTATING)
        fplan = plan_fixes(session, ("NET002",))
        assert [c.call.operation for c in fplan.changes] == ["create_route"] * 4
        journal = Journal(directory=tmp_path, header={"source": "test"})
        with pytest.raises(InjectedCrash):
            apply_changes(fplan.changes, session, journal)
        faults.remove()
        # Exact: two changes done, the third begun (in doubt), the fourth never started.
        assert events(journal) == [("run", None), ("begin", 1), ("done", 1), ("begin", 2), ("done", 2), ("begin", 3)]
        lines = [json.loads(x) for x in journal.path.read_text().splitlines()]
        done_tables = [lines[i]["change"]["call"]["params"]["RouteTableId"] for i in (1, 3)]
        assert sorted(default_routes(session)) == sorted(ids_before + done_tables)

        # Undo restores the start state; the in-doubt call is tried and found never to have happened.
        run = undo(session, journal)
        assert [(st.seq, st.status, st.in_doubt) for st in run.steps] == [
            (3, "gone", True), (2, "undone", False), (1, "undone", False)]
        assert state(session) == start
        # Undo twice: nothing left to do.
        again = plan_undo(journal.path)
        assert again.steps == [] and again.already_undone == 3
        assert "nothing to undo (3 change(s) already undone)" in render_undo(again)


def test_rerun_after_crash_finishes_without_duplicates(tmp_path: Path) -> None:
    with account(four_subnets) as (session, s):
        start = state(session)
        faults = FaultInjector(session.client("ec2", REGION)).crash_after(2, MUTATING)
        with pytest.raises(InjectedCrash):
            apply(session, tmp_path / "1", ("NET002",))
        faults.remove()
        fplan, outcomes, journal2 = apply(session, tmp_path / "2", ("NET002",))
        assert [o.status for o in outcomes] == ["applied", "applied"]  # only what was left
        assert len(default_routes(session)) == len(set(default_routes(session))) == 4 + 1  # + the default VPC's
        assert fails(check(session, ("NET002",))) == []
        # A second --apply makes no change.
        fplan3, outcomes3, _ = apply(session, tmp_path / "3", ("NET002",))
        assert fplan3.changes == [] and outcomes3 == []
        # Undo both runs, newest first: back to the start.
        undo(session, journal2)
        [first] = list((tmp_path / "1").glob("*.jsonl"))
        apply_undo(plan_undo(first), session)
        assert state(session) == start


def test_crash_in_a_dependent_chain_rerun_reuses_what_was_created(tmp_path: Path) -> None:
    with account(chain) as (session, s):
        start = state(session)
        fplan = plan_fixes(session, ("NET002",))
        assert [c.call.operation for c in fplan.changes] == [
            "create_internet_gateway", "attach_internet_gateway", "create_route_table", "create_route",
            "associate_route_table"]
        faults = FaultInjector(session.client("ec2", REGION)).crash_after(3, MUTATING)
        with pytest.raises(InjectedCrash):
            apply(session, tmp_path / "1", ("NET002",))
        faults.remove()
        _, outcomes, journal2 = apply(session, tmp_path / "2", ("NET002",))
        # The gateway is attached now, so the new plan only finishes the table; the table the crashed
        # run created is found by its tag and reused.
        assert [(o.change.call.operation, o.status) for o in outcomes] == [
            ("create_route_table", "already"), ("create_route", "applied"), ("associate_route_table", "applied")]
        ec2 = session.client("ec2", REGION)
        vpc = s.ids["chain-vpc"]
        assert len(ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]) == 1
        assert len(ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]) == 2
        assert fails(check(session, ("NET002",))) == []
        undo(session, journal2)
        [first] = list((tmp_path / "1").glob("*.jsonl"))
        run = apply_undo(plan_undo(first), session)
        # in-doubt route (never made), the table, detach, delete the gateway
        assert [(st.call.operation, st.status) for st in run.steps] == [
            ("delete_route", "gone"), ("delete_route_table", "undone"), ("detach_internet_gateway", "undone"),
            ("delete_internet_gateway", "undone")]
        assert state(session) == start


def test_max_changes_refuses_the_whole_plan(tmp_path: Path) -> None:
    with account(four_subnets) as (session, _):
        start = state(session)
        with pytest.raises(PreflightError, match="the fix plan has 4 changes, more than --max-changes 3; nothing"):
            apply(session, tmp_path, ("NET002",), max_changes=3)
        assert state(session) == start
        _, outcomes, _ = apply(session, tmp_path, ("NET002",), max_changes=4)
        assert len(outcomes) == 4


def test_undo_refuses_a_finished_sandbox_journal_and_another_account(tmp_path: Path) -> None:
    from preflight.undo import check_target

    j = Journal(directory=tmp_path, header={"source": "sandbox:no-default-route", "account": "123456789012"})
    j._open()
    with pytest.raises(PreflightError, match="in-process sandbox"):
        check_target(plan_undo(j.path), object(), {"account": "123456789012"})
    k = Journal(directory=tmp_path, header={"source": "aws", "account": "111111111111"})
    k._open()
    with pytest.raises(PreflightError, match="written in account 111111111111, but these credentials are for 2222"):
        check_target(plan_undo(k.path), object(), {"account": "222222222222"})
    with pytest.raises(PreflightError, match="journal not found"):
        plan_undo(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event": "begin", "seq": 1}\n')
    with pytest.raises(PreflightError, match="not a preflight journal"):
        plan_undo(bad)


@pytest.mark.parametrize(("text", "message"), [
    (b"[]\n", "bad.jsonl:1: not a JSON object"),
    (b'"run"\n', "bad.jsonl:1: not a JSON object"),
    (b"\xff\xfe\x00\n", "not a preflight journal \\(not UTF-8 text\\)"),
    (b'{"event": "run"}\n{"event": "begin", "seq": 1, "change": "x"}\n', "change 1 is not a JSON object"),
    (b'{"event": "run"}\n{"event": "begin", "seq": 1, "change": {}}\n{"event": "done", "seq": 1, '
     b'"undo": {"service": "ec2"}}\n', "the undo of change 1 is not a service/operation/params call"),
    (b'{"event": "run"}\n{"event": "begin", "seq": 1, "change": {"undo": "delete it"}}\n',
     "the undo of change 1 is not a service/operation/params call"),
])
def test_a_damaged_journal_is_one_line_of_bad_input(tmp_path: Path, text: bytes, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(text)
    with pytest.raises(PreflightError, match=message):
        plan_undo(bad)


def test_a_directory_is_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="cannot read the journal"):
        plan_undo(tmp_path)


def test_undo_of_an_unknown_operation_or_bad_params_fails_that_step_in_one_line(tmp_path: Path) -> None:
    from botocore.exceptions import ParamValidationError

    class Client:
        def delete_route(self, **params):
            raise ParamValidationError(report="Missing required parameter in input: \"RouteTableId\"")

    class Session:
        def client(self, service, region):
            return Client()

    j = Journal(directory=tmp_path, header={"source": "aws"})
    j._open()
    for n, op in ((1, "delete_route"), (2, "no_such_operation"), (3, "__class__")):
        j._append({"event": "begin", "seq": n, "change": {"description": f"change {n}", "undo": {
            "service": "ec2", "operation": op, "params": {}, "region": REGION}}})
        j._append({"event": "done", "seq": n, "undo": None})
    run = apply_undo(plan_undo(j.path), Session())
    assert [(st.seq, st.status) for st in run.steps] == [(3, "failed"), (2, "not-attempted"), (1, "not-attempted")]
    assert run.steps[0].error == "ec2 has no operation '__class__' (the journal is damaged)"
    run = apply_undo(plan_undo(j.path), Session())  # same journal: seq 3 still failed, stops again
    assert run.exit_code() == 1
    k = Journal(directory=tmp_path, header={"source": "aws"})
    k._open()
    k._append({"event": "begin", "seq": 1, "change": {"undo": {"service": "ec2", "operation": "delete_route",
                                                                "params": {}, "region": REGION}}})
    k._append({"event": "done", "seq": 1, "undo": None})
    [step] = apply_undo(plan_undo(k.path), Session()).steps
    assert step.status == "failed" and "Missing required parameter" in step.error and "\n" not in step.error


def test_journal_says_when_it_is_written_and_reads_back_through_its_public_api(tmp_path: Path) -> None:
    """`written`/`entries()` are what the launch pipeline and `fix` read (never the private state):
    no file until the first change, then the run line and each event."""
    from preflight.fix import Call, Change

    journal = Journal(run_id="r1", directory=tmp_path / "j", header={"command": "preflight fix"})
    assert not journal.written and journal.entries() == [] and not journal.path.exists()
    call = Call("ec2", "create_route", {"RouteTableId": "rtb-1"}, REGION)
    seq = journal.begin(Change(fixer="x", resource="rtb-1", description="d", call=call, undo=None))
    journal.outcome(seq, "done", undo=Call("ec2", "delete_route", {"RouteTableId": "rtb-1"}, REGION))
    assert journal.written and journal.path.exists()
    assert [(e["event"], e.get("seq")) for e in journal.entries()] == [("run", None), ("begin", 1), ("done", 1)]
    assert journal.entries()[0]["command"] == "preflight fix"
