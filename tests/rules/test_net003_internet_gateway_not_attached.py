"""NET003 internet-gateway-not-attached: detached, attached elsewhere, and unused detached gateways."""

from __future__ import annotations

from tests.rules.conftest import igw, inventory, public_vpc, route_table, run_rules, subnet, vpc


def net003(*resources, plan=None):
    return run_rules(inventory(*resources), plan, select=["NET003"])


def test_route_to_detached_gateway():
    res = [vpc("vpc-1"), igw("igw-1", None, name="web-igw"), subnet("subnet-1", "vpc-1", public_ip=True),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"])]
    f = net003(*res).one("NET003")
    assert (f.resource, f.severity, f.status) == ("igw-1", "high", "FAIL")
    assert f.path == ("igw-1", "rtb-1", "vpc-1")
    assert "igw-1 (web-igw) is not attached to any VPC" in f.message and "rtb-1 in vpc-1" in f.message
    assert f.fix.fixer == "igw-attach"
    assert f.fix.commands == ("aws ec2 attach-internet-gateway --region eu-south-1 --internet-gateway-id igw-1 "
                              "--vpc-id vpc-1",)


def test_attached_gateway_used_by_its_own_vpc_near_miss():
    assert net003(*public_vpc(1)) == []


def test_route_to_a_gateway_attached_to_another_vpc():
    res = [*public_vpc(1), vpc("vpc-9", "10.9.0.0/16"), igw("igw-9", "vpc-9"),
           route_table("rtb-9", "vpc-9", {"0.0.0.0/0": "igw-1"}, main=True, local="10.9.0.0/16")]
    f = net003(*res).one("NET003")
    assert f.resource == "igw-1" and f.path == ("igw-1", "rtb-9")
    assert "attached to vpc-1, but route table(s) rtb-9 in another VPC" in f.message
    assert f.fix.commands == ("aws ec2 replace-route --region eu-south-1 --route-table-id rtb-9 "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-9",)
    assert f.fix.fixer == "igw-attach"


def test_unused_detached_gateway_with_one_bare_vpc_suggests_attaching_it():
    res = [*public_vpc(1), vpc("vpc-2", "10.2.0.0/16"), igw("igw-loose", None)]
    f = net003(*res).one("NET003")
    assert f.resource == "igw-loose" and "no route uses it" in f.message and "vpc-2" in f.message
    assert f.fix.commands == ("aws ec2 attach-internet-gateway --region eu-south-1 --internet-gateway-id igw-loose "
                              "--vpc-id vpc-2",)


def test_unused_detached_gateway_without_a_bare_vpc_suggests_deleting_it():
    f = net003(*public_vpc(1), igw("igw-loose", None)).one("NET003")
    assert f.fix.commands == ("aws ec2 delete-internet-gateway --region eu-south-1 --internet-gateway-id igw-loose",)
    assert f.fix.fixer is None


def test_detached_igw_scenario_through_moto():
    found = run_rules("detached-igw", select=["NET"])
    ids = found.ids
    f = found.one("NET003")
    assert f.resource == ids["web-igw"]
    assert f.path == (ids["web-igw"], ids["web-public-rt"], ids["web-vpc"])
    assert found.rules() == {"NET002", "NET003", "NET004"}
    assert found.one("NET004").resource == ids["web-public-rt"]
    assert found.one("NET002").resource == ids["web-public"]
