"""Concurrent `fix --apply` runs on one account (issue 16 item 7), every interleaving forced in process.

Each "run" has its own session, plan (made from the same starting state, as runs started at once
do) and journal. A botocore `before-call` hook on one run's client lets another run act at an exact
point: between our plan and our call, after our table exists, just before our route or our
association. The property test at the end lets hypothesis choose the order of every call of two or
three runs. The contract: nobody reports FAILED for what another run did with the same effect, a
different effect is a FAILED that says what is there, and the account ends with one table per
`preflight:fix` tag, associated, with its route.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.collect import aws
from preflight.collect.sandbox import Seeder
from preflight.fix import Change, Journal, Outcome, apply_changes, build_plan, read_journal
from preflight.launch.faults import InjectedCrash
from preflight.semantics import remedies as rm
from preflight.undo import plan_undo
from tests.unit.netfix_support import REGION, account, check, fails, plan_fixes


def shared_main(s: Seeder, publics: int = 1) -> None:
    """Public subnets on a main table with no default route, shared with a private subnet (NET002)."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.8.0.0/16", "race-vpc")
    s.igw(vpc, "race-igw")
    for n in range(publics):
        s.subnet(vpc, f"10.8.{n}.0/24", name=f"pub-{n}", public_ip=True)
    priv = s.subnet(vpc, "10.8.9.0/24", name="priv", public_ip=False)
    s.nat(priv, "race-nat")
    s.ids["vpc"] = vpc


class Run:
    """One `fix --apply` of NET002: its own session, plan (from the state when it was made) and journal."""

    def __init__(self, tmp_path: Path, name: str, changes: list[Change] | None = None) -> None:
        self.session = aws.AwsSession(region=REGION)
        self.changes: list[Change] = plan_fixes(self.session, ("NET002",)).changes if changes is None else changes
        self.journal = Journal(directory=tmp_path / name, header={"command": "test", "source": "test", "account": ""})
        self.outcomes: list[Outcome] = []

    def apply(self, changes: list[Change] | None = None) -> list[Outcome]:
        self.outcomes = apply_changes(self.changes if changes is None else changes, self.session, self.journal)
        return self.outcomes

    def before(self, operation: str, action: Callable[[], Any]) -> None:
        """Run `action` once, right before this run's first `operation` call is sent (after its guard)."""
        fired: list[bool] = []

        def hook(**_: Any) -> None:
            if not fired:
                fired.append(True)
                action()
        self.session.client("ec2", REGION).meta.events.register(f"before-call.ec2.{operation}", hook)

    def statuses(self) -> list[str]:
        return [o.status for o in self.outcomes]


def other_and_ours(tmp_path: Path) -> tuple[Run, Run]:
    """Two runs started at once: the same plan (made once: collecting is the slow part)."""
    other = Run(tmp_path, "other")
    return other, Run(tmp_path, "ours", other.changes)


def tables(session: aws.AwsSession, vpc: str) -> list[dict[str, Any]]:
    return session.client("ec2", REGION).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]


def tag_of(table: dict[str, Any]) -> str:
    return next((t["Value"] for t in table.get("Tags") or [] if t["Key"] == rm.TAG), "")


def assert_clean(session: aws.AwsSession, s: Seeder, publics: int = 1) -> None:
    """One table per preflight:fix tag, associated with its subnet only, routing 0.0.0.0/0 to the
    VPC's gateway; nothing left for NET002; no other table made."""
    found = tables(session, s.ids["vpc"])
    for n in range(publics):
        subnet = s.ids[f"pub-{n}"]
        mine = [t for t in found if tag_of(t) == rm.rtb_tag(subnet)]
        assert len(mine) == 1, [t["RouteTableId"] for t in mine]
        [table] = mine
        assert [a.get("SubnetId") for a in table["Associations"]] == [subnet]
        routes = {r.get("DestinationCidrBlock"): r.get("GatewayId") for r in table["Routes"]}
        assert routes == {"10.8.0.0/16": "local", "0.0.0.0/0": s.ids["race-igw"]}
    assert len(found) == 1 + publics  # the main table and one per public subnet: nothing leaked
    report = check(session, ("NET002",))
    assert fails(report) == []
    assert build_plan(report.findings, report.inventories).changes == []


