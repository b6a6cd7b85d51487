"""Launcher profiles: the NET rules judge the launch the way the plan's launcher will run it.

Pure inventories (fast); the agreement with SkyPilot's own code is in test_skypilot_agreement.py.
"""

from __future__ import annotations

import pytest

from preflight.errors import PreflightError
from preflight.launchers import LAUNCHERS, detect, get_profile
from preflight.launchers.skypilot import select_subnets
from preflight.plan import Plan, plan_from_dict
from tests.rules.conftest import REGION, igw, inventory, public_vpc, route_table, run_rules, subnet, vpc

SKY = Plan(launcher="skypilot", given=frozenset({"launcher"}))


def _app_vpc(public_ip: bool = False, igw_attached: bool = True, route: bool = True):
    """The incident's custom VPC: app-vpc with igw-1; subnet-1's table routes to it (or not)."""
    return [vpc("vpc-1", name="app-vpc"), igw("igw-1", "vpc-1" if igw_attached else None),
            subnet("subnet-1", "vpc-1", public_ip=public_ip),
            route_table("rtb-1", "vpc-1", {"0.0.0.0/0": "igw-1"} if route else {}, subnets=["subnet-1"])]


def test_detect_reads_the_plan_file_keys():
    assert detect([{"resources": {"infra": "aws"}, "run": "x"}]) == "skypilot"
    assert detect([{"cluster_name": "c", "provider": {"type": "aws"}, "available_node_types": {}}]) == "ray"
    assert detect([{"region": "eu-south-1", "ports": [80]}]) == "preflight"
    assert detect([]) == ""
    assert set(LAUNCHERS) == {"skypilot", "ray", "ec2", "preflight"}


def test_unknown_launcher_is_one_line_bad_input():
    with pytest.raises(PreflightError, match="--launcher: 'slurm' is not one of skypilot, ray, ec2, preflight"):
        get_profile("slurm")
    with pytest.raises(PreflightError, match="launcher: 'slurm' is not one of"):
        plan_from_dict({"launcher": "slurm"})


def test_skypilot_without_vpc_name_needs_the_default_vpc_and_it_blocks():
    found = run_rules(inventory(*_app_vpc(public_ip=True)), plan=SKY, select=["NET"])
    f = found.one("NET006")
    assert (f.severity, f.details["blocks_launch"], f.details["launcher"]) == ("high", True, "skypilot")
    assert f.message.startswith("SkyPilot will stop with 'The default VPC in eu-south-1 either does not exist or "
                                "has no subnets.'")
    assert "`aws: {vpc_name: app-vpc}`" in f.message and f.details["vpc_name"] == "app-vpc"
    assert get_profile("skypilot").blocks(f)
    assert "NET001" not in found.rules()  # said once, by NET006
    # Near miss: the same account for preflight's own launch: informational, not blocking.
    plain = run_rules(inventory(*_app_vpc(public_ip=True)), plan={"region": REGION}, select=["NET006"]).one("NET006")
    assert plain.severity == "info" and "blocks_launch" not in plain.details  # below --fail-on low


def test_skypilot_with_vpc_name_does_not_need_the_default_vpc():
    plan = Plan(launcher="skypilot", vpc="app-vpc", given=frozenset({"launcher", "vpc"}))
    found = run_rules(inventory(*_app_vpc()), plan=plan, select=["NET"])
    assert found.rules() == {"NET006"}  # still reported, as preflight's informational note
    assert found.one("NET006").severity == "info" and "launcher" not in found.one("NET006").details


def test_skypilot_asks_for_a_public_ip_itself_so_map_public_ip_does_not_matter():
    plan = Plan(launcher="skypilot", vpc="app-vpc", given=frozenset({"launcher", "vpc"}))
    assert run_rules(inventory(*_app_vpc(public_ip=False)), plan=plan, select=["NET001", "NET005"]) == []
    # Near miss 1: with use_internal_ips SkyPilot wants private subnets and this one is public.
    internal = Plan(launcher="skypilot", vpc="app-vpc", use_internal_ips=True,
                    given=frozenset({"launcher", "vpc", "use_internal_ips"}))
    f = run_rules(inventory(*_app_vpc(public_ip=False)), plan=internal, select=["NET001"]).one("NET001")
    assert "SkyPilot will stop with 'The use_internal_ips option is set to True, but all candidate subnets are " \
           "public.'" in f.message
    # Near miss 2: preflight's own launch does rely on MapPublicIpOnLaunch.
    own = run_rules(inventory(*_app_vpc(public_ip=False)), plan={"vpc": "vpc-1"}, select=["NET001", "NET005"])
    assert own.rules() == {"NET001", "NET005"}


