"""NET005 public-route-without-public-ip."""

from __future__ import annotations

from tests.rules.conftest import eigw, igw, inventory, public_vpc, route_table, run_rules, subnet, vpc

MAP = "aws ec2 modify-subnet-attribute --region eu-south-1 --subnet-id subnet-1 --map-public-ip-on-launch"


def net005(*resources, plan=None):
    return run_rules(inventory(*resources), plan, select=["NET005"])


def test_route_to_attached_gateway_without_public_ip_mapping():
    f = net005(*public_vpc(1, public_ip=False)).one("NET005")
    assert (f.resource, f.severity, f.status) == ("subnet-1", "medium", "FAIL")
    assert f.path == ("subnet-1", "rtb-1", "igw-1")
    assert "routes 0.0.0.0/0 to internet gateway igw-1 (route table rtb-1)" in f.message
    assert "does not map public IPs on launch" in f.message
    assert f.fix.fixer == "subnet-map-public-ip" and f.fix.commands == (MAP,)


def test_a_zero_split_to_the_gateway_is_a_public_route_too():
    split = {"0.0.0.0/1": "igw-1", "128.0.0.0/1": "igw-1"}
    f = net005(vpc(), igw(), subnet(public_ip=False),
               route_table("rtb-1", subnets=["subnet-1"], routes=split)).one("NET005")
    assert f.resource == "subnet-1"
    assert "routes 0.0.0.0/1 to internet gateway igw-1 (route table rtb-1)" in f.message


def test_mapping_subnet_near_miss():
    assert net005(*public_vpc(1)) == []


def test_plan_asking_for_public_ip_silences_it():
    assert net005(*public_vpc(1, public_ip=False), plan={"public_ip": True}) == []
    assert net005(*public_vpc(1, public_ip=False), plan={"public_ip": True, "vpc": "vpc-1"}) == []


def test_plan_public_ip_only_covers_the_plans_subnets():
    res = [*public_vpc(1, public_ip=False), *public_vpc(2, public_ip=False)]
    found = net005(*res, plan={"public_ip": True, "subnets": ["subnet-2"]})
    assert [f.resource for f in found] == ["subnet-1"]


def test_plan_without_public_ip_does_not_silence_it():
    assert net005(*public_vpc(1, public_ip=False), plan={"public_ip": False}).one("NET005").resource == "subnet-1"


def test_route_to_detached_gateway_is_not_this_rule():
    res = [vpc("vpc-1"), igw("igw-1", None), subnet("subnet-1", "vpc-1"),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, main=True)]
    assert net005(*res) == []


def test_private_subnet_near_miss():
    res = [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1"), route_table("rtb-1", "vpc-1", main=True)]
    assert net005(*res) == []


def test_ipv6_only_egress_route_is_not_a_public_route():
    res = [vpc("vpc-1"), eigw("eigw-1", "vpc-1"), subnet("subnet-1", "vpc-1", ipv6=("2001:db8::/64",)),
           route_table("rtb-1", "vpc-1", {"::/0": "eigw-1"}, main=True)]
    assert net005(*res) == []


def test_public_route_no_public_ip_scenario_through_moto():
    found = run_rules("public-route-no-public-ip", select=["NET"])
    f = found.one("NET005")
    assert f.resource == found.ids["app-public"]
    assert found.rules() == {"NET005"}