def test_a_table_another_run_made_is_adopted_not_duplicated(tmp_path: Path) -> None:
    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        other.apply(other.changes[:1])  # it made the table and stopped (crashed, or still going)
        [made] = [t["RouteTableId"] for t in tables(session, s.ids["vpc"]) if tag_of(t)]
        ours.apply()
        assert ours.statuses() == ["already", "applied", "applied"]
        assert f"adopted {made} ({rm.TAG}={rm.rtb_tag(s.ids['pub-0'])})" in ours.outcomes[0].error
        assert_clean(session, s)


def test_a_table_tagged_for_another_subnet_or_untagged_is_not_adopted(tmp_path: Path) -> None:
    with account(shared_main) as (session, s):
        ours = Run(tmp_path, "ours")
        ec2 = session.client("ec2", REGION)
        vpc = s.ids["vpc"]
        ec2.create_route_table(VpcId=vpc, TagSpecifications=rm.tag_spec("route-table", rm.rtb_tag("subnet-else"), "x"))
        ec2.create_route_table(VpcId=vpc)
        ours.apply()
        assert ours.statuses() == ["applied"] * 3
        found = tables(session, vpc)
        assert sorted(tag_of(t) for t in found) == sorted(["", "", rm.rtb_tag("subnet-else"),
                                                           rm.rtb_tag(s.ids["pub-0"])])


def test_both_made_a_table_and_the_loser_deletes_its_own(tmp_path: Path) -> None:
    """Both passed the lookup; the other run then finished first: our table is unused, deleted, and
    journalled as undone by us (so `undo` has nothing left to do for it)."""
    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        ours.before("CreateRouteTable", other.apply)
        ours.apply()
        assert other.statuses() == ["applied"] * 3
        assert ours.statuses() == ["withdrawn", "already", "already"]  # made, then deleted by itself
        own = ours.outcomes[0].change  # (the created table's id is in the journal's done line)
        [created] = [e["undo"]["params"]["RouteTableId"] for e in read_journal(ours.journal.path)
                     if e["event"] == "done" and e["seq"] == ours.outcomes[0].seq]
        assert own.call.operation == "create_route_table"
        assert f"deleted {created}, made by this run and now unused" in ours.outcomes[2].error
        assert_clean(session, s)
        events = [(e["event"], e.get("seq")) for e in read_journal(ours.journal.path)][1:]
        assert events == [("begin", 1), ("done", 1), ("undone", 1)]
        undo = plan_undo(ours.journal.path)
        assert undo.steps == [] and undo.already_undone == 1


def test_a_route_the_loser_put_in_its_own_table_is_withdrawn_not_applied(tmp_path: Path) -> None:
    """Both made a table (we passed our lookup before the other's table existed); our route went into
    ours (nothing was committed yet), then the other run, pinned to its own table, routed and
    associated it first. Our association finds the subnet on the other run's table: our table is
    deleted, and the route in it with it. The route's line used to say `applied` for a route that
    no longer exists; it says `applied, then withdrawn` and why, as the journal does."""
    from preflight.fix.command import FixRun
    from preflight.fix.model import FixPlan
    from preflight.fix.render import render_fix

    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        made, go = threading.Event(), threading.Event()
        other.before("CreateRoute", lambda: (made.set(), go.wait(30)))  # the other run holds with its table made
        worker = threading.Thread(target=other.apply, daemon=True)

        def other_makes_its_table() -> None:  # our guard has found no table: ours is made after the other's
            worker.start()
            assert made.wait(30)

        def other_finishes() -> None:
            go.set()
            worker.join(30)
        ours.before("CreateRouteTable", other_makes_its_table)
        ours.before("AssociateRouteTable", other_finishes)
        ours.apply()
        assert other.statuses() == ["applied"] * 3
        winner = _own_table(session, s)
        [mine] = [e["undo"]["params"]["RouteTableId"] for e in read_journal(ours.journal.path)
                  if e["event"] == "done" and e["seq"] == 1]
        assert mine != winner
        why = f"{mine} deleted by this run: a concurrent run's {winner} won"
        assert [(o.status, o.error) for o in ours.outcomes[:2]] == [("withdrawn", why), ("withdrawn", why)]
        assert ours.outcomes[2].status == "already"
        assert f"deleted {mine}, made by this run and now unused" in ours.outcomes[2].error
        assert_clean(session, s)
        text = render_fix(FixRun(mode="apply", fix_plan=FixPlan(changes=ours.changes), outcomes=ours.outcomes,
                                 regions=[REGION]))
        assert (f"2. [applied, then withdrawn] route 0.0.0.0/0 to {s.ids['race-igw']} in the new table of "
                f"{s.ids['pub-0']} ({why})") in text
        assert "[applied]" not in text
        assert text.count("   undo: none needed (this run took it back)") == 2  # the table and the route
        assert "undo: aws ec2 delete-route " not in text
        events = [(e["event"], e.get("seq")) for e in read_journal(ours.journal.path)][1:]
        assert events == [("begin", 1), ("done", 1), ("begin", 2), ("done", 2), ("begin", 3), ("undone", 1),
                          ("undone", 2), ("already", 3)]
        assert plan_undo(ours.journal.path).steps == []  # nothing of ours is left to take back


