"""The fast paths added for large accounts (bench/) give exactly the answers of the plain
definitions they replace."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.inventory.model import SecurityGroup, SecurityGroupRule
from preflight.semantics.secgroups import ADMIN_PORTS, admin_ports_open_to_world, rules_admitting

CIDRS = ("0.0.0.0/0", "::/0", "10.0.0.0/8", "203.0.113.0/24", "2001:db8::/32", "1.2.3.4/0", "")


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
