"""`launch --fix --apply` fixes only the VPC and subnet it will launch into (issue 16, item 9).

Two broken VPCs, and a plan naming neither: the launch used to fix both (18 changes, a new
internet gateway in a VPC it then did not launch into). Now it fixes the VPC of the subnet it will
land in — NET001's closest candidate, which the launch then picks — and leaves the other VPC
exactly as it was; naming the other VPC in the plan moves the fixes there instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from preflight.collect.aws import AwsSession
from preflight.collect.sandbox import Seeder

REGION = "eu-south-1"

pytestmark = pytest.mark.e2e


def two_broken_vpcs(s: Seeder) -> dict[str, str]:
    """Both VPCs have a subnet meant to be public (maps public IPs) with no default route, so NET002
    fires in both and NET001 finds no usable subnet. near has an internet gateway attached; far has
    none, so fixing far means creating and attaching one."""
    s.delete_default_vpc()
    near = s.vpc("10.0.0.0/16", "near-vpc")
    s.igw(near, "near-igw")
    near_subnet = s.subnet(near, "10.0.1.0/24", name="near-subnet", public_ip=True)
    s.route_table(near, [near_subnet], name="near-rt")
    far = s.vpc("10.9.0.0/16", "far-vpc")
    far_subnet = s.subnet(far, "10.9.1.0/24", name="far-subnet", public_ip=True)
    s.route_table(far, [far_subnet], name="far-rt")
    return {"near": near, "far": far, "near-subnet": near_subnet, "far-subnet": far_subnet}


def vpc_state(ec2: Any, vpc: str) -> dict[str, Any]:
    flt = [{"Name": "vpc-id", "Values": [vpc]}]
    return {
        "routes": sorted(json.dumps(t["Routes"], sort_keys=True, default=str)
                         for t in ec2.describe_route_tables(Filters=flt)["RouteTables"]),
        "tables": sorted(t["RouteTableId"] for t in ec2.describe_route_tables(Filters=flt)["RouteTables"]),
        "igws": sorted(g["InternetGatewayId"] for g in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]),
        "all_igws": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "subnets": sorted((x["SubnetId"], x["MapPublicIpOnLaunch"])
                          for x in ec2.describe_subnets(Filters=flt)["Subnets"]),
        "groups": sorted(g["GroupName"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]),
    }


# (case, the VPC the plan names (None: none))
CASES = [("no-vpc-named", None), ("near-vpc-named", "near"), ("far-vpc-named", "far")]


@pytest.mark.parametrize(("case", "named"), CASES, ids=[c[0] for c in CASES])
def test_launch_fix_touches_only_the_vpc_it_launches_into(case, named, moto_server, moto_amis, tmp_path,
                                                          monkeypatch, capsys):
    from preflight.cli import main

    ids = two_broken_vpcs(Seeder(AwsSession(region=REGION, endpoint_url=moto_server.url), REGION))
    plan: dict[str, Any] = {"name": "scoped", "cloud": "aws", "region": REGION, "instance_type": "t3.micro",
                            "image": "ami-04681a1dbd79675a5", "count": 1, "ports": [8000]}
    if named:
        plan["vpc"] = ids[named]
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))
    ec2 = moto_server.client("ec2", REGION)
    before = {k: vpc_state(ec2, ids[k]) for k in ("near", "far")}
    with pytest.raises(SystemExit) as info:
        main(["launch", str(path), "--fix", "--apply", "--select", "NET", "--endpoint-url", moto_server.url,
              "--retry-base", "0", "--retry-jitter", "0", "--format", "json"])
    out, err = capsys.readouterr()
    assert info.value.code == 0, out[-3000:] + err
    result = json.loads(out)
    # Where it landed: the named VPC, else NET001's closest candidate (the two tie here: either)
    landed = next(k for k in ("near", "far") if ids[k] == result["record"]["vpc"])
    assert landed == named or not named
    assert result["record"]["subnet"] == ids[f"{landed}-subnet"]
    other = "far" if landed == "near" else "near"
    after = vpc_state(ec2, ids[other])
    created_igw = landed == "far"  # far had no gateway: fixing it creates one, there and only there
    assert after.pop("all_igws") == before[other].pop("all_igws") + int(created_igw)
    assert after == before[other]  # the VPC it did not launch into: not one change
    changed = [line for s in result["stages"] if s["name"] == "fix" for line in s["lines"]
               if line.startswith("[applied]")]
    assert changed and not any(ids[other] in line or ids[f"{other}-subnet"] in line for line in changed)