def test_a_route_another_run_made_with_the_same_target_is_done(tmp_path: Path) -> None:
    """The other run adopted our new table, routed and associated it while our CreateRoute was in
    flight: RouteAlreadyExists with the same target is "already", not FAILED."""
    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        ours.before("CreateRoute", other.apply)
        ours.apply()
        assert other.statuses() == ["already", "applied", "applied"]
        assert ours.statuses() == ["applied", "already", "already"]
        assert ours.outcomes[1].error == (f"RouteAlreadyExists: the same route (0.0.0.0/0 -> {s.ids['race-igw']}) "
                                          "was made meanwhile, by a concurrent run")
        assert_clean(session, s)


def _own_table(session: aws.AwsSession, s: Seeder) -> str:
    [table] = [t["RouteTableId"] for t in tables(session, s.ids["vpc"]) if tag_of(t) == rm.rtb_tag(s.ids["pub-0"])]
    return table


@pytest.mark.parametrize("when", ["before our guard", "after our guard"])
def test_a_route_to_another_target_meanwhile_is_a_failure_that_says_what_is_there(tmp_path: Path, when: str) -> None:
    with account(shared_main) as (session, s):
        ours = Run(tmp_path, "ours")
        ec2 = session.client("ec2", REGION)

        def route_to_nat() -> None:
            ec2.create_route(RouteTableId=_own_table(session, s), DestinationCidrBlock="0.0.0.0/0",
                             NatGatewayId=s.ids["race-nat"])
        if when == "before our guard":
            ours.apply(ours.changes[:1])
            route_to_nat()
            ours.apply(ours.changes[1:])
            assert ours.statuses() == ["failed", "not-attempted"]
            error = ours.outcomes[0].error
        else:
            ours.before("CreateRoute", route_to_nat)
            ours.apply()
            assert ours.statuses() == ["applied", "failed", "not-attempted"]
            error = ours.outcomes[1].error
            assert error.startswith("RouteAlreadyExists: ")
        table = _own_table(session, s)
        assert (f"0.0.0.0/0 in {table} now goes to {s.ids['race-nat']} (changed meanwhile, by someone else), "
                f"not {s.ids['race-igw']}: not replacing it; re-run the check") in error
        [t] = [t for t in tables(session, s.ids["vpc"]) if t["RouteTableId"] == table]
        assert t["Associations"] == []  # the subnet was not moved to a table routing elsewhere


def test_an_association_another_run_made_is_done(tmp_path: Path) -> None:
    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        ours.before("AssociateRouteTable", other.apply)
        ours.apply()
        assert other.statuses() == ["already", "already", "applied"]
        # AWS answers Resource.AlreadyAssociated (-> "already"); moto answers with the existing
        # association: to the very table we meant, so it counts as ours. Never FAILED.
        assert ours.statuses()[:2] == ["applied", "applied"] and ours.statuses()[2] in ("already", "applied")
        assert_clean(session, s)


