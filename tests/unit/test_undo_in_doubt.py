"""`undo` after a crash whose lost answer held the new id (issue 16): an in-doubt create_route_table or
create_internet_gateway is found when undo runs (by its `preflight:fix` tag) and reversed; not found
means it never happened; found but in use since (a later run adopted it) is left alone and said so.
An in-doubt associate_route_table is found by its subnet and table, and never taken back: it cannot
be told from a concurrent run's (tests/unit/test_fix_concurrency.py); the step says how to finish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflight.collect.sandbox import Seeder, get_scenario
from preflight.fix import Journal, apply_changes
from preflight.launch.faults import FaultInjector, InjectedCrash
from preflight.semantics import remedies as rm
from preflight.undo import apply_undo, plan_undo, render_undo
from tests.unit.netfix_support import REGION, account, apply, check, fails, plan_fixes, state


def chain(s: Seeder) -> None:
    """No gateway, and the public subnet shares the main table: create igw, attach, own table, route, associate."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.8.0.0/16", "chain-vpc")
    s.subnet(vpc, "10.8.1.0/24", name="chain-pub", public_ip=True)
    s.subnet(vpc, "10.8.2.0/24", name="chain-priv", public_ip=False)


def crash_after_answer(session: Any, operation: str) -> None:
    """The call reaches AWS and is made; the process dies before it reads the answer."""
    def die(**_: Any) -> None:
        raise InjectedCrash(f"died waiting for the answer to {operation}")
    session.client("ec2", REGION).meta.events.register(f"after-call.ec2.{operation}", die)


def crashed_run(session: Any, tmp_path: Path) -> Journal:
    fplan = plan_fixes(session, ("NET002",))
    assert [c.call.operation for c in fplan.changes] == [
        "create_internet_gateway", "attach_internet_gateway", "create_route_table", "create_route",
        "associate_route_table"]
    journal = Journal(directory=tmp_path / "crashed", header={"source": "test"})
    with pytest.raises(InjectedCrash):
        apply_changes(fplan.changes, session, journal)
    return journal


@pytest.mark.parametrize(("operation", "seq", "found_by"), [
    ("CreateInternetGateway", 1, "the internet gateway tagged preflight:fix=igw-for:{vpc}, then aws ec2 "
                                 "delete-internet-gateway"),
    ("CreateRouteTable", 3, "the route table tagged preflight:fix=rtb-for:{subnet}, then aws ec2 delete-route-table"),
])
def test_an_in_doubt_creation_is_found_and_reversed(tmp_path: Path, operation: str, seq: int, found_by: str) -> None:
    with account(chain) as (session, s):
        start = state(session)
        crash_after_answer(session, operation)
        journal = crashed_run(session, tmp_path)
        from preflight.collect import aws

        other = aws.AwsSession(region=REGION)  # a new process: the crashed one's hooks are gone
        run = plan_undo(journal.path)
        [doubt] = [st for st in run.steps if st.in_doubt]
        assert (doubt.seq, doubt.call, doubt.status) == (seq, None, "planned")
        words = found_by.format(vpc=s.ids["chain-vpc"], subnet=s.ids["chain-pub"])
        assert f"$ (found when undo runs: {words}" in render_undo(run)
        assert run.exit_code() == 1  # a dry run with something to undo
        apply_undo(run, other)
        assert [(st.seq, st.status) for st in run.steps] == [(n, "undone") for n in range(seq, 0, -1)]
        assert run.exit_code() == 0
        assert state(other) == start
        again = plan_undo(journal.path)
        assert again.steps == [] and again.already_undone == seq


def test_an_in_doubt_creation_that_never_happened_is_gone(tmp_path: Path) -> None:
    """Near miss: the process died before the call left (the journal cannot tell the difference)."""
    with account(chain) as (session, _):
        start = state(session)
        faults = FaultInjector(session.client("ec2", REGION)).crash_after(2, {"CreateRouteTable", "CreateRoute",
                                                                              "CreateInternetGateway",
                                                                              "AttachInternetGateway"})
        journal = crashed_run(session, tmp_path)
        faults.remove()
        run = apply_undo(plan_undo(journal.path), session)
        assert [(st.seq, st.status, st.error) for st in run.steps] == [
            (3, "gone", "not found: the call never happened, or what it made was taken back since"),
            (2, "undone", ""), (1, "undone", "")]
        assert run.exit_code() == 0 and state(session) == start


