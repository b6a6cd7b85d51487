"""NET002 subnet-without-default-route: effective route table, NAT exception, plan intent."""

from __future__ import annotations

from tests.rules.conftest import igw, inventory, nat, route_table, run_rules, subnet, vpc


def base(public_ip: bool = True):
    return [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1", public_ip=public_ip)]


def net002(*resources, plan=None):
    return run_rules(inventory(*resources), plan, select=["NET002"])


def test_explicit_association_without_default_route_shadows_the_main_table():
    res = [*base(), route_table("rtb-main", "vpc-1", {"0.0.0.0/0": "igw-1"}, main=True),
           route_table("rtb-1", "vpc-1", subnets=["subnet-1"])]
    f = net002(*res).one("NET002")
    assert (f.resource, f.severity, f.status) == ("subnet-1", "high", "FAIL")
    assert f.path == ("subnet-1", "rtb-1", "igw-1")
    assert "maps public IPs on launch" in f.message
    assert "rtb-1 (explicitly associated) has no 0.0.0.0/0 route" in f.message
    assert "the main route table rtb-main has one (to igw-1), but the explicit association overrides it" in f.message
    assert f.fix.fixer == "route-add-default"
    assert f.fix.commands == ("aws ec2 create-route --region eu-south-1 --route-table-id rtb-1 "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)
    assert f.details["association"] == "explicit"


def test_no_explicit_association_and_main_table_has_default_route():
    res = [*base(), route_table("rtb-main", "vpc-1", {"0.0.0.0/0": "igw-1"}, main=True)]
    assert net002(*res) == []


def test_shared_main_table_is_left_alone_the_subnet_gets_its_own_table():
    res = [*base(), subnet("subnet-2", "vpc-1", "10.0.2.0/24"), nat("nat-1"),
           route_table("rtb-main", "vpc-1", {"10.50.0.0/16": "nat-1", "pl-1": "vpce-1"}, main=True)]
    f = net002(*res).one("NET002")
    assert "rtb-main (the VPC's main route table) has no 0.0.0.0/0 route" in f.message
    assert "subnet-2" in f.fix.description and "which stay as they are" in f.fix.description
    assert f.fix.fixer == "route-add-default"
    assert f.fix.commands[1:] == (
        "aws ec2 create-route --region eu-south-1 --route-table-id $RTB --destination-cidr-block 10.50.0.0/16 "
        "--nat-gateway-id nat-1",
        "aws ec2 create-route --region eu-south-1 --route-table-id $RTB --destination-prefix-list-id pl-1 "
        "--vpc-endpoint-id vpce-1",
        "aws ec2 create-route --region eu-south-1 --route-table-id $RTB --destination-cidr-block 0.0.0.0/0 "
        "--gateway-id igw-1",
        "aws ec2 associate-route-table --region eu-south-1 --route-table-id $RTB --subnet-id subnet-1",
    )


def test_main_table_used_by_this_subnet_alone_gets_the_route():
    res = [*base(), route_table("rtb-main", "vpc-1", main=True)]
    f = net002(*res).one("NET002")
    assert f.fix.commands == ("aws ec2 create-route --region eu-south-1 --route-table-id rtb-main "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)


def test_explicit_table_shared_with_other_subnets_gets_the_route_and_names_them():
    res = [*base(), subnet("subnet-2", "vpc-1", "10.0.2.0/24"),
           route_table("rtb-1", "vpc-1", subnets=["subnet-1", "subnet-2"])]
    f = net002(*res).one("NET002")
    assert f.fix.commands[0].startswith("aws ec2 create-route --region eu-south-1 --route-table-id rtb-1 ")
    assert "also the route table of 1 other subnet(s) (subnet-2), which get the route too" in f.fix.description


def test_private_subnet_behind_nat_is_not_a_finding():
    res = [*base(public_ip=False), nat("nat-1"), route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "nat-1"},
                                                              subnets=["subnet-1"])]
    assert net002(*res) == []
    assert net002(*res, plan={"subnets": ["subnet-1"]}) == []  # named by the plan, still private by design


def test_plan_asking_for_public_ip_on_a_nat_subnet_is_a_finding():
    res = [*base(public_ip=False), nat("nat-1"), route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "nat-1"},
                                                              subnets=["subnet-1"])]
    f = net002(*res, plan={"subnets": ["subnet-1"], "public_ip": True}).one("NET002")
    assert "is named by the plan, which asks for a public IP" in f.message
    assert "NAT gateway nat-1, not to an internet gateway" in f.message
    assert f.fix.commands == ("aws ec2 replace-route --region eu-south-1 --route-table-id rtb-1 "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)
    assert "stops being private" in f.fix.description