def test_an_association_with_a_table_that_is_not_preflights_is_a_failure(tmp_path: Path) -> None:
    with account(shared_main) as (session, s):
        ours = Run(tmp_path, "ours")
        ec2 = session.client("ec2", REGION)
        holder: list[str] = []

        def someone_else_associates() -> None:
            table = ec2.create_route_table(VpcId=s.ids["vpc"])["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=table, SubnetId=s.ids["pub-0"])
            holder.append(table)
        ours.before("AssociateRouteTable", someone_else_associates)
        ours.apply()
        assert ours.statuses() == ["applied", "applied", "failed"]
        assert (f"{s.ids['pub-0']} was associated with {holder[0]} meanwhile; not moving it to "
                f"{_own_table(session, s)} (re-run the check)") in ours.outcomes[2].error
        # nothing of ours was deleted: `undo` takes the table back
        assert [st.call.operation for st in plan_undo(ours.journal.path).steps if st.call] == [
            "delete_route", "delete_route_table"]


# --- every order of every call, chosen by hypothesis ---------------------------------------------------

class Scheduler:
    """Lets exactly one run's AWS call through at a time, in the order `picks` chooses among the
    runs waiting at a call (a run between calls is waited for, so the order is deterministic)."""

    def __init__(self, runs: int, picks: Iterator[int]) -> None:
        self.cond = threading.Condition()
        self.waiting: set[int] = set()
        self.alive = set(range(runs))
        self.turn: int | None = None
        self.picks = picks

    def hook(self, who: int) -> Callable[..., None]:
        def before_call(**_: Any) -> None:
            with self.cond:
                self.waiting.add(who)
                self.cond.notify_all()
                assert self.cond.wait_for(lambda: self.turn == who, timeout=30), "scheduler stalled"
                self.turn = None
                self.waiting.discard(who)
        return before_call

    def finished(self, who: int) -> None:
        with self.cond:
            self.alive.discard(who)
            self.cond.notify_all()

    def drive(self) -> None:
        with self.cond:
            while self.alive:
                settled = self.cond.wait_for(lambda: self.turn is None and self.alive <= self.waiting, timeout=30)
                assert settled, "a run neither called nor finished"
                if not self.alive:
                    break
                ready = sorted(self.waiting & self.alive)
                self.turn = ready[next(self.picks, 0) % len(ready)]
                self.cond.notify_all()
                self.cond.wait_for(lambda: self.turn is None or not self.alive, timeout=30)


def race(tmp_path: Path, runs: list[Run], picks: list[int]) -> None:
    scheduler = Scheduler(len(runs), iter(picks))
    errors: list[BaseException] = []
    for i, run in enumerate(runs):
        run.session.client("ec2", REGION).meta.events.register("before-call.ec2", scheduler.hook(i))

    def go(i: int) -> None:
        try:
            runs[i].apply()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            scheduler.finished(i)
    threads = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(len(runs))]
    for t in threads:
        t.start()
    scheduler.drive()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_runs=st.integers(2, 3), publics=st.integers(1, 2), picks=st.lists(st.integers(0, 2), max_size=80))
def test_any_interleaving_of_concurrent_runs_ends_clean(tmp_path: Path, n_runs: int, publics: int,
                                                        picks: list[int]) -> None:
    with account(lambda s: shared_main(s, publics)) as (session, s):
        first = Run(tmp_path, "run-0")  # runs started at once make the same plan: make it once (it is slow)
        runs = [first] + [Run(tmp_path, f"run-{n}", first.changes) for n in range(1, n_runs)]
        race(tmp_path, runs, picks)
        for run in runs:
            assert "failed" not in run.statuses(), [(o.status, o.error) for o in run.outcomes]
        assert_clean(session, s, publics)
        # No line says "applied" for a table (or a route in a table) that no longer exists: a run that
        # deleted its own table says "withdrawn" for it and for the routes it had put in it.
        existing = {t["RouteTableId"] for t in tables(session, s.ids["vpc"])}
        for run in runs:
            done = {e["seq"]: e["undo"] for e in run.journal.entries() if e["event"] == "done"}
            for o in run.outcomes:
                if o.status == "applied" and o.change.call.operation in ("create_route_table", "create_route"):
                    assert (done[o.seq] or {}).get("params", {}).get("RouteTableId") in existing, (o, done[o.seq])
        # Whatever a run made and then deleted it journalled as undone: its undo leaves the winner alone.
        for run in (r for r in runs if r.journal.written):  # (a run that changed nothing has no journal)
            for step in plan_undo(run.journal.path).steps:
                assert step.call is not None and step.call.operation in (
                    "delete_route_table", "delete_route", "disassociate_route_table")


def no_gateway(s: Seeder) -> None:
    """No internet gateway; the public subnet shares the main table: create igw, attach, table, route, associate."""
    s.aws_like_default_vpc()
    vpc = s.vpc("10.8.0.0/16", "race-vpc")
    s.subnet(vpc, "10.8.0.0/24", name="pub-0", public_ip=True)
    s.subnet(vpc, "10.8.9.0/24", name="priv", public_ip=False)
    s.ids["vpc"] = vpc


