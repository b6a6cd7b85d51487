"""NET001 and `preflight path` never disagree: on every sandbox scenario (and on hand-built worlds),
a subnet NET001 rejects is one `path --from internet --to SUBNET` finds blocked at a gateway, route
or address hop, with the same codes in the same order, and the reverse."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from preflight.collect.sandbox import load_scenarios
from preflight.semantics import reach
from tests.rules.conftest import as_plan, collect_seeded, run_rules
from tests.unit import reach_world as w

# `path` answers for preflight's own launch; a scenario whose plan names another launcher (SkyPilot,
# Ray) is judged by that launcher's own selection rules, checked against its code in tests/launchers.
SCENARIOS = sorted(name for name, sc in load_scenarios().items() if sc.cloud == "aws"
                   and (sc.plan or {}).get("launcher", "preflight") in ("preflight", "ec2"))
ROUTING = ("internet_gateway", "route_table", "public_ip", "egress_only_igw")
ROUTE_CODES = {"IGW_NOT_ATTACHED", "NO_ROUTE_TO_DESTINATION", "ROUTE_BLACKHOLE", "RETURN_ROUTE_NOT_IGW",
               "EGRESS_ONLY_INBOUND"}


def _in_scope(inv, plan):
    named = tuple(plan.subnets) if plan else ()
    vpc = plan.vpc if plan else ""
    return [s for s in inv.subnets if (s.id in named if named else (not vpc or s.vpc_id == vpc))]


def _public_ip(plan, subnet, scope):
    return True if plan is not None and plan.public_ip is True and subnet in scope else None


def _path_codes(inv, subnet_id, public_ip):
    """The routing codes `preflight path --from internet --to SUBNET` reports (ports aside)."""
    result = reach.path(inv, "internet", subnet_id, "all", None, public_ip=public_ip)
    return [h.code for h in result.blockers if h.kind in ROUTING]


def assert_agree(inv, plan, findings):
    scope = _in_scope(inv, plan)
    usable = [s.id for s in scope
              if reach.internet_usable(inv, s.id, _public_ip(plan, s, scope))
              and s.state in ("available", "")]
    net001 = [f for f in findings if f.rule == "NET001"]
    if plan is not None and plan.public_ip is False:
        assert net001 == []
        return
    if usable:
        assert net001 == [], (usable, [f.message for f in net001])
        return
    if not scope:
        return  # NET001 then speaks about the VPC or region, not about subnets
    assert len(net001) == 1, "every in-scope subnet is blocked, so NET001 must say so"
    candidates = {c["subnet"]: c for c in net001[0].details["candidates"]}
    assert set(candidates) == {s.id for s in scope}
    for s in scope:
        pub = _public_ip(plan, s, scope)
        codes = [h.code for h in reach.internet_blockers(inv, s.id, pub, 4)]
        assert candidates[s.id]["codes"] == codes == _path_codes(inv, s.id, pub), s.id
        first = candidates[s.id]["reasons"][0]
        if codes and codes[0] in ROUTE_CODES:
            assert "route" in first or "gateway" in first, (s.id, codes, first)
        elif codes and codes[0] == "NO_PUBLIC_IP":
            assert "public IP" in first, (s.id, codes, first)


@pytest.mark.parametrize("name", SCENARIOS)
def test_net001_and_path_agree_on_every_sandbox_scenario(name):
    sc = load_scenarios()[name]
    inv, _ = collect_seeded(name)
    plan = as_plan(sc.plan or None)
    assert_agree(inv, plan, run_rules(inv, plan, select=["NET001"]))


def _only_public_subnet(inv):
    """The hand-built world without its private subnet (which is never usable), so NET001 turns on
    exactly when the public subnet breaks."""
    return replace(inv, subnets=tuple(s for s in inv.subnets if s.id != w.PRIV))


WORLDS = {
    "healthy": (),
    "no-default-route": (w.drop_routes(w.RTB_PUB, "0.0.0.0/0", "::/0"),),
    "v4-only-route-no-public-ip": (w.drop_routes(w.RTB_PUB, "::/0"),
                                   w.change("subnets", w.PUB, map_public_ip_on_launch=False)),
    "v6-route-without-v4": (w.drop_routes(w.RTB_PUB, "0.0.0.0/0"),),
    "v6-egress-only": (w.drop_routes(w.RTB_PUB, "0.0.0.0/0", "::/0"),
                       w.add_routes(w.RTB_PUB, replace(w.healthy().route_tables[2].routes[-1])),),
    "igw-detached": (w.change("internet_gateways", w.IGW, attachments=()),),
    "igw-deleted": (w.drop("internet_gateways", w.IGW),),
    "ec2-says-blackhole": (w.drop_routes(w.RTB_PUB, "0.0.0.0/0", "::/0"),
                           w.add_routes(w.RTB_PUB, replace(w.V4_DEFAULT_IGW_ROUTE, state="blackhole"))),
    "public-subnet-pending": (w.change("subnets", w.PUB, state="pending"),),
}


@pytest.mark.parametrize("name", sorted(WORLDS))
@pytest.mark.parametrize("plan", [None, {"public_ip": True}, {"public_ip": False}])
def test_net001_and_path_agree_on_hand_built_worlds(name, plan):
    inv = _only_public_subnet(w.apply(*WORLDS[name]))
    p = as_plan(plan)
    assert_agree(inv, p, run_rules(inv, p, select=["NET001"]))


def test_the_incident_codes_reach_net001_details():
    inv, ids = collect_seeded("no-default-route")
    f = run_rules(inv, None, select=["NET001"]).one("NET001")
    cand = next(c for c in f.details["candidates"] if c["subnet"] == ids["app-subnet"])
    assert cand["codes"] == ["NO_ROUTE_TO_DESTINATION", "NO_PUBLIC_IP"]
