"""Route semantics: effective route table, derived route state, longest prefix match (with properties)."""

from __future__ import annotations

import ipaddress
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.inventory import model as m
from preflight.semantics.routes import Topology
from tests.rules.conftest import eigw, igw, inventory, nat, public_vpc, route, route_table, subnet, vpc


def topo(*resources) -> Topology:
    return Topology(inventory(*resources))


def test_explicit_association_wins_over_main_table():
    t = topo(vpc(), subnet(), route_table("rtb-main", main=True, routes={"0.0.0.0/0": "igw-1"}),
             route_table("rtb-1", subnets=["subnet-1"]))
    choice = t.effective_route_table("subnet-1")
    assert choice is not None and (choice.table.id, choice.association) == ("rtb-1", "explicit")
    _, r, verdict = t.internet_route("subnet-1")
    assert (r, verdict) == (None, "no_default_route")


def test_main_table_applies_without_explicit_association():
    t = topo(vpc(), igw(), subnet(), route_table("rtb-main", main=True, routes={"0.0.0.0/0": "igw-1"}))
    choice, r, verdict = t.internet_route("subnet-1")
    assert choice is not None and (choice.table.id, choice.association, verdict) == ("rtb-main", "main", "ok")


def test_disassociated_association_is_ignored():
    table = route_table("rtb-1", subnets=["subnet-1"])
    table = m.RouteTable(id=table.id, vpc_id="vpc-1",
                         associations=(m.RouteTableAssociation(id="a", subnet_id="subnet-1", state="disassociated"),))
    t = topo(vpc(), subnet(), table, route_table("rtb-main", main=True))
    assert t.effective_route_table("subnet-1").table.id == "rtb-main"


def test_no_route_table_and_unknown_subnet():
    t = topo(vpc(), subnet())
    assert t.internet_route("subnet-1")[2] == "no_route_table"
    assert t.effective_route_table("subnet-nope") is None
    assert t.public_reachability("subnet-nope") is None


def test_subnets_using_a_main_table_exclude_explicitly_associated_ones():
    t = topo(vpc(), subnet("subnet-1"), subnet("subnet-2", cidr="10.0.2.0/24"),
             route_table("rtb-main", main=True), route_table("rtb-1", subnets=["subnet-1"]))
    assert [s.id for s in t.subnets_using(t.route_tables["rtb-main"])] == ["subnet-2"]
    assert [s.id for s in t.subnets_using(t.route_tables["rtb-1"])] == ["subnet-1"]


def test_route_state_is_derived_from_the_target():
    t = topo(vpc(), igw("igw-1", "vpc-1"), igw("igw-loose", None), igw("igw-2", "vpc-2"), eigw("eigw-1"),
             nat("nat-ok"), nat("nat-dead", state="deleted"), nat("nat-failed", state="failed"))
    state = {tid: t.route_state(route("0.0.0.0/0", tid), "vpc-1")
             for tid in ("igw-1", "igw-loose", "igw-2", "igw-gone", "eigw-1", "eigw-gone", "nat-ok", "nat-dead",
                         "nat-failed", "nat-gone", "pcx-1")}
    assert state == {"igw-1": "active", "igw-loose": "blackhole", "igw-2": "blackhole", "igw-gone": "blackhole",
                     "eigw-1": "active", "eigw-gone": "blackhole", "nat-ok": "active", "nat-dead": "blackhole",
                     "nat-failed": "blackhole", "nat-gone": "blackhole", "pcx-1": "active"}
    assert t.route_state(route("10.9.0.0/16", "pcx-1", state="blackhole"), "vpc-1") == "blackhole"


def test_internet_route_verdicts():
    cases = {"igw-1": "ok", "igw-loose": "igw_not_attached", "igw-gone": "blackhole", "nat-1": "not_igw"}
    for target, verdict in cases.items():
        t = topo(vpc(), igw("igw-1"), igw("igw-loose", None), nat("nat-1"), subnet(),
                 route_table("rtb-1", subnets=["subnet-1"], routes={"0.0.0.0/0": target}))
        assert t.internet_route("subnet-1")[2] == verdict, target


