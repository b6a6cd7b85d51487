"""`undo` after a crash whose lost answer held the new id (issue 16): an in-doubt create_route_table,
create_internet_gateway or associate_route_table is found when undo runs (by its `preflight:fix` tag,
by its subnet and table) and reversed; not found means it never happened; found but in use since (a
later run adopted it) is left alone and said so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflight.collect.sandbox import Seeder
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
    ("AssociateRouteTable", 5, "the association of {subnet} with rtb-"),
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
            (3, "gone", "not found: the call never happened"), (2, "undone", ""), (1, "undone", "")]
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
