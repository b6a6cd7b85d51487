"""CMP002 instance-type-not-offered: offerings from moto, zones and subnets from the plan."""

from __future__ import annotations

from preflight.collect.scenarios.compute import COMPUTE_PLAN
from preflight.inventory.model import Inventory, Subnet, Unreadable
from tests.rules.cmp_support import READY_PLAN, REGION, blockers, ready, run

OFFERS = {"instance_type": "g4dn.xlarge", "zones": ["eu-south-1b", "eu-south-1c"]}


def with_subnets(*subnets: Subnet, offerings: dict | None = OFFERS) -> Inventory:
    extra = {"offerings": offerings} if offerings is not None else {}
    return Inventory(region=REGION, account="123456789012", subnets=subnets, extra=extra)


def sn(sid: str, az: str, vpc: str = "vpc-1") -> Subnet:
    return Subnet(id=sid, vpc_id=vpc, availability_zone=az, cidr_block="10.0.1.0/24")


def test_zone_of_the_plan_does_not_offer_the_type_in_moto() -> None:
    [f] = run("CMP002", blockers(), COMPUTE_PLAN)
    assert (f.rule, f.status, f.severity, f.resource) == ("CMP002", "FAIL", "high", "eu-south-1a")
    assert "g4dn.xlarge is not offered in eu-south-1a, which the plan names" in f.message
    assert "Zones of eu-south-1 that offer it: eu-south-1b, eu-south-1c" in f.message
    assert f.fix is not None and f.fix.commands == (
        "aws ec2 describe-instance-type-offerings --location-type availability-zone "
        "--filters Name=instance-type,Values=g4dn.xlarge --region eu-south-1",)


def test_near_miss_a_zone_that_offers_it_in_moto() -> None:
    assert ready().extra["offerings"]["zones"] == ["eu-south-1b", "eu-south-1c"]
    assert run("CMP002", ready(), READY_PLAN) == []


def test_subnet_in_a_zone_without_the_type_names_the_subnet_and_alternatives() -> None:
    i = with_subnets(sn("subnet-a", "eu-south-1a"), sn("subnet-b", "eu-south-1b"),
                     sn("subnet-x", "eu-south-1c", "vpc-2"))
    [f] = run("CMP002", i, {"instance_type": "g4dn.xlarge", "subnets": ["subnet-a"]})
    assert f.resource == "subnet-a" and f.path == ("g4dn.xlarge", "subnet-a", "eu-south-1a")
    assert "subnet subnet-a is in eu-south-1a, where g4dn.xlarge is not offered" in f.message
    assert "subnets of vpc-1 in such zones: subnet-b (eu-south-1b)" in f.message and "subnet-x" not in f.message


def test_near_miss_subnet_in_an_offering_zone() -> None:
    i = with_subnets(sn("subnet-b", "eu-south-1b"))
    assert run("CMP002", i, {"instance_type": "g4dn.xlarge", "subnets": ["subnet-b"], "zones": ["eu-south-1c"]}) == []


def test_type_offered_nowhere_in_the_region() -> None:
    [f] = run("CMP002", with_subnets(offerings={"instance_type": "p5.48xlarge", "zones": []}),
              {"instance_type": "p5.48xlarge"})
    assert f.resource == "p5.48xlarge" and "not offered in any availability zone of eu-south-1" in f.message


def test_no_zone_or_subnet_only_needs_some_zone() -> None:
    assert run("CMP002", with_subnets(), {"instance_type": "g4dn.xlarge"}) == []


def test_unreadable_offerings_is_unknown_with_the_permission() -> None:
    i = Inventory(region=REGION, unreadable=(Unreadable("offerings", "UnauthorizedOperation",
                                                        "ec2:DescribeInstanceTypeOfferings"),))
    [f] = run("CMP002", i, {"instance_type": "g4dn.xlarge", "zones": ["eu-south-1a"]})
    assert f.status == "UNKNOWN" and "grant ec2:DescribeInstanceTypeOfferings" in f.message
    [f] = run("CMP002", with_subnets(offerings=None), {"instance_type": "g4dn.xlarge"})
    assert f.status == "UNKNOWN" and "no offering data" in f.message


def test_zone_ids_are_not_mistaken_for_missing_zones() -> None:
    [f] = run("CMP002", with_subnets(), {"instance_type": "g4dn.xlarge", "zones": ["eus1-az1"]})
    assert f.status == "UNKNOWN" and f.resource == "eus1-az1" and "availability zone ID" in f.message
