"""Network ACL semantics: first match by rule number, implicit deny, port ranges (with properties)."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.inventory import model as m
from preflight.semantics import nacl as n
from tests.rules.conftest import entry, inventory, nacl, subnet, vpc


def acl(*entries: m.NaclEntry) -> m.NetworkAcl:
    return m.NetworkAcl(id="acl-1", vpc_id="vpc-1", entries=entries)


def test_deny_numbered_before_allow_wins():
    a = acl(entry(100), entry(90, "deny", protocol="6", ports=(8000, 8010)))
    assert not n.allows(a, False, "tcp", 8000, "0.0.0.0/0")
    assert n.first_match(a, False, "tcp", 8000, "0.0.0.0/0").rule_number == 90
    assert n.allows(a, False, "tcp", 8011, "0.0.0.0/0")


def test_allow_numbered_before_deny_wins():
    a = acl(entry(90, "deny", protocol="6", ports=(8000, 8010)), entry(80, protocol="6", ports=(8000, 8000)))
    assert n.allows(a, False, "tcp", 8000, "0.0.0.0/0")
    assert not n.allows(a, False, "tcp", 8001, "0.0.0.0/0")


def test_implicit_deny_and_direction_and_protocol():
    a = acl(entry(100, egress=True), entry(100, protocol="17", ports=(53, 53)))
    assert n.first_match(a, False, "tcp", 53, "0.0.0.0/0") is None
    assert n.allows(a, False, "udp", 53, "0.0.0.0/0")
    assert n.allows(a, True, "tcp", 53, "0.0.0.0/0")


def test_protocol_names_in_entries_are_normalised():
    assert n.allows(acl(entry(100, protocol="tcp", ports=(22, 22))), False, "6", 22, "0.0.0.0/0")


def test_peer_must_be_wholly_inside_the_entry_cidr():
    a = acl(entry(100, cidr="10.0.0.0/8"))
    assert n.allows(a, False, "tcp", 22, "10.1.0.0/16")
    assert not n.allows(a, False, "tcp", 22, "0.0.0.0/0")
    assert not n.allows(a, False, "tcp", 22, "::/0")  # IPv6 needs an IPv6 entry
    assert n.allows(acl(entry(100, ipv6="::/0")), False, "tcp", 22, "2001:db8::/64")


def test_port_decisions_split_the_range_by_deciding_entry():
    a = acl(entry(50, "deny", egress=True, protocol="6", ports=(2000, 3000)), entry(100, egress=True))
    d = n.port_decisions(a, True, "tcp", "0.0.0.0/0")
    assert [(lo, hi, e.rule_number) for lo, hi, e in d] == [(1024, 1999, 100), (2000, 3000, 50), (3001, 65535, 100)]
    assert [(lo, hi) for lo, hi, _ in n.denied_ranges(a, True, "tcp", "0.0.0.0/0")] == [(2000, 3000)]
    assert n.blocked_ephemeral(a, True, "tcp", "0.0.0.0/0") == [2000, 3000]


def test_subnet_acls_use_association_else_vpc_default_and_ignore_dangling():
    inv = inventory(vpc("vpc-1"), subnet("subnet-1"), subnet("subnet-2", cidr="10.0.2.0/24"),
                    nacl("acl-default", "vpc-1", ["subnet-2"], default=True),
                    nacl("acl-custom", "vpc-1", ["subnet-1"]),
                    nacl("acl-left-behind", "vpc-deleted", ["subnet-gone"], default=True))
    got = {k: v.id for k, v in n.subnet_acls(inv).items()}
    assert got == {"subnet-1": "acl-custom", "subnet-2": "acl-default"}
    inv2 = inventory(vpc("vpc-1"), subnet("subnet-1"), nacl("acl-default", "vpc-1", [], default=True))
    assert n.subnet_acls(inv2)["subnet-1"].id == "acl-default"


# --- properties ---------------------------------------------------------------------------------

PORT_LO, PORT_HI = 1000, 1060  # a small port space so brute force is cheap and edges collide often

entries_st = st.lists(
    st.builds(
        lambda number, action, proto, ports, cidr: m.NaclEntry(
            rule_number=number, egress=False, action=action, protocol=proto, cidr_block=cidr,
            port_from=min(ports) if proto == "6" else None, port_to=max(ports) if proto == "6" else None),
        st.integers(1, 32766),
        st.sampled_from(["allow", "deny"]),
        st.sampled_from(["6", "-1", "17"]),
        st.tuples(st.integers(PORT_LO, PORT_HI), st.integers(PORT_LO, PORT_HI)),
        st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16"]),
    ),
    max_size=8, unique_by=lambda e: e.rule_number,  # AWS rule numbers are unique per direction
)
peers = st.sampled_from(["0.0.0.0/0", "10.1.2.3/32", "10.0.0.0/8", "192.0.2.0/24"])


@settings(max_examples=200, deadline=None)
@given(entries_st, st.integers(PORT_LO, PORT_HI), peers, st.randoms(use_true_random=False))
def test_first_match_depends_on_rule_numbers_not_list_order(entries, port, peer, rnd: random.Random):
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    a, b = acl(*entries), acl(*shuffled)
    assert n.first_match(a, False, "tcp", port, peer) == n.first_match(b, False, "tcp", port, peer)
    # Oracle: the matching entry with the lowest rule number.
    matching = [e for e in entries if n.entry_matches(e, "tcp", port, peer)]
    expected = min(matching, key=lambda e: e.rule_number) if matching else None
    assert n.first_match(a, False, "tcp", port, peer) == expected


@settings(max_examples=150, deadline=None)
@given(entries_st, peers, st.integers(PORT_LO, PORT_HI), st.integers(PORT_LO, PORT_HI))
def test_port_decisions_agree_with_per_port_evaluation(entries, peer, x, y):
    lo, hi = min(x, y), max(x, y)
    a = acl(*entries)
    decisions = n.port_decisions(a, False, "tcp", peer, lo, hi)
    # The ranges tile lo..hi exactly, in order.
    assert decisions[0][0] == lo and decisions[-1][1] == hi
    assert all(prev[1] + 1 == cur[0] for prev, cur in itertools.pairwise(decisions))
    for start, stop, decided in decisions:
        for port in range(start, stop + 1):
            assert n.first_match(a, False, "tcp", port, peer) == decided
    denied = {p for s, e, _ in n.denied_ranges(a, False, "tcp", peer, lo, hi) for p in range(s, e + 1)}
    assert denied == {p for p in range(lo, hi + 1) if not n.allows(a, False, "tcp", p, peer)}