def test_skypilot_stops_when_every_candidate_subnet_is_private():
    plan = Plan(launcher="skypilot", vpc="app-vpc", given=frozenset({"launcher", "vpc"}))
    f = run_rules(inventory(*_app_vpc(route=False)), plan=plan, select=["NET001"]).one("NET001")
    assert f.message.startswith("SkyPilot will stop with 'All candidate subnets are private, did you mean to set "
                                "use_internal_ips to True?' because")
    assert "subnet-1" in f.message and f.details["blocks_launch"] is True
    assert f.fix.commands == ("aws ec2 create-route --region eu-south-1 --route-table-id rtb-1 "
                              "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",)


def test_skypilot_picks_a_subnet_behind_a_detached_gateway_and_preflight_says_it_is_stricter():
    plan = Plan(launcher="skypilot", vpc="app-vpc", given=frozenset({"launcher", "vpc"}))
    inv = inventory(*_app_vpc(igw_attached=False))
    assert select_subnets(inv, "app-vpc").subnets == ("subnet-1",)  # SkyPilot itself is happy
    f = run_rules(inv, plan=plan, select=["NET001"]).one("NET001")
    assert f.message.startswith("SkyPilot will pick subnet subnet-1 (eu-south-1a) and its instances will be "
                                "unreachable: its route table rtb-1")
    assert "(preflight is stricter than SkyPilot here" in f.message
    assert "not attached" in f.message


def test_skypilot_default_vpc_public_subnets_pass_and_net005_is_silent_there():
    layout = public_vpc(1, default=True, public_ip=False)
    assert run_rules(inventory(*layout), plan=SKY, select=["NET"]).rules() == set()
    assert run_rules(inventory(*layout), plan={"region": REGION}, select=["NET005"]).rules() == {"NET005"}


def test_ec2_profile_without_subnet_needs_the_default_vpc():
    ec2 = Plan(launcher="ec2", given=frozenset({"launcher"}))
    f = run_rules(inventory(*_app_vpc(public_ip=True)), plan=ec2, select=["NET006"]).one("NET006")
    assert f.severity == "high" and f.message.startswith("EC2 RunInstances will stop with")
    named = Plan(launcher="ec2", subnets=("subnet-1",), given=frozenset({"launcher", "subnets"}))
    assert run_rules(inventory(*_app_vpc(public_ip=True)), plan=named, select=["NET006"]).one("NET006").severity \
        == "info"


def test_sandbox_scenarios_where_the_launcher_changes_the_verdict():
    sky = run_rules("skypilot-no-default-vpc", plan={"launcher": "skypilot"}, select=["NET"])
    f = sky.one("NET006")
    assert f.severity == "high" and get_profile("skypilot").blocks(f) and "vpc_name: app-vpc" in f.message
    own = run_rules("skypilot-no-default-vpc", plan={"launcher": "preflight"}, select=["NET"]).one("NET006")
    assert own.severity == "info" and "blocks_launch" not in own.details

    assert run_rules("skypilot-public-ip-by-launcher", plan={"launcher": "skypilot"}, select=["NET"]) == []
    assert run_rules("skypilot-public-ip-by-launcher", plan={"launcher": "preflight"},
                     select=["NET"]).rules() == {"NET001", "NET005"}


def test_skypilot_on_a_group_it_does_not_manage_also_needs_ssh():
    from tests.rules.sg_support import grp, r, sg_findings

    group = grp("sg-web", r("sgr-8080", "tcp", 8080), name="web-sg")
    sky = {"launcher": "skypilot", "security_group": "sg-web", "ports": [8080]}
    f = sg_findings(group, plan=sky, select=["SG010"]).one("SG010")
    assert f.details["missing"] == [22] and "port(s) 22 (tcp)" in f.message
    # Near miss: preflight's own launch needs only the plan's port, which is open.
    own = {"security_group": "sg-web", "ports": [8080]}
    assert sg_findings(group, plan=own, select=["SG010"]).only("SG010") == []
