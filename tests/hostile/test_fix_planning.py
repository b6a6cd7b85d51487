"""Hostile shapes for fix planning (issue 16 item 6): changes are keyed by what they do once their
placeholders resolve, so one run fixes every subnet, not just the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.collect.sandbox import Seeder
from preflight.fix import Change
from preflight.semantics import remedies as rm
from tests.unit.netfix_support import account, apply, check, fails, plan_fixes


def three_on_main(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.7.0.0/16", "three-vpc")
    s.igw(vpc, "three-igw")
    for n in range(3):
        s.subnet(vpc, f"10.7.{n}.0/24", name=f"pub-{n}", public_ip=True)
    s.subnet(vpc, "10.7.9.0/24", name="priv", public_ip=False)  # shares the main table: it stays private


def test_three_public_subnets_on_one_main_table_are_fixed_in_one_run(tmp_path: Path) -> None:
    with account(three_on_main) as (session, s):
        fplan = plan_fixes(session, ("NET002",))
        defaults = [c for c in fplan.changes if c.call.operation == "create_route"]
        assert len(defaults) == 3 and {c.data["refs"][rm.RTB]["subnet"] for c in defaults} == {
            s.ids[f"pub-{n}"] for n in range(3)}
        _, outcomes, _ = apply(session, tmp_path, ("NET002",))
        assert [o.status for o in outcomes] == ["applied"] * 9
        assert [f for f in fails(check(session, ("NET002",)))] == []
        assert plan_fixes(session, ("NET002",)).changes == []  # nothing left for a second run


def _change(table: str, subnet: str) -> Change:
    step = rm.create_route("eu-south-1", table, "0.0.0.0/0", {"GatewayId": "igw-1"}, subnet=subnet,
                           description="d")
    return Change("f", table, "d", step.call, step.undo, data={"refs": dict(step.refs)})


@pytest.mark.parametrize(("a", "b", "same"), [
    (("$RTB", "subnet-1"), ("$RTB", "subnet-1"), True),   # two findings asking for the very same change
    (("$RTB", "subnet-1"), ("$RTB", "subnet-2"), False),  # same call text, different tables once resolved
    (("rtb-1", "subnet-1"), ("rtb-1", "subnet-2"), True),  # a real id: the call is the change
    (("rtb-1", ""), ("rtb-2", ""), False),
])
def test_the_planning_key_is_what_the_change_does(a: tuple[str, str], b: tuple[str, str], same: bool) -> None:
    ca, cb = _change(*a), _change(*b)
    assert ca.cli == cb.cli or not same
    assert (ca.key() == cb.key()) is same
