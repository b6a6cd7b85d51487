"""NET007 network-acl-blocks-traffic: ordered first match, stateless return path, plan ports and source."""

from __future__ import annotations

from tests.rules.conftest import (
    entry,
    igw,
    inventory,
    nacl,
    public_vpc,
    route_table,
    run_rules,
    subnet,
    vpc,
)

ALLOW_OUT = entry(100, egress=True)


def with_acl(*entries, subnets=("subnet-1",), extra=()):
    res = public_vpc(1)
    res[4] = nacl("acl-1", "vpc-1", subnets, entries=entries, name="app-acl")
    return [*res, *extra]


def net007(*resources, plan=None):
    return run_rules(inventory(*resources), plan, select=["NET007"])


def test_deny_numbered_before_allow_blocks_the_plan_port():
    res = with_acl(entry(90, "deny", protocol="6", ports=(8000, 8010)), entry(100), ALLOW_OUT)
    f = net007(*res, plan={"ports": [8000]}).one("NET007")
    assert (f.resource, f.severity, f.status) == ("subnet-1", "high", "FAIL")
    assert f.path == ("subnet-1", "acl-1")
    assert "acl-1 (app-acl) of subnet subnet-1 denies inbound TCP 8000 from 0.0.0.0/0 (rule #90 deny)" in f.message
    assert f.fix.commands == ("aws ec2 create-network-acl-entry --region eu-south-1 --network-acl-id acl-1 --ingress "
                              "--rule-number 89 --protocol tcp --port-range From=8000,To=8000 --cidr-block 0.0.0.0/0 "
                              "--rule-action allow",)
    assert f.details["inbound_denied"] == [[8000, 8000, 90]] and f.details["outbound_denied"] == []


def test_twin_with_allow_numbered_first_is_clean():
    res = with_acl(entry(80, protocol="6", ports=(8000, 8000)), entry(90, "deny", protocol="6", ports=(8000, 8010)),
                   entry(100), ALLOW_OUT)
    assert net007(*res, plan={"ports": [8000]}) == []


def test_entry_order_in_the_list_does_not_matter_only_numbers():
    res = with_acl(ALLOW_OUT, entry(100), entry(90, "deny", protocol="6", ports=(8000, 8010)))
    assert net007(*res, plan={"ports": [8000]}).one("NET007").details["inbound_denied"] == [[8000, 8000, 90]]


def test_plan_ports_are_grouped_into_runs():
    res = with_acl(entry(90, "deny", protocol="6", ports=(8000, 8010)), entry(100), ALLOW_OUT)
    f = net007(*res, plan={"ports": "8000,8001,8002,8005,9000"}).one("NET007")
    assert "inbound TCP 8000-8002" in f.message and "and; " not in f.message
    assert f.details["inbound_denied"] == [[8000, 8002, 90], [8005, 8005, 90]]
    assert [c.split("--rule-number ")[1].split()[0] for c in f.fix.commands] == ["89", "88"]


def test_without_a_plan_only_the_return_path_is_checked():
    res = with_acl(entry(90, "deny", protocol="6", ports=(8000, 8010)), entry(100), ALLOW_OUT)
    assert net007(*res) == []


def test_missing_outbound_ephemeral_allow_blocks_replies():
    res = with_acl(entry(100), entry(100, egress=True, protocol="6", ports=(443, 443)))
    f = net007(*res).one("NET007")
    assert "outbound TCP 1024-65535 to 0.0.0.0/0, the ephemeral ports replies use (no entry allows it" in f.message
    assert f.fix.commands == ("aws ec2 create-network-acl-entry --region eu-south-1 --network-acl-id acl-1 --egress "
                              "--rule-number 110 --protocol tcp --port-range From=1024,To=65535 --cidr-block "
                              "0.0.0.0/0 --rule-action allow",)


def test_partial_outbound_deny_is_reported_as_its_range():
    res = with_acl(entry(100), entry(50, "deny", egress=True, protocol="6", ports=(2000, 3000)), ALLOW_OUT)
    f = net007(*res).one("NET007")
    assert f.details["outbound_denied"] == [[2000, 3000, 50]]
    assert "--egress --rule-number 49" in f.fix.commands[0] and "From=2000,To=3000" in f.fix.commands[0]