def test_both_made_a_gateway_and_the_loser_deletes_its_own(tmp_path: Path) -> None:
    """The same for a created internet gateway: the attachment is the commit point."""
    with account(no_gateway) as (session, s):
        other, ours = other_and_ours(tmp_path)
        ours.before("CreateInternetGateway", other.apply)
        ours.apply()
        assert other.statuses() == ["applied"] * 5
        assert ours.statuses() == ["withdrawn", "already", "already", "already", "already"]
        ec2 = session.client("ec2", REGION)
        gateways = ec2.describe_internet_gateways(
            Filters=[{"Name": f"tag:{rm.TAG}", "Values": [rm.igw_tag(s.ids["vpc"])]}])["InternetGateways"]
        [igw] = gateways  # ours was deleted, theirs is attached
        assert [a["VpcId"] for a in igw["Attachments"]] == [s.ids["vpc"]]
        assert ours.outcomes[1].error.startswith(
            f"{s.ids['vpc']} has {igw['InternetGatewayId']} attached; deleted igw-")
        found = tables(session, s.ids["vpc"])
        assert len(found) == 2 and sum(1 for t in found if tag_of(t) == rm.rtb_tag(s.ids["pub-0"])) == 1
        assert fails(check(session, ("NET002",))) == []
        assert plan_undo(ours.journal.path).steps == []  # what it made, it took back itself


def test_undo_of_the_run_that_made_a_table_another_run_associated_leaves_it_alone(tmp_path: Path) -> None:
    """We made the table and its route; the other run adopted it and associated it first. Undoing
    our run must not take the route (and so the other run's fix) away: the table is left alone,
    said so, exit 1. Undoing the other run first, then ours, takes everything back."""
    from preflight.undo import apply_undo

    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        ours.apply(ours.changes[:2])  # table and route; its association then found the other run's
        # (AWS answers Resource.AlreadyAssociated: "already", nothing to undo; moto would silently
        # re-associate, so the run stops before it here)
        other.apply()
        assert ours.statuses() == ["applied", "applied"]
        assert other.statuses() == ["already", "already", "applied"]
        undo = apply_undo(plan_undo(ours.journal.path), session)
        assert [st.status for st in undo.steps] == ["not-undoable", "not-attempted"]
        assert "through an association this run did not make" in undo.steps[0].error
        assert undo.exit_code() == 1
        assert_clean(session, s)  # the other run's fix stands
        assert [st.status for st in apply_undo(plan_undo(other.journal.path), session).steps] == ["undone"]
        again = apply_undo(plan_undo(ours.journal.path), session)
        assert [st.status for st in again.steps] == ["undone", "undone"]
        assert [t for t in tables(session, s.ids["vpc"]) if tag_of(t)] == []


def test_undo_of_a_single_run_still_takes_its_table_back(tmp_path: Path) -> None:
    """The near miss: the association is this run's own, so the guard lets the route and table go."""
    from preflight.undo import apply_undo

    with account(shared_main) as (session, s):
        ours = Run(tmp_path, "ours")
        ours.apply()
        assert ours.statuses() == ["applied", "applied", "applied"]
        undo = apply_undo(plan_undo(ours.journal.path), session)
        assert [st.status for st in undo.steps] == ["undone"] * 3
        assert [t for t in tables(session, s.ids["vpc"]) if tag_of(t)] == []


def _crash_in_associate_after(ours: Run, action: Callable[[], Any]) -> None:
    """Our AssociateRouteTable: `action` runs, then our process dies before AWS answers (the journal's
    step stays in doubt). moto would answer our call with the association `action` made; AWS with
    Resource.AlreadyAssociated: the call changes nothing either way, so it is not sent."""
    def die() -> None:
        action()
        raise InjectedCrash("died during AssociateRouteTable")
    ours.before("AssociateRouteTable", die)
    with pytest.raises(InjectedCrash):
        ours.apply()