def test_ipv6_egress_only_default_route_is_not_public():
    t = topo(vpc(), eigw(), subnet(ipv6=("2001:db8::/64",), assign_ipv6=True, public_ip=True),
             route_table("rtb-1", subnets=["subnet-1"], routes={"::/0": "eigw-1"}))
    r = t.public_reachability("subnet-1")
    assert r is not None and not r.usable
    assert (r.verdict, r.ipv6_verdict, r.ipv6_route.target_id) == ("no_default_route", "not_igw", "eigw-1")


def test_ipv6_default_route_to_an_attached_igw_is_public_with_assigned_addresses():
    res = [vpc(), igw(), route_table("rtb-1", subnets=["subnet-1"], routes={"::/0": "igw-1"})]
    assert topo(*res, subnet(ipv6=("2001:db8::/64",), assign_ipv6=True)).public_reachability("subnet-1").usable
    assert not topo(*res, subnet(ipv6=("2001:db8::/64",))).public_reachability("subnet-1").usable


def test_public_reachability_needs_a_public_ip():
    res = public_vpc(1, public_ip=False)
    t = topo(*res)
    assert not t.public_reachability("subnet-1").usable
    assert t.public_reachability("subnet-1", public_ip=True).usable
    assert topo(*public_vpc(1)).public_reachability("subnet-1").usable


def test_ipv4_and_ipv6_are_selected_separately_and_prefix_lists_never_match():
    table = route_table("rtb-1", routes={"::/0": "igw-1", "pl-1": "igw-1", "10.0.0.0/8": "nat-1"})
    t = topo(table)
    assert t.select_route(table, "8.8.8.8") is None
    assert t.select_route(table, "10.1.2.3").target_id == "nat-1"
    assert t.select_route(table, "2001:db8::1").destination == "::/0"


def test_a_zero_split_decides_the_internet_route_not_the_shadowed_default():
    # 0.0.0.0/1 + 128.0.0.0/1 cover every address, so the /0 to the gateway is never used.
    split = {"0.0.0.0/0": "igw-1", "0.0.0.0/1": "nat-1", "128.0.0.0/1": "nat-1"}
    t = topo(vpc(), igw(), nat("nat-1"), subnet(), route_table("rtb-1", subnets=["subnet-1"], routes=split))
    _, r, verdict = t.internet_route("subnet-1")
    assert (r.destination, r.target_id, verdict) == ("0.0.0.0/1", "nat-1", "not_igw")
    assert t.select_route(t.route_tables["rtb-1"], "8.8.8.8").destination == "0.0.0.0/1"
    # One half to a NAT gateway is enough to break the other direction for half of the internet.
    half = {"0.0.0.0/1": "igw-1", "128.0.0.0/1": "nat-1"}
    t = topo(vpc(), igw(), nat("nat-1"), subnet(), route_table("rtb-1", subnets=["subnet-1"], routes=half))
    _, r, verdict = t.internet_route("subnet-1")
    assert (r.destination, verdict) == ("128.0.0.0/1", "not_igw")
    # A split to an attached gateway is as good as a default route (no /0 needed).
    both = {"0.0.0.0/1": "igw-1", "128.0.0.0/1": "igw-1", "10.1.0.0/16": "pcx-1"}
    t = topo(vpc(), igw(), subnet(), route_table("rtb-1", subnets=["subnet-1"], routes=both))
    _, r, verdict = t.internet_route("subnet-1")
    assert (r.destination, verdict) == ("0.0.0.0/1", "ok")
    # Routes that do not cover everything leave the /0 in charge.
    part = {"0.0.0.0/0": "igw-1", "0.0.0.0/2": "nat-1", "128.0.0.0/1": "nat-1"}
    t = topo(vpc(), igw(), nat("nat-1"), subnet(), route_table("rtb-1", subnets=["subnet-1"], routes=part))
    assert t.internet_route("subnet-1")[2] == "ok"


