"""NET001 no-usable-subnet: the incident, plan scoping, and every way a candidate is rejected."""

from __future__ import annotations

import pytest

from tests.rules.conftest import (
    REGION,
    eigw,
    igw,
    inventory,
    nat,
    public_vpc,
    route_table,
    run_rules,
    subnet,
    vpc,
)

CREATE_ROUTE = ("aws ec2 create-route --region eu-south-1 --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 "
                "--gateway-id igw-1")
MAP_IP = "aws ec2 modify-subnet-attribute --region eu-south-1 --subnet-id subnet-1 --map-public-ip-on-launch"


def incident(**subnet_kw):
    """The eu-south-1 incident: no default VPC; igw-1 attached to vpc-1; subnet-1's table rtb-1 has no default
    route; subnet-1 does not map public IPs."""
    return [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1", **subnet_kw),
            route_table("rtb-1", "vpc-1", subnets=["subnet-1"]), route_table("rtb-main", "vpc-1", main=True)]


def net001(*resources, plan=None, **kw):
    return run_rules(inventory(*resources, **kw), plan, select=["NET001"])


def test_incident_names_vpc_subnet_table_gateway_and_gives_both_commands():
    f = net001(*incident()).one("NET001")
    assert (f.status, f.severity, f.resource, f.region) == ("FAIL", "high", "vpc-1", REGION)
    assert f.path == ("vpc-1", "subnet-1", "rtb-1", "igw-1")
    for text in ("subnet-1", "rtb-1", "igw-1", "no 0.0.0.0/0 route", "does not map public IPs",
                 "No usable subnets found"):
        assert text in f.message
    assert f.fix is not None and f.fix.commands == (CREATE_ROUTE, MAP_IP)
    assert f.details["candidates"][0]["subnet"] == "subnet-1"
    assert len(f.details["candidates"][0]["reasons"]) == 2


def test_incident_through_moto_and_the_real_collector():
    found = run_rules("no-default-route", select=["NET"])
    ids = found.ids
    f = found.one("NET001")
    assert f.resource == ids["app-vpc"]
    assert f.path == (ids["app-vpc"], ids["app-subnet"], ids["app-rt"], ids["app-igw"])
    assert f.fix.commands == (
        f"aws ec2 create-route --region eu-south-1 --route-table-id {ids['app-rt']} "
        f"--destination-cidr-block 0.0.0.0/0 --gateway-id {ids['app-igw']}",
        f"aws ec2 modify-subnet-attribute --region eu-south-1 --subnet-id {ids['app-subnet']} "
        f"--map-public-ip-on-launch",
    )
    assert found.rules() == {"NET001", "NET006"}


def test_fixed_incident_is_clean():
    fixed = [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1", public_ip=True),
             route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"]),
             route_table("rtb-main", "vpc-1", main=True)]
    assert net001(*fixed) == []


def test_route_alone_is_not_enough_without_public_ip():
    res = incident()
    res[3] = route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"])
    f = net001(*res).one("NET001")
    assert f.fix.commands == (MAP_IP,)
    assert "does not map public IPs" in f.message and "no 0.0.0.0/0 route" not in f.message


def test_plan_public_ip_true_makes_a_non_mapping_subnet_usable():
    res = incident()
    res[3] = route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"}, subnets=["subnet-1"])
    assert net001(*res, plan={"public_ip": True}) == []


def test_plan_public_ip_true_still_needs_the_route():
    f = net001(*incident(), plan={"public_ip": True}).one("NET001")
    assert f.fix.commands == (CREATE_ROUTE,)
    assert "map public IPs" not in f.message


def test_plan_public_ip_false_wants_no_reachable_instance():
    assert net001(*incident(), plan={"public_ip": False}) == []


def test_a_usable_subnet_elsewhere_in_the_region_is_enough():
    assert net001(*incident(), *public_vpc(2)) == []


