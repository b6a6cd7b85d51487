"""Reachability engine: a table of hand-built topologies with the expected verdict, code and
blocking hop; IPv6; bad input; and monotonicity properties (allow never hurts, deny never helps)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from preflight.errors import PreflightError
from preflight.inventory.model import Inventory, NaclEntry, Route, RouteTable, RouteTableAssociation
from preflight.report.path import JSON_SCHEMA, highlight_nodes, render_dot, render_json, render_table
from preflight.semantics import reach
from tests.unit.reach_world import (
    ACL,
    EIGW,
    IGW,
    NAT,
    PRIV,
    PRIV_I,
    PUB,
    RTB_MAIN,
    RTB_PRIV,
    RTB_PUB,
    SG_DEFAULT,
    SG_WEB,
    VPC,
    WEB,
    add_routes,
    allow_all_entries,
    apply,
    change,
    drop,
    drop_routes,
    egress_all,
    healthy,
    nacl_entries,
    sg_rule,
    sg_rules,
    sg_without,
    unreadable,
)

TCP = NaclEntry  # readability below: NaclEntry(rule_number, egress, action, protocol="6", ...)


def deny(n: int, *, egress: bool = False, lo: int | None = None, hi: int | None = None, proto: str = "6",
         cidr: str = "0.0.0.0/0", cidr6: str = "") -> NaclEntry:
    return NaclEntry(rule_number=n, egress=egress, action="deny", protocol=proto, cidr_block="" if cidr6 else cidr,
                     ipv6_cidr_block=cidr6, port_from=lo, port_to=hi if hi is not None else lo)


def nacl_only(*entries: NaclEntry) -> Any:
    """Replace the ACL's entries."""
    return change("network_acls", ACL, entries=entries)


def main_associated(inv: Inventory) -> Inventory:
    """subnet-pub loses its explicit association: it uses the main table."""
    tables = tuple(replace(t, associations=()) if t.id == RTB_PUB else t for t in inv.route_tables)
    return replace(inv, route_tables=tables)


def main_has_default(inv: Inventory) -> Inventory:
    return add_routes(RTB_MAIN, Route(destination_cidr="0.0.0.0/0", target_kind="internet_gateway",
                                      target_id=IGW))(inv)


def no_route_tables_for_priv(inv: Inventory) -> Inventory:
    tables = tuple(t for t in inv.route_tables if t.id not in (RTB_PRIV, RTB_MAIN))
    return replace(inv, route_tables=tables)