@pytest.mark.parametrize("where", ["same state dir", "another machine"])
def test_undo_leaves_an_in_doubt_association_another_run_made_alone(tmp_path: Path, where: str) -> None:
    """The reviewer's case: our run made the table and its route, then died during its association;
    the other run adopted the table and its association succeeded. Undoing our run used to find the
    association, take it back as ours, and then (no foreign association left) delete the route and
    the table: the other run's subnet lost its default route. The association cannot be told apart
    from ours, so it is left alone, with the steps before it, said so, exit 1."""
    from preflight.undo import apply_undo, render_undo

    with account(shared_main) as (session, s):
        other, ours = other_and_ours(tmp_path)
        if where == "same state dir":  # its journal beside ours: the proof of whose association it is
            other.journal = Journal(directory=tmp_path / "ours", header={"command": "test", "source": "test",
                                                                          "account": ""})
        _crash_in_associate_after(ours, other.apply)
        assert other.statuses() == ["already", "already", "applied"]
        [assoc] = [e["undo"]["params"]["AssociationId"] for e in read_journal(other.journal.path)
                   if e["event"] == "done"]
        table, subnet = _own_table(session, s), s.ids["pub-0"]
        later = aws.AwsSession(region=REGION)  # a new process: the crashed one's hooks are gone
        undo = apply_undo(plan_undo(ours.journal.path), later)
        assert [(st.seq, st.in_doubt, st.status) for st in undo.steps] == [
            (3, True, "not-undoable"), (2, False, "not-attempted"), (1, False, "not-attempted")]
        assert undo.exit_code() == 1
        assert_clean(later, s)  # the other run's fix stands
        error = undo.steps[0].error
        if where == "same state dir":
            assert error == (f"{subnet}'s association with {table} ({assoc}) was made by run {other.journal.run_id}"
                             f", not this one (its journal {other.journal.path} says so); left alone with the steps "
                             f"before it: undo that run first (preflight undo {other.journal.path}), then this one")
            # Following the message takes everything back, the other run's association first.
            assert [st.status for st in apply_undo(plan_undo(other.journal.path), later).steps] == ["undone"]
        else:
            assert error == (
                f"in doubt: {subnet} is associated with {table} ({assoc}), but this run never got the answer to its "
                f"call, so it cannot tell whether it made that association or a concurrent run that adopted {table} "
                "did (taking another run's association back would undo its fix); left alone with the steps "
                f"before it. If no other preflight run was fixing {subnet} then, take it back and undo again: "
                f"aws ec2 disassociate-route-table --region {REGION} --association-id {assoc} && "
                f"preflight undo {ours.journal.path}")
            assert error in render_undo(undo)
            later.client("ec2", REGION).disassociate_route_table(AssociationId=assoc)  # the other run's undo
        again = apply_undo(plan_undo(ours.journal.path), later)
        assert [(st.seq, st.status) for st in again.steps] == [(3, "gone"), (2, "undone"), (1, "undone")]
        assert again.exit_code() == 0
        assert [t for t in tables(later, s.ids["vpc"]) if tag_of(t)] == []


def test_undo_leaves_an_in_doubt_gateway_attachment_another_run_made_alone(tmp_path: Path) -> None:
    """The same for the gateway chain, whose commit point is the attachment: our run made the gateway
    and died during its AttachInternetGateway; the other run adopted the gateway, attached it and
    routed its subnet through it. Undoing our run used to detach the gateway (the other run's
    attachment) and delete it, leaving the other run's route a blackhole."""
    from preflight.undo import apply_undo

    with account(no_gateway) as (session, s):
        other, ours = other_and_ours(tmp_path)
        other.journal = Journal(directory=tmp_path / "ours", header={"command": "test", "source": "test",
                                                                      "account": ""})

        def die() -> None:
            other.apply()
            raise InjectedCrash("died during AttachInternetGateway")
        ours.before("AttachInternetGateway", die)
        with pytest.raises(InjectedCrash):
            ours.apply()
        assert other.statuses() == ["already", "applied", "applied", "applied", "applied"]
        later = aws.AwsSession(region=REGION)
        [igw] = later.client("ec2", REGION).describe_internet_gateways(
            Filters=[{"Name": f"tag:{rm.TAG}", "Values": [rm.igw_tag(s.ids["vpc"])]}])["InternetGateways"]
        gid, vpc = igw["InternetGatewayId"], s.ids["vpc"]
        undo = apply_undo(plan_undo(ours.journal.path), later)
        assert [(st.seq, st.in_doubt, st.status) for st in undo.steps] == [
            (2, True, "not-undoable"), (1, False, "not-attempted")]
        assert undo.steps[0].error == (
            f"the attachment of {gid} to {vpc} was made by run {other.journal.run_id}, not this one (its journal "
            f"{other.journal.path} says so); left alone with the steps before it: undo that run first "
            f"(preflight undo {other.journal.path}), then this one")
        assert undo.exit_code() == 1
        assert fails(check(later, ("NET002",))) == []  # the other run's fix stands
        assert [st.status for st in apply_undo(plan_undo(other.journal.path), later).steps] == ["undone"] * 4
        again = apply_undo(plan_undo(ours.journal.path), later)
        assert [(st.seq, st.status) for st in again.steps] == [(2, "gone"), (1, "undone")]
        assert later.client("ec2", REGION).describe_internet_gateways(
            Filters=[{"Name": f"tag:{rm.TAG}", "Values": [rm.igw_tag(vpc)]}])["InternetGateways"] == []