def test_outbound_allow_only_to_part_of_the_source_does_not_count():
    res = with_acl(entry(100), entry(100, egress=True, cidr="10.0.0.0/8"))
    assert net007(*res).one("NET007").details["outbound_denied"] == [[1024, 65535, None]]


def test_source_cidr_from_the_plan():
    res = with_acl(entry(100, protocol="6", ports=(8000, 8000), cidr="203.0.113.0/24"), entry(200, "deny"),
                   ALLOW_OUT)
    assert net007(*res, plan={"ports": [8000], "source_cidr": "203.0.113.0/24"}) == []
    f = net007(*res, plan={"ports": [8000]}).one("NET007")
    assert "inbound TCP 8000 from 0.0.0.0/0 (rule #200 deny)" in f.message


def test_ipv6_source_needs_ipv6_entries():
    f = net007(*with_acl(entry(100), ALLOW_OUT), plan={"ports": [22], "source_cidr": "::/0"}).one("NET007")
    assert "--ipv6-cidr-block ::/0" in f.fix.commands[0]
    ok = with_acl(entry(100), ALLOW_OUT, entry(101, ipv6="::/0"), entry(101, egress=True, ipv6="::/0"))
    assert net007(*ok, plan={"ports": [22], "source_cidr": "::/0"}) == []


def test_deny_at_rule_one_leaves_no_room_so_the_deny_is_replaced():
    res = with_acl(entry(1, "deny", protocol="6", ports=(22, 22)), entry(100), ALLOW_OUT)
    f = net007(*res, plan={"ports": [22]}).one("NET007")
    assert f.fix.commands[0].startswith("aws ec2 replace-network-acl-entry --region eu-south-1 --network-acl-id acl-1 "
                                        "--ingress --rule-number 1 ")


def test_private_subnets_are_checked_only_when_the_plan_names_them():
    private = [subnet("subnet-p", "vpc-1", "10.1.2.0/24"),
               route_table("rtb-p", "vpc-1", subnets=["subnet-p"], local="10.1.0.0/16")]
    res = with_acl(entry(100), subnets=("subnet-1", "subnet-p"), extra=private)
    found = net007(*res)
    assert [f.resource for f in found] == ["subnet-1"]
    assert "subnet-p" in found[0].fix.description  # the ACL is shared
    named = net007(*res, plan={"subnets": ["subnet-p"]})
    assert [f.resource for f in named] == ["subnet-p"]


def test_plan_vpc_limits_the_subnets():
    res = [*with_acl(entry(100)), *public_vpc(2)]
    assert net007(*res, plan={"vpc": "vpc-2"}) == []
    assert [f.resource for f in net007(*res, plan={"vpc": "vpc-1"})] == ["subnet-1"]


def test_subnet_without_association_uses_the_vpc_default_acl():
    res = [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1", public_ip=True),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, main=True),
           nacl("acl-default", "vpc-1", [], entries=[entry(100)], default=True),
           nacl("acl-other", "vpc-1", [], entries=[entry(100), ALLOW_OUT])]
    assert net007(*res).one("NET007").path == ("subnet-1", "acl-default")


def test_dangling_associations_of_a_deleted_default_vpc_are_ignored():
    leftover = nacl("acl-old", "vpc-deleted", ["subnet-gone-a", "subnet-gone-b"], entries=[entry(1, "deny")],
                    default=True)
    assert net007(*public_vpc(1), leftover, plan={"ports": [22, 8000]}) == []


def test_deleted_default_vpc_in_moto_does_not_crash_or_invent_findings():
    found = run_rules("no-default-route", plan={"ports": [22, 8000]}, select=["NET007"])
    assert found == []
    acls = found.inventories[0].network_acls
    vpcs = {v.id for v in found.inventories[0].vpcs}
    assert any(a.vpc_id not in vpcs and a.associations for a in acls), "moto no longer leaves the ACL behind"


def test_nacl_deny_scenario_through_moto():
    found = run_rules("nacl-deny", plan={"ports": [8000]}, select=["NET"])
    f = found.one("NET007")
    ids = found.ids
    assert f.resource == ids["app-public"] and f.path == (ids["app-public"], ids["app-acl"])
    assert f"--network-acl-id {ids['app-acl']} --ingress --rule-number 89" in f.fix.commands[0]
    assert run_rules("nacl-deny", select=["NET"]) == []  # without the plan's port, nothing to report