def test_plan_vpc_limits_the_candidates():
    f = net001(*incident(), *public_vpc(2), plan={"vpc": "vpc-1"}).one("NET001")
    assert f.resource == "vpc-1" and "VPC vpc-1" in f.message and "subnet-2" not in f.message
    assert net001(*incident(), *public_vpc(2), plan={"vpc": "vpc-2"}) == []


def test_plan_subnets_limit_the_candidates():
    f = net001(*incident(), *public_vpc(2), plan={"subnets": ["subnet-1"]}).one("NET001")
    assert f.resource == "vpc-1" and "the plan's subnets" in f.message
    assert net001(*incident(), *public_vpc(2), plan={"subnets": ["subnet-2"]}) == []


def test_plan_subnet_that_does_not_exist_is_named():
    f = net001(*incident(), plan={"subnets": ["subnet-1", "subnet-nope"]}).one("NET001")
    assert "subnet-nope: named by the plan but not found in eu-south-1" in f.message
    g = net001(*incident(), plan={"subnets": ["subnet-nope"]}).one("NET001")
    assert g.resource == REGION and "None of the plan's subnets exist" in g.message


def test_plan_vpc_that_does_not_exist():
    f = net001(*public_vpc(2), plan={"vpc": "vpc-gone"}).one("NET001")
    assert f.resource == "vpc-gone" and "does not exist" in f.message and "vpc-2" in f.message


def test_plan_subnet_in_another_vpc_than_the_plan_vpc_is_rejected():
    f = net001(*public_vpc(1), *public_vpc(2), plan={"vpc": "vpc-1", "subnets": ["subnet-2"]}).one("NET001")
    assert "is in vpc-2, not in the plan's VPC vpc-1" in f.message


def test_region_without_any_vpc_reports_the_region():
    f = net001().one("NET001")
    assert f.resource == REGION and "no VPC at all" in f.message
    assert f.fix.commands == ("aws ec2 create-default-vpc --region eu-south-1",)


def test_vpc_without_subnets():
    f = net001(vpc("vpc-1"), igw("igw-1", "vpc-1"), route_table("rtb-main", "vpc-1", main=True)).one("NET001")
    assert f.resource == "vpc-1" and "has no subnet" in f.message
    assert any("create-subnet" in c and "--cidr-block 10.0.0.0/24" in c for c in f.fix.commands)
    assert any("--gateway-id igw-1" in c for c in f.fix.commands)


def test_every_candidate_is_listed_with_its_first_reason_and_private_ones_rank_last():
    res = [
        vpc("vpc-1"), igw("igw-1", "vpc-1"), igw("igw-old", None), nat("nat-1", "vpc-1", "subnet-x"),
        subnet("subnet-private", "vpc-1", "10.0.1.0/24"),
        subnet("subnet-detached", "vpc-1", "10.0.2.0/24", public_ip=True),
        subnet("subnet-gone", "vpc-1", "10.0.3.0/24", public_ip=True),
        route_table("rtb-nat", "vpc-1", {"0.0.0.0/0": "nat-1"}, subnets=["subnet-private"]),
        route_table("rtb-det", "vpc-2", {"0.0.0.0/0": "igw-old"}, subnets=["subnet-detached"]),
        route_table("rtb-gone", "vpc-1", {"0.0.0.0/0": "igw-deleted"}, subnets=["subnet-gone"]),
        route_table("rtb-main", "vpc-1", main=True),
    ]
    f = net001(*res).one("NET001")
    assert "3 candidates rejected" in f.message
    assert "subnet-private in vpc-1: its route table rtb-nat (explicitly associated) sends 0.0.0.0/0 to NAT " \
           "gateway nat-1, not to an internet gateway" in f.message
    assert "igw-deleted, which no longer exists (blackhole route)" in f.message
    assert f.message.index("subnet-private") > f.message.index("subnet-gone")  # private last
    reasons = {c["subnet"]: c["reasons"] for c in f.details["candidates"]}
    assert set(reasons) == {"subnet-private", "subnet-detached", "subnet-gone"}