def test_a_lone_crashed_runs_in_doubt_association_is_left_with_the_commands_that_finish(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run was alone, and its association was made before it died: undo cannot prove that (a
    concurrent run's association of the same subnet with the same table looks the same), so it
    leaves the association and the chain under it alone, exit 1, and names the two commands that
    finish, with the profile undo ran with; after them, nothing is left of the run."""
    config = tmp_path / "aws-config"
    config.write_text("[profile ci]\nregion = eu-south-1\naws_access_key_id = testing\n"
                      "aws_secret_access_key = testing\n")  # moto's own fake keys
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with account(chain) as (session, s):
        start = state(session)
        crash_after_answer(session, "AssociateRouteTable")
        journal = crashed_run(session, tmp_path)
        from preflight.collect import aws

        other = aws.AwsSession(profile="ci", region=REGION)  # a new process: the crashed one's hooks are gone
        subnet = s.ids["chain-pub"]
        run = plan_undo(journal.path)
        assert (f"5. undo: associate $RTB with {subnet} only (in doubt: the run stopped during this call)\n"
                f"   $ (found when undo runs: the association of {subnet} with rtb-") in render_undo(run)
        assert "if there, left alone and said so: an in-doubt association cannot be told from a concurrent " \
               "run's)" in render_undo(run)
        apply_undo(run, other)
        assert [(st.seq, st.status) for st in run.steps] == [(5, "not-undoable")] + [
            (n, "not-attempted") for n in range(4, 0, -1)]
        assert run.exit_code() == 1
        [(table, assoc)] = [(t["RouteTableId"], a["RouteTableAssociationId"])
                            for t in other.client("ec2", REGION).describe_route_tables()["RouteTables"]
                            for a in t["Associations"] if a.get("SubnetId") == subnet]
        by_hand = f"aws ec2 disassociate-route-table --region {REGION} --association-id {assoc} --profile ci"
        assert run.steps[0].error.endswith(
            f"If no other preflight run was fixing {subnet} then, take it back and undo again: "
            f"{by_hand} && preflight undo {journal.path} --profile ci")
        assert f"in doubt: {subnet} is associated with {table} ({assoc})" in render_undo(run)
        assert fails(check(other, ("NET002",))) == []  # nothing was taken back
        other.client("ec2", REGION).disassociate_route_table(AssociationId=assoc)  # the first command
        again = apply_undo(plan_undo(journal.path), other)
        assert [(st.seq, st.status) for st in again.steps] == [(5, "gone")] + [(n, "undone") for n in range(4, 0, -1)]
        assert again.exit_code() == 0 and state(other) == start


def test_a_lone_crashed_runs_in_doubt_gateway_attachment_is_left_with_the_commands_that_finish(
        tmp_path: Path) -> None:
    """The same for the gateway's attachment (the gateway chain's commit point): left alone while
    the gateway is attached, with the two commands; after them, nothing is left of the run."""
    with account(chain) as (session, s):
        start = state(session)
        crash_after_answer(session, "AttachInternetGateway")
        journal = crashed_run(session, tmp_path)
        from preflight.collect import aws

        other = aws.AwsSession(region=REGION)
        run = plan_undo(journal.path)
        assert ("(in doubt: the run stopped during this call; if the gateway is attached, left alone and said so: "
                "an in-doubt attachment cannot be told from a concurrent run's)") in render_undo(run)
        apply_undo(run, other)
        assert [(st.seq, st.in_doubt, st.status) for st in run.steps] == [
            (2, True, "not-undoable"), (1, False, "not-attempted")]
        assert run.exit_code() == 1
        vpc = s.ids["chain-vpc"]
        [igw] = [g["InternetGatewayId"] for g in other.client("ec2", REGION).describe_internet_gateways(
            Filters=[{"Name": f"tag:{rm.TAG}", "Values": [rm.igw_tag(vpc)]}])["InternetGateways"]]
        assert run.steps[0].error == (
            f"in doubt: {igw} is attached to {vpc}, but this run never got the answer to its call, so it cannot "
            f"tell whether it made that attachment or a concurrent run that adopted {igw} did (taking another "
            "run's attachment back would undo its fix); left alone with the steps before it. If no other "
            f"preflight run was fixing {vpc} then, take it back and undo again: aws ec2 detach-internet-gateway "
            f"--region {REGION} --internet-gateway-id {igw} --vpc-id {vpc} && preflight undo {journal.path}")
        other.client("ec2", REGION).detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)  # the first command
        again = apply_undo(plan_undo(journal.path), other)
        assert [(st.seq, st.status) for st in again.steps] == [(2, "gone"), (1, "undone")]
        assert again.exit_code() == 0 and state(other) == start


@pytest.mark.parametrize(("operation", "expected"), [
    ("AssociateRouteTable", [(5, True, "gone", "not found: the call never happened, or what it made was taken back "
                                               "since"), *((n, False, "undone", "") for n in range(4, 0, -1))]),
    ("AttachInternetGateway", [(2, True, "gone", "Gateway.NotAttached"), (1, False, "undone", "")]),
])
def test_an_in_doubt_commit_point_that_never_happened_lets_the_chain_go(tmp_path: Path, operation: str,
                                                                          expected: list[Any]) -> None:
    """Near miss: the process died before its AssociateRouteTable (AttachInternetGateway) left, and
    no one made it meanwhile: nothing to leave alone, undo takes the whole chain back by itself."""
    with account(chain) as (session, _):
        start = state(session)
        faults = FaultInjector(session.client("ec2", REGION)).crash_after(0, {operation})
        journal = crashed_run(session, tmp_path)
        faults.remove()
        run = apply_undo(plan_undo(journal.path), session)
        assert [(st.seq, st.in_doubt, st.status, st.error) for st in run.steps] == expected
        assert run.exit_code() == 0 and state(session) == start


def test_an_in_doubt_table_a_later_run_adopted_is_left_alone(tmp_path: Path) -> None:
    with account(chain) as (session, s):
        crash_after_answer(session, "CreateRouteTable")
        journal = crashed_run(session, tmp_path)
        from preflight.collect import aws

        later = aws.AwsSession(region=REGION)
        _, outcomes, _ = apply(later, tmp_path / "later", ("NET002",))
        assert [(o.change.call.operation, o.status) for o in outcomes] == [
            ("create_route_table", "already"), ("create_route", "applied"), ("associate_route_table", "applied")]
        run = apply_undo(plan_undo(journal.path), later)
        table = [t["RouteTableId"] for t in later.client("ec2", REGION).describe_route_tables(
            Filters=[{"Name": f"tag:{rm.TAG}", "Values": [rm.rtb_tag(s.ids["chain-pub"])]}])["RouteTables"]]
        assert [st.status for st in run.steps] == ["not-undoable", "not-attempted", "not-attempted"]
        assert run.steps[0].error == (f"in doubt: route table {table[0]} tagged preflight:fix="
                                      f"{rm.rtb_tag(s.ids['chain-pub'])} is in use (or not the only one) since, "
                                      "e.g. adopted by a later run; left alone with the steps before it: undo the "
                                      "later run first, or check by hand")
        assert run.exit_code() == 1
        assert len(table) == 1 and fails(check(later, ("NET002",))) == []  # the later run's fix still stands


def test_the_undo_command_looks_up_a_journal_whose_only_step_is_in_doubt(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`preflight undo` made its calls only when some step had a recorded undo call: a run that died
    in its first call (a gateway whose id was in the lost answer) was reported as undone, exit 0,
    with the gateway still there."""
    from preflight.cli import main

    with account(chain) as (session, s):
        start = state(session)
        crash_after_answer(session, "CreateInternetGateway")
        journal = crashed_run(session, tmp_path)
        assert [(st.seq, st.call, st.find is not None) for st in plan_undo(journal.path).steps] == [(1, None, True)]
        with pytest.raises(SystemExit) as info:
            main(["undo", str(journal.path)])
        out = capsys.readouterr().out
        assert info.value.code == 0, out
        assert "1. [undone] undo: create an internet gateway" in out
        from preflight.collect import aws

        assert state(aws.AwsSession(region=REGION)) == start


@pytest.mark.parametrize("later_run", [True, False])
def test_an_in_doubt_change_another_runs_journal_made_is_left_alone(tmp_path: Path, later_run: bool) -> None:
    """Our MapPublicIpOnLaunch call was in doubt (the process died before it left); a later run beside
    ours made that very change. Undoing ours used to turn the attribute off: the later run's fix.
    Its journal is proof whose change it is: left alone, said so, exit 1. Near miss, no such journal:
    the in-doubt undo is made as before (the attribute goes back to its starting value)."""
    with account(lambda s: get_scenario("public-route-no-public-ip").seed(s)) as (session, s):
        start = state(session)
        fplan = plan_fixes(session, ("NET005",))
        journal = Journal(directory=tmp_path / "journals", header={"source": "test"})
        faults = FaultInjector(session.client("ec2", REGION)).crash_after(0, {"ModifySubnetAttribute"})
        with pytest.raises(InjectedCrash):
            apply_changes(fplan.changes, session, journal)
        faults.remove()
        if later_run:
            _, outcomes, later = apply(session, tmp_path / "journals", ("NET005",))
            assert [o.status for o in outcomes] == ["applied"]
        run = apply_undo(plan_undo(journal.path), session)
        if later_run:
            assert [(st.seq, st.in_doubt, st.status) for st in run.steps] == [(1, True, "not-undoable")]
            assert run.steps[0].error == (
                f"run {later.run_id} made this very change, so what is there is that run's (its journal "
                f"{later.path} says so); left alone with the steps before it: undo that run first (preflight undo "
                f"{later.path}), then this one")
            assert run.exit_code() == 1 and fails(check(session, ("NET005",))) == []
            # Once that run is undone, its journal is no longer evidence: ours goes ahead.
            assert [st.status for st in apply_undo(plan_undo(later.path), session).steps] == ["undone"]
            again = apply_undo(plan_undo(journal.path), session)
            assert [(st.seq, st.status) for st in again.steps] == [(1, "undone")]
            assert again.exit_code() == 0 and state(session) == start
        else:
            assert [(st.seq, st.in_doubt, st.status) for st in run.steps] == [(1, True, "undone")]
            assert run.exit_code() == 0 and state(session) == start


def test_the_commands_to_finish_by_hand_name_the_endpoint_without_its_password() -> None:
    from preflight.collect import aws
    from preflight.undo import _account_flags

    assert _account_flags(aws.AwsSession(region=REGION)) == ""
    assert _account_flags(aws.AwsSession(region=REGION, endpoint_url="http://admin:pw@127.0.0.1:5000")) == (
        " --endpoint-url 'http://***@127.0.0.1:5000'")