# (case id, mutators, src, dst, protocol, port, kwargs, verdict, code, blocking hop id)
CASES: list[tuple[str, tuple[Any, ...], str, str, str, int | None, dict[str, Any], str, str | None, str | None]] = [
    ("healthy-inbound-instance", (), "internet", WEB, "tcp", 8000, {}, "reachable", None, None),
    ("healthy-inbound-subnet-plan-group", (), "internet", PUB, "tcp", 8000, {"security_groups": ("web",)},
     "reachable", None, None),
    ("subnet-default-group-closed", (), "internet", PUB, "tcp", 8000, {}, "unreachable", "SG_NO_INGRESS",
     SG_DEFAULT),
    ("healthy-outbound-igw", (), WEB, "internet", "tcp", 443, {}, "reachable", None, None),
    ("healthy-outbound-nat", (), PRIV_I, "internet", "tcp", 443, {}, "reachable", None, None),
    ("private-subnet-inbound", (), "internet", PRIV_I, "tcp", 8000, {}, "unreachable", "RETURN_ROUTE_NOT_IGW",
     RTB_PRIV),
    ("no-default-route", (drop_routes(RTB_PUB, "0.0.0.0/0"),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "NO_ROUTE_TO_DESTINATION", RTB_PUB),
    ("no-default-route-outbound", (drop_routes(RTB_PUB, "0.0.0.0/0"),), WEB, "internet", "tcp", 443, {},
     "unreachable", "NO_ROUTE_TO_DESTINATION", RTB_PUB),
    ("igw-detached", (change("internet_gateways", IGW, attachments=()),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "IGW_NOT_ATTACHED", IGW),
    ("igw-deleted-blackhole", (drop("internet_gateways", IGW),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "IGW_NOT_ATTACHED", VPC),
    ("nat-deleted-blackhole", (change("nat_gateways", NAT, state="deleted"),), PRIV_I, "internet", "tcp", 443,
     {}, "unreachable", "ROUTE_BLACKHOLE", RTB_PRIV),
    ("nat-private", (change("nat_gateways", NAT, connectivity_type="private"),), PRIV_I, "internet", "tcp", 443,
     {}, "unreachable", "NAT_NOT_PUBLIC", NAT),
    ("nat-subnet-without-default", (drop_routes(RTB_PUB, "0.0.0.0/0"),), PRIV_I, "internet", "tcp", 443, {},
     "unreachable", "NO_ROUTE_TO_DESTINATION", RTB_PUB),
    ("instance-no-public-ip", (change("instances", WEB, public_ip=""),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "NO_PUBLIC_IP", WEB),
    ("subnet-no-public-ip", (change("subnets", PUB, map_public_ip_on_launch=False),), "internet", PUB, "tcp",
     8000, {"security_groups": ("web",)}, "unreachable", "NO_PUBLIC_IP", PUB),
    ("subnet-no-public-ip-plan-asks", (change("subnets", PUB, map_public_ip_on_launch=False),), "internet", PUB,
     "tcp", 8000, {"security_groups": (SG_WEB,), "public_ip": True}, "reachable", None, None),
    ("outbound-igw-needs-public-ip", (change("instances", WEB, public_ip=""),), WEB, "internet", "tcp", 443, {},
     "unreachable", "NO_PUBLIC_IP", WEB),
    ("nacl-deny-before-allow", (nacl_entries(deny(50, lo=8000, hi=8010)),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "NACL_DENY_INBOUND", ACL),
    ("nacl-deny-after-allow-is-shadowed", (nacl_entries(deny(200, lo=8000)),), "internet", WEB, "tcp", 8000, {},
     "reachable", None, None),
    ("nacl-deny-return", (nacl_entries(deny(50, egress=True, lo=1024, hi=65535)),), "internet", WEB, "tcp", 8000,
     {}, "unreachable", "NACL_DENY_RETURN", ACL),
    ("nacl-deny-part-of-ephemeral", (nacl_entries(deny(50, egress=True, lo=32768, hi=40000)),), "internet", WEB,
     "tcp", 8000, {}, "unreachable", "NACL_DENY_RETURN", ACL),
    ("nacl-deny-outbound", (nacl_entries(deny(50, egress=True, lo=443)),), WEB, "internet", "tcp", 443, {},
     "unreachable", "NACL_DENY_OUTBOUND", ACL),
    ("nacl-deny-inbound-return", (nacl_entries(deny(50, lo=1024, hi=65535)),), WEB, "internet", "tcp", 443, {},
     "unreachable", "NACL_DENY_RETURN", ACL),
    ("sg-no-ingress", (sg_without(SG_WEB, "sgr-8000"),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "SG_NO_INGRESS", SG_WEB),
    ("sg-no-egress", (sg_without(SG_WEB, "sgr-sg-web-e4", "sgr-sg-web-e6"),), WEB, "internet", "tcp", 443, {},
     "unreachable", "SG_NO_EGRESS", SG_WEB),
    ("sg-narrow-cidr-vs-world", (sg_without(SG_WEB, "sgr-8000"),
                                 sg_rules(SG_WEB, sg_rule("sgr-n", SG_WEB, lo=8000, cidr="203.0.113.0/24"))),
     "internet", WEB, "tcp", 8000, {}, "unreachable", "SG_NO_INGRESS", SG_WEB),
    ("sg-narrow-cidr-vs-inside-address", (sg_without(SG_WEB, "sgr-8000"),
                                          sg_rules(SG_WEB, sg_rule("sgr-n", SG_WEB, lo=8000, cidr="203.0.113.0/24"))),
     "203.0.113.5", WEB, "tcp", 8000, {}, "reachable", None, None),
    ("udp-not-open", (), "internet", WEB, "udp", 8000, {}, "unreachable", "SG_NO_INGRESS", SG_WEB),
    ("all-protocols-need-minus-one", (sg_rules(SG_WEB, sg_rule("sgr-all", SG_WEB, proto="-1", cidr="0.0.0.0/0")),),
     "internet", WEB, "all", None, {}, "reachable", None, None),
    ("icmp-open", (sg_rules(SG_WEB, sg_rule("sgr-icmp", SG_WEB, proto="icmp", lo=-1, hi=-1, cidr="0.0.0.0/0")),),
     "internet", WEB, "icmp", None, {}, "reachable", None, None),
    ("explicit-table-shadows-main", (drop_routes(RTB_PUB, "0.0.0.0/0"), main_has_default), "internet", WEB, "tcp",
     8000, {}, "unreachable", "NO_ROUTE_TO_DESTINATION", RTB_PUB),
    ("main-table-used-when-no-explicit", (main_associated, main_has_default), "internet", WEB, "tcp", 8000, {},
     "reachable", None, None),
    ("no-route-table-at-all", (no_route_tables_for_priv,), PRIV_I, "internet", "tcp", 443, {}, "unreachable",
     "NO_ROUTE_TO_DESTINATION", PRIV),
    ("ec2-reports-blackhole", (drop_routes(RTB_PUB, "0.0.0.0/0"),
                               add_routes(RTB_PUB, Route(destination_cidr="0.0.0.0/0", target_kind="internet_gateway",
                                                         target_id=IGW, state="blackhole"))),
     "internet", WEB, "tcp", 8000, {}, "unreachable", "ROUTE_BLACKHOLE", RTB_PUB),
    ("instance-stopped", (change("instances", WEB, state="stopped"),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "INSTANCE_NOT_RUNNING", WEB),
    ("route-via-transit-gateway", (drop_routes(RTB_PRIV, "0.0.0.0/0"),
                                   add_routes(RTB_PRIV, Route(destination_cidr="0.0.0.0/0",
                                                              target_kind="transit_gateway", target_id="tgw-1"))),
     PRIV_I, "internet", "tcp", 443, {}, "unknown", "ROUTE_TARGET_UNSUPPORTED", "tgw-1"),
    ("sg-unreadable", (unreadable("security_groups"),), "internet", WEB, "tcp", 8000, {}, "unknown", "UNREADABLE",
     SG_WEB),
    ("more-specific-route-wins", (add_routes(RTB_PUB, Route(destination_cidr="203.0.113.0/24",
                                                            target_kind="nat_gateway", target_id=NAT)),),
     "203.0.113.9", WEB, "tcp", 8000, {}, "unreachable", "RETURN_ROUTE_NOT_IGW", RTB_PUB),
    # internal paths
    ("internal-private-to-public", (), PRIV_I, WEB, "tcp", 22, {}, "reachable", None, None),
    ("internal-sg-closed", (), PRIV_I, WEB, "tcp", 5432, {}, "unreachable", "SG_NO_INGRESS", SG_WEB),
    ("internal-group-reference", (), PRIV, PUB, "tcp", 5432, {}, "reachable", None, None),
    ("internal-nacl-deny-between-subnets", (nacl_entries(deny(10, lo=22, cidr="10.0.2.0/24")),), PRIV_I, WEB,
     "tcp", 22, {}, "unreachable", "NACL_DENY_INBOUND", ACL),
    ("internal-same-subnet-skips-nacl", (nacl_only(),), "10.0.1.0/28", WEB, "tcp", 22,
     {"security_groups": (SG_WEB,)}, "reachable", None, None),
    # IPv6
    ("v6-inbound-igw", (), "internet", WEB, "tcp", 8000, {"version": 6}, "reachable", None, None),
    ("v6-inbound-egress-only", (), "internet", PRIV_I, "tcp", 8000, {"version": 6}, "unreachable",
     "EGRESS_ONLY_INBOUND", RTB_PRIV),
    ("v6-outbound-egress-only", (), PRIV_I, "internet", "tcp", 443, {"version": 6}, "reachable", None, None),
    ("v6-address-implies-v6", (), "2001:db8::/32", WEB, "tcp", 8000, {}, "reachable", None, None),
    ("v4-route-only-v6-blocked", (drop_routes(RTB_PUB, "::/0"),), "internet", WEB, "tcp", 8000, {"version": 6},
     "unreachable", "NO_ROUTE_TO_DESTINATION", RTB_PUB),
    ("v4-route-only-v4-fine", (drop_routes(RTB_PUB, "::/0"),), "internet", WEB, "tcp", 8000, {}, "reachable",
     None, None),
    ("v6-route-only-v4-blocked", (drop_routes(RTB_PUB, "0.0.0.0/0"),), "internet", WEB, "tcp", 8000, {},
     "unreachable", "NO_ROUTE_TO_DESTINATION", RTB_PUB),
    ("v6-route-only-v6-fine", (drop_routes(RTB_PUB, "0.0.0.0/0"),), "internet", WEB, "tcp", 8000, {"version": 6},
     "reachable", None, None),
    ("v6-no-public-ipv4-needed", (change("instances", WEB, public_ip=""),), "internet", WEB, "tcp", 8000,
     {"version": 6}, "reachable", None, None),
    ("v6-instance-without-ipv6", (change("instances", WEB, ipv6_addresses=()),), "internet", WEB, "tcp", 8000,
     {"version": 6}, "unreachable", "NO_IPV6_ADDRESS", WEB),
    ("v6-subnet-without-ipv6", (change("subnets", PUB, ipv6_cidr_blocks=(), assign_ipv6_address_on_creation=False),),
     "internet", PUB, "tcp", 8000, {"version": 6, "security_groups": (SG_WEB,)}, "unreachable", "NO_IPV6_ADDRESS",
     PUB),
    ("v6-nacl-allows-v4-only", (nacl_only(NaclEntry(100, False, "allow", "-1", cidr_block="0.0.0.0/0"),
                                          NaclEntry(100, True, "allow", "-1", cidr_block="0.0.0.0/0")),),
     "internet", WEB, "tcp", 8000, {"version": 6}, "unreachable", "NACL_DENY_INBOUND", ACL),
    ("v6-sg-v4-rule-does-not-count", (sg_without(SG_WEB, "sgr-8000v6"),), "internet", WEB, "tcp", 8000,
     {"version": 6}, "unreachable", "SG_NO_INGRESS", SG_WEB),
    ("v6-eigw-detached-blackhole", (change("egress_only_internet_gateways", EIGW, attachments=(
        replace(healthy().egress_only_internet_gateways[0].attachments[0], vpc_id="vpc-other"),)),),
     PRIV_I, "internet", "tcp", 443, {"version": 6}, "unreachable", "ROUTE_BLACKHOLE", RTB_PRIV),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_topology_table(case: tuple[Any, ...]) -> None:
    _, muts, src, dst, proto, port, kw, verdict, code, blocker = case
    result = reach.path(apply(*muts), src, dst, proto, port, **kw)
    assert result.verdict == verdict, [(h.kind, h.id, h.status, h.code, h.detail) for h in result.hops]
    assert result.code == code
    if blocker is not None:
        assert result.first_blocker is not None and result.first_blocker.id == blocker
    jsonschema.validate(json.loads(render_json(result, all_blockers=True)), JSON_SCHEMA)
    assert result.exit_code() == {"reachable": 0, "unreachable": 1, "unknown": 3}[verdict]


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 20
    v6 = [c for c in CASES if c[0].startswith("v6")]
    assert len(v6) >= 8


# --- the hops and their evidence --------------------------------------------------------------------
def test_reachable_hops_name_what_admitted_the_packet() -> None:
    r = reach.path(healthy(), "internet", WEB, "tcp", 8000)
    assert [(h.kind, h.id, h.direction) for h in r.hops] == [
        ("internet_gateway", IGW, "inbound"), ("route_table", RTB_PUB, "return"), ("public_ip", WEB, "inbound"),
        ("network_acl", ACL, "inbound"), ("security_group", SG_WEB, "inbound"), ("instance", WEB, "inbound"),
        ("network_acl", ACL, "return")]
    by_kind = {h.kind: h for h in r.hops}
    assert by_kind["route_table"].rule == "0.0.0.0/0 -> igw-1"
    assert by_kind["security_group"].rule.startswith("sgr-8000 tcp 8000 from 0.0.0.0/0")
    assert by_kind["network_acl"].rule == "rule #100 allow all 0.0.0.0/0"
    assert by_kind["public_ip"].rule == "203.0.113.10"


def test_outbound_through_nat_names_both_route_tables() -> None:
    r = reach.path(healthy(), PRIV_I, "internet", "tcp", 443)
    assert [h.id for h in r.hops if h.kind in ("route_table", "nat_gateway", "internet_gateway")] == [
        RTB_PRIV, NAT, RTB_PUB, IGW]


def test_missing_default_route_names_table_and_fix() -> None:
    r = reach.path(apply(drop_routes(RTB_PUB, "0.0.0.0/0")), "internet", WEB, "tcp", 8000)
    hop = r.first_blocker
    assert hop is not None and hop.code == "NO_ROUTE_TO_DESTINATION"
    assert "no default route (0.0.0.0/0)" in hop.detail and "explicitly associated with subnet-pub" in hop.detail
    assert hop.fix is not None and hop.fix.fixer == "route-add-default"
    assert hop.fix.commands == ("aws ec2 create-route --region eu-south-1 --route-table-id rtb-pub "
                                "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)


def _live_nat(inv: Inventory) -> Inventory:
    """A second, live NAT gateway in the VPC: an obvious target for a dead NAT route."""
    live = replace(next(n for n in inv.nat_gateways if n.id == NAT), id="nat-live", state="available")
    return replace(inv, nat_gateways=(*inv.nat_gateways, live))


def test_a_blackhole_with_nothing_to_point_at_names_no_fixer() -> None:
    """The NAT gateway to create is printed for a human; `route-replace-blackhole` would refuse it, so
    the hop does not advertise it (issue 16 item 21)."""
    r = reach.path(apply(change("nat_gateways", NAT, state="deleted")), PRIV_I, "internet", "tcp", 443)
    hop = next(h for h in r.blockers if h.code == "ROUTE_BLACKHOLE")
    assert hop.fix is not None and hop.fix.fixer is None
    assert any("create-nat-gateway" in c for c in hop.fix.commands)


def test_a_stopped_instance_is_started_in_its_region() -> None:
    hop = reach.path(apply(change("instances", WEB, state="stopped")), "internet", WEB, "tcp", 8000).first_blocker
    assert hop is not None and hop.code == "INSTANCE_NOT_RUNNING" and hop.fix is not None
    assert hop.fix.commands == (f"aws ec2 start-instances --region eu-south-1 --instance-ids {WEB}",)


def test_fixers_for_each_code() -> None:
    cases = {
        "IGW_NOT_ATTACHED": (apply(change("internet_gateways", IGW, attachments=())), "internet", WEB, 4),
        "NO_PUBLIC_IP": (apply(change("subnets", PUB, map_public_ip_on_launch=False)), "internet", PUB, 4),
        "ROUTE_BLACKHOLE": (apply(change("nat_gateways", NAT, state="deleted"), _live_nat), PRIV_I, "internet", 4),
        "SG_NO_INGRESS": (apply(sg_without(SG_WEB, "sgr-8000")), "internet", WEB, 4),
    }
    fixers = {"IGW_NOT_ATTACHED": "igw-attach", "NO_PUBLIC_IP": "subnet-map-public-ip",
              "ROUTE_BLACKHOLE": "route-replace-blackhole", "SG_NO_INGRESS": "sg-open-missing-ports"}
    for code, (inv, src, dst, _) in cases.items():
        r = reach.path(inv, src, dst, "tcp", 8000, security_groups=(SG_WEB,) if dst == PUB else ())
        hop = next(h for h in r.blockers if h.code == code)
        assert hop.fix is not None and hop.fix.fixer == fixers[code], code
        assert all("--region eu-south-1" in c for c in hop.fix.commands)
    hop = reach.path(apply(change("internet_gateways", IGW, attachments=())), "internet", WEB, "tcp",
                     8000).first_blocker
    assert hop is not None and hop.fix is not None
    assert hop.fix.commands[-1].endswith("attach-internet-gateway --region eu-south-1 --internet-gateway-id igw-1 "
                                         "--vpc-id vpc-1")
    sg = reach.path(apply(sg_without(SG_WEB, "sgr-8000")), "internet", WEB, "tcp", 8000).first_blocker
    assert sg is not None and sg.fix is not None
    assert sg.fix.commands == ("aws ec2 authorize-security-group-ingress --region eu-south-1 --group-id sg-web "
                               "--protocol tcp --port 8000 --cidr 0.0.0.0/0",)


def test_nacl_fix_goes_before_the_deny() -> None:
    r = reach.path(apply(nacl_entries(deny(50, lo=8000, hi=8010))), "internet", WEB, "tcp", 8000)
    hop = r.first_blocker
    assert hop is not None and hop.rule == "rule #50 deny tcp 8000-8010 0.0.0.0/0"
    assert hop.fix is not None and "--rule-number 49" in hop.fix.commands[0]
    assert "--ingress" in hop.fix.commands[0] and "--port-range From=8000,To=8000" in hop.fix.commands[0]
    ret = reach.path(apply(nacl_entries(deny(50, egress=True, lo=32768, hi=40000))), "internet", WEB, "tcp", 8000)
    hop = ret.first_blocker
    assert hop is not None and "ephemeral port 32768" in hop.detail
    assert hop.fix is not None and "--egress" in hop.fix.commands[0] and "From=1024,To=65535" in hop.fix.commands[0]


def test_all_blockers_lists_every_blocking_hop_in_path_order() -> None:
    inv = apply(drop_routes(RTB_PUB, "0.0.0.0/0"), change("subnets", PUB, map_public_ip_on_launch=False))
    r = reach.path(inv, "internet", PUB, "tcp", 8000)
    assert r.codes == ["NO_ROUTE_TO_DESTINATION", "NO_PUBLIC_IP", "SG_NO_INGRESS"]
    first = r.to_dict()
    every = r.to_dict(all_blockers=True)
    assert [b["code"] for b in first["blockers"]] == ["NO_ROUTE_TO_DESTINATION"]
    assert [b["code"] for b in every["blockers"]] == r.codes
    assert len(first["hops"]) == 2 and len(every["hops"]) == len(r.hops)
    text = render_table(r)
    assert "UNREACHABLE: NO_ROUTE_TO_DESTINATION at rtb-pub" in text
    assert "2 more: NO_PUBLIC_IP, SG_NO_INGRESS (see --all-blockers)" in text
    full = render_table(r, all_blockers=True)
    assert "NO_PUBLIC_IP at subnet-pub" in full and "modify-subnet-attribute" in full


def test_no_igw_and_no_route_reports_both() -> None:
    inv = apply(drop_routes(RTB_PUB, "0.0.0.0/0", "::/0"), drop("internet_gateways", IGW))
    r = reach.path(inv, "internet", WEB, "tcp", 8000)
    assert r.codes[:2] == ["IGW_NOT_ATTACHED", "NO_ROUTE_TO_DESTINATION"]
    fix = r.blockers[0].fix
    assert fix is not None and fix.commands[0].startswith("IGW=$(aws ec2 create-internet-gateway --region eu-south-1")


def test_source_address_is_longest_prefix_matched_on_the_way_back() -> None:
    inv = apply(add_routes(RTB_PUB, Route(destination_cidr="198.51.100.0/24", target_kind="nat_gateway",
                                          target_id=NAT)))
    assert reach.path(inv, "203.0.113.9", WEB, "tcp", 8000).reachable
    assert reach.path(inv, "198.51.100.9", WEB, "tcp", 8000).code == "RETURN_ROUTE_NOT_IGW"


def test_cidr_source_must_be_wholly_inside_sg_rule() -> None:
    inv = apply(sg_without(SG_WEB, "sgr-8000"), sg_rules(SG_WEB, sg_rule("sgr-n", SG_WEB, lo=8000,
                                                                         cidr="203.0.113.0/25")))
    assert reach.path(inv, "203.0.113.0/25", WEB, "tcp", 8000).reachable
    assert reach.path(inv, "203.0.113.0/24", WEB, "tcp", 8000).code == "SG_NO_INGRESS"


def test_address_inside_a_subnet_resolves_to_the_instance() -> None:
    r = reach.path(healthy(), "internet", "10.0.1.10", "tcp", 8000)
    assert r.destination.id == WEB and r.destination.kind == "instance"
    r = reach.path(healthy(), "internet", "eni-web", "tcp", 8000)
    assert r.destination.kind == "network_interface" and r.reachable


def test_name_tag_resolves() -> None:
    r = reach.path(healthy(), "internet", "pub", "tcp", 8000, security_groups=(SG_WEB,))
    assert r.destination.id == PUB and r.reachable


def test_peering_between_vpcs() -> None:
    from preflight.inventory.model import Subnet, Vpc, VpcPeeringConnection

    inv = healthy()
    other = RouteTable(id="rtb-b", vpc_id="vpc-b", routes=(
        Route(destination_cidr="10.9.0.0/16", target_kind="local", target_id="local"),
        Route(destination_cidr="10.0.0.0/16", target_kind="vpc_peering", target_id="pcx-1")),
        associations=(RouteTableAssociation(id="a", subnet_id="subnet-b"),))
    inv = replace(
        inv, vpcs=inv.vpcs + (Vpc(id="vpc-b", cidr_blocks=("10.9.0.0/16",)),),
        subnets=inv.subnets + (Subnet(id="subnet-b", vpc_id="vpc-b", cidr_block="10.9.1.0/24"),),
        route_tables=inv.route_tables + (other,),
        network_acls=inv.network_acls + (replace(inv.network_acls[0], id="acl-b", vpc_id="vpc-b",
                                                             associations=()),),
        security_groups=inv.security_groups + (replace(inv.security_groups[1], id="sg-b",
                                                                   vpc_id="vpc-b"),),
        vpc_peering_connections=(VpcPeeringConnection(id="pcx-1", requester_vpc_id=VPC, accepter_vpc_id="vpc-b",
                                                      status="active"),))
    no_route = reach.path(inv, "subnet-b", WEB, "tcp", 22)
    assert no_route.code == "SG_NO_INGRESS" or no_route.code == "NO_ROUTE_TO_DESTINATION"
    assert "NO_ROUTE_TO_DESTINATION" not in no_route.codes  # vpc-b routes to vpc-1 through pcx-1
    inv = add_routes(RTB_PUB, Route(destination_cidr="10.9.0.0/16", target_kind="vpc_peering",
                                    target_id="pcx-1"))(inv)
    inv = sg_rules(SG_WEB, sg_rule("sgr-b", SG_WEB, lo=22, cidr="10.9.0.0/16"))(inv)
    ok = reach.path(inv, "subnet-b", WEB, "tcp", 22)
    assert ok.reachable, [(h.id, h.code, h.detail) for h in ok.hops]
    assert "pcx-1" in [h.id for h in ok.hops]
    gone = replace(inv, vpc_peering_connections=(replace(
        inv.vpc_peering_connections[0], status="deleted"),))
    assert reach.path(gone, "subnet-b", WEB, "tcp", 22).code == "ROUTE_BLACKHOLE"


# --- output ---------------------------------------------------------------------------------------
def test_dot_highlights_the_path() -> None:
    r = reach.path(healthy(), "internet", WEB, "tcp", 8000)
    assert highlight_nodes(r) == [WEB, SG_WEB, WEB, PUB, ACL, PUB, RTB_PUB, IGW, "internet"]
    dot = render_dot(r, healthy())
    assert '"igw-1" [label="internet_gateway\\nigw-1", color=red, penwidth=2];' in dot
    for edge in ('"rtb-pub" -> "igw-1" [label="ROUTES_TO 0.0.0.0/0"', '"i-web" -> "sg-web" [label="PROTECTED_BY"',
                 '"subnet-pub" -> "acl-1" [label="ASSOCIATED_WITH"', '"igw-1" -> "internet" [label="ROUTES_TO'):
        line = next(x for x in dot.splitlines() if x.strip().startswith(edge))
        assert "color=red" in line, line
    # stopped at the missing route: the route table is drawn, the gateway behind it is not reached
    stop = reach.path(apply(drop_routes(RTB_PUB, "0.0.0.0/0")), WEB, "internet", "tcp", 443)
    assert highlight_nodes(stop)[-2:] == [RTB_PUB, "internet"] and IGW not in highlight_nodes(stop)
    nat = reach.path(healthy(), PRIV_I, "internet", "tcp", 443)
    assert highlight_nodes(nat)[-6:] == [RTB_PRIV, NAT, PUB, RTB_PUB, IGW, "internet"]


def test_json_contract() -> None:
    r = reach.path(apply(drop_routes(RTB_PUB, "0.0.0.0/0")), "internet", PUB, "tcp", 8000)
    doc = json.loads(render_json(r))
    jsonschema.validate(doc, JSON_SCHEMA)
    assert doc["schema"] == "preflight-path/v1"
    assert doc["verdict"] == "unreachable" and doc["code"] == "NO_ROUTE_TO_DESTINATION"
    assert doc["blocker"]["id"] == RTB_PUB and doc["blocker"]["fix"]["fixer"] == "route-add-default"
    assert doc["to"]["kind"] == "subnet" and doc["to"]["id"] == PUB and doc["from"]["address"] == "0.0.0.0/0"


def test_every_code_is_documented() -> None:
    import inspect

    source = inspect.getsource(reach)
    used = set(__import__("re").findall(r'code="([A-Z_]+)"', source))
    used |= {"NACL_DENY_INBOUND", "NACL_DENY_OUTBOUND", "NACL_DENY_RETURN", "SG_NO_INGRESS", "SG_NO_EGRESS"}
    assert used <= set(reach.CODES), used - set(reach.CODES)


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("src,dst,proto,port,needle", [
    ("internet", "i-nope", "tcp", 80, "unknown instance i-nope"),
    ("internet", "subnet-nope", "tcp", 80, "unknown subnet subnet-nope"),
    ("eni-nope", "internet", "tcp", 80, "unknown network interface eni-nope"),
    ("internet", "10.0.0.0/33", "tcp", 80, "is not an instance id"),
    ("internet", "bogus", "tcp", 80, "is not an instance id"),
    ("internet", WEB, "tcp", 70000, "out of range"),
    ("internet", WEB, "tcp", 0, "out of range"),
    ("internet", WEB, "tcp", None, "--port is needed"),
    ("internet", WEB, "icmp", 80, "tcp and udp only"),
    ("internet", WEB, "sctp", 80, "--protocol"),
    ("internet", "203.0.113.0/24", "tcp", 80, "neither"),
    ("10.0.0.0/16", WEB, "tcp", 80, "is not inside one subnet (it overlaps subnet-pub, subnet-priv)"),
    ("10.0.3.0/24", WEB, "tcp", 80, "in none of its subnets"),
    ("2001:db8::/32", "10.0.1.10", "tcp", 80, "same IP family"),
])
def test_bad_input_is_one_line(src: str, dst: str, proto: str, port: int | None, needle: str) -> None:
    with pytest.raises(PreflightError) as exc:
        reach.path(healthy(), src, dst, proto, port)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_plan_group_is_bad_input() -> None:
    with pytest.raises(PreflightError, match="security group 'nope' is not in vpc-1"):
        reach.path(healthy(), "internet", PUB, "tcp", 8000, security_groups=("nope",))


# --- properties: allow never hurts, deny never helps ---------------------------------------------
CIDRS = ["0.0.0.0/0", "0.0.0.0/0", "203.0.113.0/24", "10.0.0.0/8", "0.0.0.0/1", "::/0", "2001:db8::/32"]
PORT_EDGES = [22, 443, 1024, 8000, 8010, 32768, 65535]


@st.composite
def nacl_entry(draw: Any, action: str | None = None, number: int | None = None) -> NaclEntry:
    proto = draw(st.sampled_from(["-1", "6", "17"]))
    lo = draw(st.sampled_from(PORT_EDGES)) if proto != "-1" else None
    hi = draw(st.sampled_from([p for p in PORT_EDGES if lo is None or p >= lo])) if lo is not None else None
    cidr = draw(st.sampled_from(CIDRS))
    return NaclEntry(rule_number=number if number is not None else draw(st.integers(1, 120)),
                     egress=draw(st.booleans()), action=action or draw(st.sampled_from(["allow", "deny"])),
                     protocol=proto, cidr_block="" if ":" in cidr else cidr,
                     ipv6_cidr_block=cidr if ":" in cidr else "", port_from=lo, port_to=hi)


@st.composite
def ingress_rule(draw: Any, group: str = SG_WEB) -> Any:
    proto = draw(st.sampled_from(["-1", "tcp", "udp"]))
    lo = draw(st.sampled_from(PORT_EDGES)) if proto != "-1" else None
    hi = draw(st.sampled_from([p for p in PORT_EDGES if lo is None or p >= lo])) if lo is not None else None
    cidr = draw(st.sampled_from(CIDRS))
    return sg_rule(f"sgr-h{draw(st.integers(0, 10**6))}", group, egress=draw(st.sampled_from([False, False, True])),
                   proto=proto, lo=lo, hi=hi, **({"cidr6": cidr} if ":" in cidr else {"cidr": cidr}))


QUERIES = [("internet", WEB, 4), (WEB, "internet", 4), ("203.0.113.7", WEB, 4), (PRIV_I, "internet", 4),
           (PRIV_I, WEB, 4), ("internet", WEB, 6), (PRIV_I, "internet", 6), ("2001:db8::7", WEB, 6)]


def _world(entries: list[NaclEntry], rules: list[Any]) -> Inventory:
    """The healthy world with random NACL entries in front of its allow-all entries (#100, #101) and
    random rules next to its egress-all rules (so that many paths are reachable, and can change)."""
    return apply(nacl_only(*entries, *allow_all_entries()),
                 sg_rules(SG_WEB, *rules, *egress_all(SG_WEB), keep=False))


def _verdicts(inv: Inventory, proto: str, port: int) -> list[str]:
    return [reach.path(inv, s, d, proto, port, version=v).verdict for s, d, v in QUERIES]


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(entries=st.lists(nacl_entry(), max_size=6), rules=st.lists(ingress_rule(), max_size=5),
       extra=ingress_rule(), proto=st.sampled_from(["tcp", "udp"]), port=st.sampled_from(PORT_EDGES))
def test_adding_a_security_group_rule_never_blocks(entries: list[NaclEntry], rules: list[Any], extra: Any,
                                                   proto: str, port: int) -> None:
    before = _verdicts(_world(entries, rules), proto, port)
    after = _verdicts(_world(entries, rules + [extra]), proto, port)
    for b, a in zip(before, after, strict=True):
        assert not (b == "reachable" and a != "reachable")


@SETTINGS
@given(entries=st.lists(nacl_entry(), max_size=6), rules=st.lists(ingress_rule(), max_size=5),
       new=nacl_entry(action="allow", number=0), proto=st.sampled_from(["tcp", "udp"]),
       port=st.sampled_from(PORT_EDGES))
def test_adding_a_nacl_allow_numbered_first_never_blocks(entries: list[NaclEntry], rules: list[Any],
                                                         new: NaclEntry, proto: str, port: int) -> None:
    before = _verdicts(_world(entries, rules), proto, port)
    after = _verdicts(_world([replace(new, rule_number=0), *entries], rules), proto, port)
    for b, a in zip(before, after, strict=True):
        assert not (b == "reachable" and a != "reachable")


@SETTINGS
@given(entries=st.lists(nacl_entry(), max_size=6), rules=st.lists(ingress_rule(), max_size=5),
       new=nacl_entry(action="deny", number=0), proto=st.sampled_from(["tcp", "udp"]),
       port=st.sampled_from(PORT_EDGES))
def test_adding_a_nacl_deny_numbered_first_never_opens(entries: list[NaclEntry], rules: list[Any],
                                                       new: NaclEntry, proto: str, port: int) -> None:
    before = _verdicts(_world(entries, rules), proto, port)
    after = _verdicts(_world([replace(new, rule_number=0), *entries], rules), proto, port)
    for b, a in zip(before, after, strict=True):
        assert not (b != "reachable" and a == "reachable")


@SETTINGS
@given(entries=st.lists(nacl_entry(), max_size=6), rules=st.lists(ingress_rule(), min_size=1, max_size=6),
       drop_index=st.integers(0, 5), proto=st.sampled_from(["tcp", "udp"]), port=st.sampled_from(PORT_EDGES))
def test_removing_a_security_group_rule_never_opens(entries: list[NaclEntry], rules: list[Any], drop_index: int,
                                                    proto: str, port: int) -> None:
    before = _verdicts(_world(entries, rules), proto, port)
    fewer = rules[:drop_index % len(rules)] + rules[drop_index % len(rules) + 1:]
    after = _verdicts(_world(entries, fewer), proto, port)
    for b, a in zip(before, after, strict=True):
        assert not (b != "reachable" and a == "reachable")


@SETTINGS
@given(entries=st.lists(nacl_entry(), max_size=6), proto=st.sampled_from(["tcp", "udp"]),
       port=st.sampled_from(PORT_EDGES))
def test_verdict_does_not_depend_on_entry_listing_order(entries: list[NaclEntry], proto: str, port: int) -> None:
    # NACL entries are evaluated by rule number, whatever order the API lists them in.
    numbered = [replace(e, rule_number=i + 1) for i, e in enumerate(entries)]
    inv = _world(numbered, [])
    rev = _world(list(reversed(numbered)), [])
    assert _verdicts(inv, proto, port) == _verdicts(rev, proto, port)


def test_readme_documents_every_code() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Why can't I reach it? `preflight path`", 1)[1].split("\n## ", 1)[0]
    for code, (fixer, _) in reach.CODES.items():
        assert f"| `{code}` |" in section, code
        if fixer:
            assert f"`{fixer}`" in section, fixer