def test_detached_gateway_candidate_is_fixed_by_replacing_the_route_to_the_attached_one():
    res = [vpc("vpc-1"), igw("igw-1", "vpc-1"), igw("igw-old", None),
           subnet("subnet-1", "vpc-1", public_ip=True),
           route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-old"}, subnets=["subnet-1"])]
    f = net001(*res).one("NET001")
    assert "not attached to vpc-1 (detached from every VPC)" in f.message
    assert f.fix.commands == ("aws ec2 replace-route --region eu-south-1 --route-table-id rtb-1 "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)


def test_main_table_fix_warns_about_other_subnets():
    res = [vpc("vpc-1"), igw("igw-1", "vpc-1"), subnet("subnet-1", "vpc-1", public_ip=True),
           subnet("subnet-2", "vpc-1", "10.0.2.0/24"), route_table("rtb-main", "vpc-1", main=True)]
    f = net001(*res).one("NET001")
    assert "(the VPC's main route table)" in f.message
    assert "also used by 1 other subnet(s) (subnet-2), which stay as they are" in f.fix.description
    assert f.fix.commands[0].startswith("RTB=$(aws ec2 create-route-table --region eu-south-1 --vpc-id vpc-1 ")
    assert f.fix.commands[1:] == (
        "aws ec2 create-route --region eu-south-1 --route-table-id $RTB --destination-cidr-block 0.0.0.0/0 "
        "--gateway-id igw-1",
        "aws ec2 associate-route-table --region eu-south-1 --route-table-id $RTB --subnet-id subnet-1",
    )


def test_ipv6_egress_only_default_route_is_not_public_inbound():
    v6 = "2001:db8:1::/64"
    res = [vpc("vpc-1", ipv6=("2001:db8:1::/56",)), eigw("eigw-1", "vpc-1"),
           subnet("subnet-1", "vpc-1", ipv6=(v6,), assign_ipv6=True),
           route_table("rtb-1", "vpc-1", {"::/0": "eigw-1"}, subnets=["subnet-1"])]
    f = net001(*res).one("NET001")
    assert "egress-only gateway eigw-1" in f.message and "outbound IPv6 only" in f.message
    assert "eigw-1" in f.path


def test_ipv6_default_route_to_an_attached_igw_is_usable():
    v6 = "2001:db8:1::/64"
    res = [vpc("vpc-1", ipv6=("2001:db8:1::/56",)), igw("igw-1", "vpc-1"),
           subnet("subnet-1", "vpc-1", ipv6=(v6,), assign_ipv6=True),
           route_table("rtb-1", "vpc-1", {"::/0": "igw-1"}, subnets=["subnet-1"])]
    assert net001(*res) == []


def test_subnet_not_available_is_rejected():
    res = [*public_vpc(1)]
    res[2] = subnet("subnet-1", "vpc-1", "10.1.1.0/24", public_ip=True, state="pending")
    f = net001(*res).one("NET001")
    assert "is pending, not available" in f.message


def test_long_candidate_lists_are_capped_in_the_message_but_complete_in_details():
    subnets = [subnet(f"subnet-{i:02d}", "vpc-1", f"10.0.{i}.0/24") for i in range(25)]
    f = net001(vpc("vpc-1"), igw("igw-1", "vpc-1"), route_table("rtb-main", "vpc-1", main=True), *subnets).one("NET001")
    assert "... and 15 more" in f.message and len(f.details["candidates"]) == 25


@pytest.mark.parametrize("missing", ["route_tables", "subnets", "internet_gateways", "vpcs"])
def test_unreadable_inputs_give_unknown_never_pass(missing):
    from preflight.inventory.model import Unreadable

    f = net001(*public_vpc(1), unreadable=[Unreadable(missing, "UnauthorizedOperation", "ec2:Describe")]).one("NET001")
    assert f.status == "UNKNOWN" and missing in f.message
