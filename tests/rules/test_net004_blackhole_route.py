"""NET004 blackhole-route: state derived from the target (moto always says active), one finding per table."""

from __future__ import annotations

from tests.rules.conftest import igw, inventory, nat, public_vpc, route, route_table, run_rules, subnet, vpc


def private(*routes_, nats=()):
    return [*public_vpc(1), subnet("subnet-p", "vpc-1", "10.1.2.0/24"), *nats,
            route_table("rtb-p", "vpc-1", list(routes_), subnets=["subnet-p"], local="10.1.0.0/16")]


def net004(*resources):
    return run_rules(inventory(*resources), select=["NET004"])


def test_route_to_deleted_nat_gateway_is_a_blackhole():
    res = private(route("0.0.0.0/0", "nat-1"), nats=[nat("nat-1", "vpc-1", "subnet-1", state="deleted")])
    f = net004(*res).one("NET004")
    assert (f.resource, f.severity, f.status) == ("rtb-p", "medium", "FAIL")
    assert f.path == ("rtb-p", "nat-1", "subnet-p")
    assert "0.0.0.0/0 -> nat-1 (NAT gateway is deleted)" in f.message and "used by subnet-p" in f.message
    # No live NAT gateway to point at: the delete is printed for a human, and no fixer is advertised
    # (route-replace-blackhole refuses to delete a default route).
    assert f.fix.fixer is None
    assert f.fix.commands == ("aws ec2 delete-route --region eu-south-1 --route-table-id rtb-p "
                              "--destination-cidr-block 0.0.0.0/0",)


def test_route_to_nat_gateway_that_is_gone():
    f = net004(*private(route("0.0.0.0/0", "nat-gone"))).one("NET004")
    assert "nat-gone (NAT gateway no longer exists)" in f.message


def test_live_nat_gateway_in_the_vpc_is_offered_as_replacement():
    res = private(route("0.0.0.0/0", "nat-1"),
                  nats=[nat("nat-1", "vpc-1", state="deleted"), nat("nat-2", "vpc-1", state="available")])
    f = net004(*res).one("NET004")
    assert f.fix.commands == ("aws ec2 replace-route --region eu-south-1 --route-table-id rtb-p "
                              "--destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-2",)
    assert f.fix.fixer == "route-replace-blackhole"


def test_two_live_nat_gateways_leave_the_choice_to_a_human():
    res = private(route("0.0.0.0/0", "nat-1"),
                  nats=[nat("nat-1", "vpc-1", state="deleted"), nat("nat-2", "vpc-1", state="available"),
                        nat("nat-3", "vpc-1", state="available")])
    assert net004(*res).one("NET004").fix.fixer is None


def test_a_table_mixing_fixable_and_unfixable_routes_advertises_no_fixer():
    res = private(route("0.0.0.0/0", "nat-1"), route("10.50.0.0/16", "tgw-1", state="blackhole"),
                  nats=[nat("nat-1", "vpc-1", state="deleted"), nat("nat-2", "vpc-1", state="available")])
    assert net004(*res).one("NET004").fix.fixer is None


def test_available_nat_gateway_near_miss():
    assert net004(*private(route("0.0.0.0/0", "nat-1"), nats=[nat("nat-1", "vpc-1")])) == []


def test_aws_reported_blackhole_state_is_honoured():
    f = net004(*private(route("10.50.0.0/16", "tgw-1", state="blackhole"))).one("NET004")
    assert "10.50.0.0/16 -> tgw-1" in f.message
    assert f.fix.commands == ("aws ec2 delete-route --region eu-south-1 --route-table-id rtb-p "
                              "--destination-cidr-block 10.50.0.0/16",)


def test_several_dead_routes_in_one_table_make_one_finding():
    res = private(route("0.0.0.0/0", "nat-gone"), route("::/0", "eigw-gone"), route("pl-123", "nat-gone"))
    f = net004(*res).one("NET004")
    assert "has 3 blackhole route(s)" in f.message
    assert f.fix.commands == (
        "aws ec2 delete-route --region eu-south-1 --route-table-id rtb-p --destination-cidr-block 0.0.0.0/0",
        "aws ec2 delete-route --region eu-south-1 --route-table-id rtb-p --destination-ipv6-cidr-block ::/0",
        "aws ec2 delete-route --region eu-south-1 --route-table-id rtb-p --destination-prefix-list-id pl-123",
    )


def test_detached_internet_gateway_route_is_fixed_by_attaching():
    res = [vpc("vpc-1"), igw("igw-1", None), subnet("subnet-1", "vpc-1", public_ip=True),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"])]
    f = net004(*res).one("NET004")
    assert "igw-1 (internet gateway is detached)" in f.message
    assert f.fix.fixer == "igw-attach"
    assert f.fix.commands == ("aws ec2 attach-internet-gateway --region eu-south-1 --internet-gateway-id igw-1 "
                              "--vpc-id vpc-1",)


def test_deleted_internet_gateway_route_points_at_the_attached_one():
    res = [*public_vpc(1), route_table("rtb-x", "vpc-1", {"0.0.0.0/0": "igw-deleted"}, local="10.1.0.0/16")]
    f = net004(*res).one("NET004")
    assert "not used by any subnet" in f.message
    assert f.fix.commands == ("aws ec2 replace-route --region eu-south-1 --route-table-id rtb-x "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)


def test_local_and_active_routes_near_miss():
    assert net004(*public_vpc(1), *public_vpc(2)) == []


def test_blackhole_route_scenario_through_moto():
    found = run_rules("blackhole-route", select=["NET"])
    ids = found.ids
    f = found.one("NET004")
    assert f.resource == ids["app-private-rt"]
    assert f.path == (ids["app-private-rt"], ids["app-nat"], ids["app-private"])
    assert "NAT gateway is deleted" in f.message
    assert found.rules() == {"NET004"}