def test_path_and_net_rules_agree_on_a_zero_split():
    from preflight.semantics import reach

    split = {"0.0.0.0/0": "igw-1", "0.0.0.0/1": "nat-1", "128.0.0.0/1": "nat-1"}
    inv = inventory(vpc(), igw(), nat("nat-1"), subnet(public_ip=True),
                    route_table("rtb-1", subnets=["subnet-1"], routes=split))
    assert Topology(inv).select_route(inv.route_tables[0], "0.0.0.0/0").destination == "0.0.0.0/1"
    codes = [h.code for h in reach.internet_blockers(inv, "subnet-1")]
    assert codes == ["RETURN_ROUTE_NOT_IGW"]


def test_an_ipv6_zero_split_decides_the_ipv6_internet_route():
    split = {"::/0": "igw-1", "::/1": "eigw-1", "8000::/1": "eigw-1"}
    t = topo(vpc(), igw(), eigw(), subnet(ipv6=("2001:db8::/64",), assign_ipv6=True),
             route_table("rtb-1", subnets=["subnet-1"], routes=split))
    r = t.public_reachability("subnet-1")
    assert (r.ipv6_route.destination, r.ipv6_verdict, r.usable) == ("::/1", "not_igw", False)


# --- properties ---------------------------------------------------------------------------------

@st.composite
def routes_and_address(draw):
    nets = draw(st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
            lambda t: ipaddress.ip_network((t[0], t[1]), strict=False)),
        min_size=1, max_size=12, unique=True))
    address = ipaddress.ip_address(draw(st.integers(0, 2**32 - 1)))
    # A matching address half of the time, so that matches are not rare.
    if draw(st.booleans()):
        net = draw(st.sampled_from(nets))
        address = net.network_address + draw(st.integers(0, net.num_addresses - 1))
    return [route(str(n), f"nat-{i}") for i, n in enumerate(nets)], str(address)


@settings(max_examples=200, deadline=None)
@given(routes_and_address(), st.randoms(use_true_random=False))
def test_longest_prefix_match_is_independent_of_route_order(data, rnd: random.Random):
    routes, address = data
    shuffled = list(routes)
    rnd.shuffle(shuffled)
    a, b = m.RouteTable(id="rtb-a", routes=tuple(routes)), m.RouteTable(id="rtb-b", routes=tuple(shuffled))
    t = topo(a, b)
    chosen_a, chosen_b = t.select_route(a, address), t.select_route(b, address)
    assert chosen_a == chosen_b
    # Oracle: the most specific route containing the address.
    containing = [r for r in routes if ipaddress.ip_address(address) in ipaddress.ip_network(r.destination_cidr)]
    if not containing:
        assert chosen_a is None
    else:
        best = max(ipaddress.ip_network(r.destination_cidr).prefixlen for r in containing)
        assert ipaddress.ip_network(chosen_a.destination_cidr).prefixlen == best


@settings(max_examples=100, deadline=None)
@given(routes_and_address())
def test_adding_a_less_specific_route_never_changes_the_choice(data):
    routes, address = data
    t = topo()
    table = m.RouteTable(id="rtb-1", routes=tuple(routes))
    before = t.select_route(table, address)
    if before is None:
        return
    plen = ipaddress.ip_network(before.destination_cidr).prefixlen
    if plen == 0:
        return
    wider = str(ipaddress.ip_network(before.destination_cidr).supernet(new_prefix=plen - 1))
    if any(r.destination_cidr == wider for r in routes):
        return
    after = t.select_route(m.RouteTable(id="rtb-1", routes=(*routes, route(wider, "igw-x"))), address)
    assert after == before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 3)).map(
    lambda t: ipaddress.ip_network((t[0], t[1]), strict=False)), max_size=10))
def test_whole_space_cover_is_the_union_of_the_outermost_networks(nets):
    from preflight.semantics.cidrs import outermost, whole_space_cover

    outer = [n for n, _ in outermost((n, str(n)) for n in nets)]
    assert all(not a.overlaps(b) for i, a in enumerate(outer) for b in outer[i + 1:])
    assert set(ipaddress.collapse_addresses(outer)) == set(ipaddress.collapse_addresses(nets))
    covered = list(ipaddress.collapse_addresses(nets)) == [ipaddress.ip_network("0.0.0.0/0")]
    assert bool(whole_space_cover(((n, str(n)) for n in nets), 4)) == covered