def test_subnet_mapping_public_ips_behind_nat_is_a_finding():
    res = [*base(), nat("nat-1"), route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "nat-1"}, subnets=["subnet-1"])]
    assert net002(*res).one("NET002").details["verdict"] == "not_igw"


def test_private_subnet_without_any_default_route_is_not_a_finding_unless_planned():
    res = [*base(public_ip=False), route_table("rtb-1", "vpc-1", subnets=["subnet-1"])]
    assert net002(*res) == []
    f = net002(*res, plan={"subnets": ["subnet-1"]}).one("NET002")
    assert "is named by the plan" in f.message


def test_route_to_deleted_gateway_is_replaced_with_the_attached_one():
    res = [*base(), route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-deleted"}, subnets=["subnet-1"])]
    f = net002(*res).one("NET002")
    assert "igw-deleted, which no longer exists" in f.message
    assert f.fix.fixer == "route-add-default"
    assert f.fix.commands == ("aws ec2 replace-route --region eu-south-1 --route-table-id rtb-1 "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)


def test_a_zero_split_through_a_nat_gateway_shadows_the_default_route():
    split = {"0.0.0.0/0": "igw-1", "0.0.0.0/1": "nat-1", "128.0.0.0/1": "igw-deleted"}
    f = net002(*base(), nat("nat-1"), route_table("rtb-1", "vpc-1", split, subnets=["subnet-1"])).one("NET002")
    assert "sends 0.0.0.0/1 to NAT gateway nat-1" in f.message
    assert f.fix.fixer is None  # the fixers repoint 0.0.0.0/0 only, which decides nothing here
    assert f.fix.commands == tuple(
        f"aws ec2 replace-route --region eu-south-1 --route-table-id rtb-1 --destination-cidr-block {d} "
        "--gateway-id igw-1" for d in ("0.0.0.0/1", "128.0.0.0/1"))
    assert "route 0.0.0.0/1 and 128.0.0.0/1 from rtb-1 to igw-1" in f.fix.description


def test_route_to_detached_gateway_is_fixed_by_attaching_it():
    res = [vpc("vpc-1"), igw("igw-1", None), subnet("subnet-1", "vpc-1", public_ip=True),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"])]
    f = net002(*res).one("NET002")
    assert "not attached to vpc-1 (detached from every VPC)" in f.message
    assert f.fix.fixer == "route-add-default"
    assert f.fix.commands == ("aws ec2 attach-internet-gateway --region eu-south-1 --internet-gateway-id igw-1 "
                              "--vpc-id vpc-1",)


def test_route_to_another_vpcs_gateway():
    res = [vpc("vpc-1"), vpc("vpc-2", "10.2.0.0/16"), igw("igw-2", "vpc-2"),
           subnet("subnet-1", "vpc-1", public_ip=True),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-2"}, subnets=["subnet-1"])]
    f = net002(*res).one("NET002")
    assert "attached to vpc-2 instead" in f.message
    assert f.fix.commands[0].startswith("IGW=$(aws ec2 create-internet-gateway --region eu-south-1")
    assert f.fix.commands[1:] == (
        "aws ec2 attach-internet-gateway --region eu-south-1 --internet-gateway-id $IGW --vpc-id vpc-1",
        "aws ec2 replace-route --region eu-south-1 --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 "
        "--gateway-id $IGW",
    )


def test_vpc_without_gateway_gets_create_attach_route():
    res = [vpc("vpc-1"), subnet("subnet-1", "vpc-1", public_ip=True), route_table("rtb-1", "vpc-1", main=True)]
    f = net002(*res).one("NET002")
    assert "vpc-1 has no internet gateway attached" in f.message
    assert len(f.fix.commands) == 3 and f.fix.commands[2].endswith("--gateway-id $IGW")


def test_no_route_table_at_all():
    res = [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1", public_ip=True)]
    f = net002(*res).one("NET002")
    assert "has no route table" in f.message
    assert any("associate-route-table" in c and "--subnet-id subnet-1" in c for c in f.fix.commands)


def test_healthy_public_subnet_near_miss():
    res = [*base(), route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"])]
    assert net002(*res) == []


def test_main_table_shadowed_scenario_through_moto():
    found = run_rules("main-table-shadowed", select=["NET"])
    f = found.one("NET002")
    ids = found.ids
    assert f.resource == ids["app-public"]
    assert f.path == (ids["app-public"], ids["app-empty-rt"], ids["app-igw"])
    assert f.fix.commands == (f"aws ec2 create-route --region eu-south-1 --route-table-id {ids['app-empty-rt']} "
                              f"--destination-cidr-block 0.0.0.0/0 --gateway-id {ids['app-igw']}",)
