"""Several regions and several accounts in one run, against the moto server: every finding carries
its account and region, and each (account, region) is collected once."""

from __future__ import annotations

import re

import boto3

from tests.conftest import run_cli, run_in_process

SECOND_ACCOUNT = "111122223333"


def seed_blackhole(ec2) -> dict[str, str]:
    """A route to a NAT gateway that was deleted: NET004 on the route table."""
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    az = ec2.meta.region_name + "a"
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": False})
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    return {"vpc": vpc, "rtb": rtb, "nat": nat}


def test_two_regions_each_finding_carries_its_region(moto_server):
    south = seed_blackhole(moto_server.client("ec2", "eu-south-1"))
    west = seed_blackhole(moto_server.client("ec2", "eu-west-1"))
    res = run_in_process("check", "--region", "eu-south-1", "--region", "eu-west-1", "--select", "NET004",
                         "--format", "json", "--stats", env={"AWS_ENDPOINT_URL": moto_server.url})
    assert res.code == 1, res.stderr
    report = res.json()
    assert report["regions"] == ["eu-south-1", "eu-west-1"]
    got = sorted((f["region"], f["resource"], f["account"]) for f in report["findings"])
    assert got == sorted([("eu-south-1", south["rtb"], "123456789012"), ("eu-west-1", west["rtb"], "123456789012")])
    # one DescribeRouteTables per region, not per table; the stats say so
    assert re.search(r"ec2:DescribeRouteTables +2 calls +2 pages", res.stderr), res.stderr
    assert "stats: 2 inventories (eu-south-1, eu-west-1)" in res.stderr


def test_two_profiles_two_accounts(moto_server, tmp_path):
    sts = moto_server.client("sts", "eu-south-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{SECOND_ACCOUNT}:role/audit",
                            RoleSessionName="preflight")["Credentials"]
    second = boto3.client("ec2", region_name="eu-south-1", endpoint_url=moto_server.url,
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
    theirs = seed_blackhole(second)
    ours = seed_blackhole(moto_server.client("ec2", "eu-south-1"))
    cred_file = tmp_path / "credentials"
    cred_file.write_text(
        "[main]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n"
        f"[audit]\naws_access_key_id = {creds['AccessKeyId']}\naws_secret_access_key = {creds['SecretAccessKey']}\n"
        f"aws_session_token = {creds['SessionToken']}\n")
    env = {"AWS_ENDPOINT_URL": moto_server.url, "AWS_SHARED_CREDENTIALS_FILE": str(cred_file)}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env[key] = ""
    res = run_cli("check", "--profile", "main", "--profile", "audit", "--region", "eu-south-1",
                  "--select", "NET004", "--format", "json", env=env)
    assert res.code == 1, res.stderr
    report = res.json()
    assert report["accounts"] == sorted(["123456789012", SECOND_ACCOUNT])
    got = sorted((f["account"], f["resource"]) for f in report["findings"])
    assert got == sorted([("123456789012", ours["rtb"]), (SECOND_ACCOUNT, theirs["rtb"])])
    assert all(f["region"] == "eu-south-1" for f in report["findings"])


def test_same_account_twice_is_collected_once(moto_server, tmp_path):
    seed_blackhole(moto_server.client("ec2", "eu-south-1"))
    cred_file = tmp_path / "credentials"
    cred_file.write_text("[a]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n"
                         "[b]\naws_access_key_id = testing2\naws_secret_access_key = testing\n")
    env = {"AWS_ENDPOINT_URL": moto_server.url, "AWS_SHARED_CREDENTIALS_FILE": str(cred_file),
           "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_SECURITY_TOKEN": ""}
    res = run_in_process("check", "--profile", "a", "--profile", "b", "--region", "eu-south-1",
                         "--select", "NET004", "--format", "json", env=env)
    assert res.code == 1, res.stderr
    assert len(res.json()["findings"]) == 1


def test_unknown_profile_is_one_line_exit_2(moto_server):
    res = run_in_process("check", "--profile", "nope", "--region", "eu-south-1",
                         env={"AWS_ENDPOINT_URL": moto_server.url})
    assert res.code == 2
    assert res.stderr.strip() == "preflight: error: AWS profile 'nope' not found in your AWS config"


def test_all_regions_lists_the_enabled_regions_with_one_call():
    from moto import mock_aws

    from preflight.collect.aws import AwsSession
    from preflight.runner import Target, resolve_regions

    with mock_aws():
        session = AwsSession(region="eu-south-1")
        regions = resolve_regions(Target(all_regions=True), None, session)
        assert "eu-south-1" in regions and "us-east-1" in regions and regions == sorted(regions)
        assert session.stats.calls == {"ec2:DescribeRegions": 1}


def test_all_regions_denied_is_one_line_error(monkeypatch):
    import botocore.exceptions
    import pytest

    from preflight.errors import PreflightError
    from preflight.runner import enabled_regions

    class Client:
        def describe_regions(self):
            raise botocore.exceptions.ClientError({"Error": {"Code": "UnauthorizedOperation"}}, "DescribeRegions")

    class Session:
        class session:  # noqa: N801 - mimics AwsSession.session
            region_name = "eu-south-1"

        def client(self, service, region):
            return Client()

    with pytest.raises(PreflightError, match=r"--all-regions: cannot list the account's regions "
                                             r"\(UnauthorizedOperation\); grant ec2:DescribeRegions or pass --region"):
        enabled_regions(Session())
