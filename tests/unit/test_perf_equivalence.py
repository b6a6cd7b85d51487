"""The fast paths added for large accounts (bench/) give exactly the answers of the plain
definitions they replace."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.inventory.model import SecurityGroup, SecurityGroupRule
from preflight.semantics.secgroups import ADMIN_PORTS, admin_ports_open_to_world, rules_admitting

# With the whole space written in other forms ipaddress reads: SG004 must see what rules_admitting
# sees, whatever the spelling. (No /1 halves here: a /0 split is SG004's own finding, which
# rules_admitting, judging one rule at a time, does not make; tests/unit/test_secgroups.py has it.)
CIDRS = ("0.0.0.0/0", "::/0", "10.0.0.0/8", "203.0.113.0/24", "2001:db8::/32", "1.2.3.4/0", "",
         "0.0.0.0/00", "0.0.0.0/0.0.0.0", " 0.0.0.0/0 ", "::/00")


@st.composite
def sg_rules(draw, i: int = 0) -> SecurityGroupRule:
    proto = draw(st.sampled_from(["tcp", "udp", "-1", "icmp", "6"]))
    lo = draw(st.integers(0, 65535))
    hi = draw(st.integers(lo, 65535))
    cidr = draw(st.sampled_from(CIDRS))
    v6 = ":" in cidr
    return SecurityGroupRule(
        id=f"sgr-{draw(st.integers(0, 10**6))}", group_id="sg-1", egress=draw(st.booleans()), ip_protocol=proto,
        from_port=None if proto == "-1" else (lo if proto != "icmp" else 8),
        to_port=None if proto == "-1" else (hi if proto != "icmp" else 0),
        cidr_ipv4="" if v6 else cidr, cidr_ipv6=cidr if v6 else "",
        prefix_list_id="" if cidr else "pl-1")


@settings(max_examples=300, deadline=None)
@given(st.lists(sg_rules(), max_size=8), st.sets(st.sampled_from(sorted(ADMIN_PORTS) + [80, 8080]), max_size=6))
def test_admin_ports_open_to_world_matches_rules_admitting(rules, ports):
    group = SecurityGroup(id="sg-1", vpc_id="vpc-1", rules=tuple(rules))
    expected = {}
    for port in sorted(ports):
        hits = rules_admitting([group], "tcp", port, "0.0.0.0/0") + rules_admitting([group], "tcp", port, "::/0")
        if hits:
            expected[port] = hits
    assert admin_ports_open_to_world(group, ports) == expected


def test_fast_snapshot_loader_equals_the_checked_one_and_errors_keep_their_path():
    import json

    import pytest

    from bench.generate import Size, build, inventory
    from preflight.inventory import snapshot
    from preflight.inventory.model import Inventory

    inv = inventory(build(Size(vpcs=2, subnets=30, route_tables=10, groups=40, rules=400, instances=12, faults=1)))
    text = snapshot.dumps([inv])
    fast = snapshot.loads(text)
    slow = [snapshot.from_dict(Inventory, x) for x in json.loads(text)["inventories"]]
    assert fast == slow == [inv]
    data = json.loads(text)
    data["inventories"][0]["security_groups"][3]["rules"][1]["from_port"] = "80"
    with pytest.raises(snapshot.SnapshotError, match=r"\$\.inventories\[0\]\.security_groups\[3\]\.rules\[1\]"
                                                     r"\.from_port: expected an integer, got '80'"):
        snapshot.loads(json.dumps(data))
    data["inventories"][0]["security_groups"][3]["rules"][1]["from_port"] = 80
    data["inventories"][0]["subnets"][0]["colour"] = "red"
    with pytest.raises(snapshot.SnapshotError, match=r"\$\.inventories\[0\]\.subnets\[0\]\.colour: unknown field"):
        snapshot.loads(json.dumps(data))


# --- the redundancy analysis: only peers with two or more rules are analysed ---------------------

PEERS = ("10.0.0.0/16", "10.0.5.9/16", "10.0.0.0/8", "0.0.0.0/0", "::/0", "2001:db8::1/32", "pl-1", "sg-2", "")


@st.composite
def any_rules(draw) -> SecurityGroupRule:
    from preflight.inventory.model import UserIdGroupPair

    proto = draw(st.sampled_from(["tcp", "udp", "-1", "icmp", "6", "50"]))
    lo = draw(st.integers(0, 40))
    hi = draw(st.integers(lo, 45))
    peer = draw(st.sampled_from(PEERS))
    kw: dict = {}
    if peer.startswith("pl-"):
        kw["prefix_list_id"] = peer
    elif peer.startswith("sg-"):
        kw["referenced_group"] = UserIdGroupPair(group_id=peer, user_id=draw(st.sampled_from(["", "111"])))
    elif ":" in peer:
        kw["cidr_ipv6"] = peer
    elif peer:
        kw["cidr_ipv4"] = peer
    return SecurityGroupRule(
        id=f"sgr-{draw(st.integers(0, 6))}",  # ids may repeat: the analysis must not trust them
        group_id="sg-1", egress=draw(st.booleans()), ip_protocol=proto,
        from_port=draw(st.sampled_from([None, lo])), to_port=draw(st.sampled_from([None, hi])),
        description=draw(st.sampled_from(["", "office"])), **kw)


@settings(max_examples=400, deadline=None)
@given(st.lists(any_rules(), max_size=10))
def test_analyse_group_equals_the_reference_analysis(rules):
    from preflight.semantics.secgroups import analyse_group, analyse_group_reference

    group = SecurityGroup(id="sg-1", vpc_id="vpc-1", rules=tuple(rules))
    assert analyse_group(group) == analyse_group_reference(group)


# --- routes: the per-table memo answers what a fresh longest-prefix match answers ---------------

ROUTE_DESTS = ("0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/16", "::/0", "::/1", "8000::/1", "bad", "")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ROUTE_DESTS), st.sampled_from(["internet_gateway", "nat_gateway"]),
                          st.sampled_from(["igw-1", "igw-2", "nat-1", "nat-x"])), max_size=6))
def test_default_route_memo_equals_a_fresh_selection(routes):
    from preflight.inventory.model import (
        Attachment,
        InternetGateway,
        Inventory,
        NatGateway,
        Route,
        RouteTable,
        RouteTableAssociation,
        Subnet,
    )
    from preflight.semantics.routes import Topology

    table = RouteTable(id="rtb-1", vpc_id="vpc-1", associations=(RouteTableAssociation("a", main=True),), routes=tuple(
        Route(destination_cidr=d if ":" not in d else "", destination_ipv6_cidr=d if ":" in d else "",
              target_kind=k, target_id=t) for d, k, t in routes))
    inv = Inventory(subnets=(Subnet(id="subnet-1", vpc_id="vpc-1", ipv6_cidr_blocks=("2001:db8::/64",)),),
                    route_tables=(table,), nat_gateways=(NatGateway(id="nat-1", vpc_id="vpc-1"),),
                    internet_gateways=(InternetGateway(id="igw-1", attachments=(Attachment("vpc-1", "available"),)),))
    memo = Topology(inv)
    for version, whole in ((4, "0.0.0.0/0"), (6, "::/0")):
        for _ in range(2):  # the second answer comes from the memo
            assert memo.default_route(table, version) == Topology(inv).select_route(table, whole)
            assert memo.internet_route("subnet-1", version) == Topology(inv).internet_route("subnet-1", version)
