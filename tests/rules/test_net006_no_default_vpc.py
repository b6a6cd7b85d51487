"""NET006 no-default-vpc."""

from __future__ import annotations

from tests.rules.conftest import REGION, inventory, public_vpc, run_rules


def net006(*resources):
    return run_rules(inventory(*resources), select=["NET006"])


def test_region_without_default_vpc():
    f = net006(*public_vpc(1)).one("NET006")
    assert (f.resource, f.severity, f.status) == (REGION, "info", "FAIL")
    assert "eu-south-1 has no default VPC (VPCs: vpc-1)" in f.message
    assert f.path == (REGION, "vpc-1")
    assert f.fix.commands == ("aws ec2 create-default-vpc --region eu-south-1",)


def test_region_without_any_vpc():
    assert "and no VPC at all" in net006().one("NET006").message


def test_default_vpc_present_near_miss():
    assert net006(*public_vpc(1, default=True), *public_vpc(2)) == []


def test_no_default_vpc_scenario_through_moto():
    found = run_rules("no-default-vpc", select=["NET"])
    assert found.one("NET006").resource == REGION
    assert found.rules() == {"NET006"}


def test_moto_default_for_az_quirk_on_custom_subnets_does_not_count_as_a_default_vpc():
    # moto marks the first subnet created in each zone DefaultForAz, even in a custom VPC.
    found = run_rules("no-default-route", select=["NET006"])
    inv = found.inventories[0]
    assert not any(v.is_default for v in inv.vpcs)
    assert found.one("NET006").resource == REGION
