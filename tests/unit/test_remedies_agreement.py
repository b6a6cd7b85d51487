"""A remedy is written once: for every rule with a fixer, the commands the finding prints are exactly
the calls the fixer would make (same operations, same parameters, same order), on every sandbox
scenario and on the network shapes the fixers special-case."""

from __future__ import annotations

from typing import Any

import pytest

from preflight import engine
from preflight.collect.sandbox import Seeder, load_scenarios
from preflight.fix import build_plan, choose_fixer, fixable_rule_ids
from preflight.plan import plan_from_dict
from tests.unit.netfix_support import account, check


def shared_main(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.5.0.0/16", "shared-vpc")
    s.igw(vpc, "shared-igw")
    public = s.subnet(vpc, "10.5.1.0/24", name="pub", public_ip=True)
    s.subnet(vpc, "10.5.2.0/24", name="priv", public_ip=False)
    s.route(s.main_route_table(vpc), "172.16.0.0/12", NatGatewayId=s.nat(public, "nat"))


def no_igw(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.6.0.0/16", "bare-vpc")
    s.route_table(vpc, [s.subnet(vpc, "10.6.1.0/24", name="bare-pub", public_ip=True)], name="bare-rt")


def foreign_igw(s: Seeder) -> None:
    s.aws_like_default_vpc()
    a = s.public_vpc("10.10.0.0/16", "10.10.1.0/24", name="a")
    b = s.vpc("10.11.0.0/16", "b-vpc")
    sub = s.subnet(b, "10.11.1.0/24", name="b-pub", public_ip=True)
    s.route(s.route_table(b, [sub], name="b-rt"), "0.0.0.0/0", GatewayId=a["igw"])


def three_on_main(s: Seeder) -> None:
    s.aws_like_default_vpc()
    vpc = s.vpc("10.7.0.0/16", "three-vpc")
    s.igw(vpc, "three-igw")
    for n in range(3):
        s.subnet(vpc, f"10.7.{n}.0/24", name=f"pub-{n}", public_ip=True)


EXTRA = {"shared-main": shared_main, "no-igw": no_igw, "foreign-igw": foreign_igw, "three-on-main": three_on_main}


def _cases() -> list[tuple[str, Any, dict[str, Any]]]:
    cases = [(name, sc.seed, sc.plan) for name, sc in load_scenarios().items() if sc.cloud == "aws" and not sc.amis]
    return cases + [(name, seed, {}) for name, seed in EXTRA.items()]


@pytest.mark.parametrize(("name", "seed", "plan_data"), _cases(), ids=[c[0] for c in _cases()])
def test_printed_commands_are_the_fixers_calls(name: str, seed: Any, plan_data: dict[str, Any]) -> None:
    plan = plan_from_dict(plan_data) if plan_data else None
    fixable = sorted(fixable_rule_ids())
    compared = 0
    with account(seed) as (session, _):
        report: engine.Report = check(session, tuple(fixable), plan)
        for f in report.findings:
            if f.status != "FAIL" or f.fix is None or not f.fix.fixer or choose_fixer(f) is None:
                continue
            fplan = build_plan([f], report.inventories, plan)
            if fplan.refusals or not fplan.changes:
                continue  # the fixer will not do it: the printed commands are for a human
            assert [c.cli for c in fplan.changes] == list(f.fix.commands), (f.rule, f.resource)
            compared += 1
    if name in EXTRA:
        assert compared, "the shape has a fixable finding"
