"""The SkyPilot admin policy, through SkyPilot's own policy machinery, against moto.

SkyPilot 0.14.1 (the `[launchers]` extra) loads `admin_policy:` from its config and applies it
with `sky.utils.admin_policy_utils.apply`, exactly as `sky launch` does at the client side. SkyPilot
validates a task against its instance catalog, which it normally downloads; the tests give it a
small catalog of their own (a few rows in SkyPilot's CSV format) so nothing leaves the machine.
SkyPilot's import is slow: one module-scoped setup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from preflight.collect.sandbox import Seeder

REGION = "eu-south-1"
POLICY = "preflight.integrations.skypilot.PreflightPolicy"


@pytest.fixture(scope="module")
def sky_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    pytest.importorskip("sky", reason="SkyPilot is installed by the [launchers] extra")
    from moto import mock_aws

    with patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                 "AWS_DEFAULT_REGION": REGION, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}):
        from sky.catalog import common

        catalog = tmp_path_factory.mktemp("sky-catalog")
        common._ABSOLUTE_VERSIONED_CATALOG_DIR = str(catalog)  # before SkyPilot's AWS catalog is first read
        (catalog / "aws").mkdir()
        with mock_aws():
            import boto3

            zones = boto3.client("ec2", REGION).describe_availability_zones()["AvailabilityZones"]
            rows = ["InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,"
                    "AvailabilityZone,Arch"]
            rows += [f"t3.medium,,,2.0,4.0,,0.05,0.02,{REGION},{z['ZoneId']},x86_64" for z in zones]
            (catalog / "aws" / "vms.csv").write_text("\n".join(rows) + "\n")
            (catalog / "aws" / "images.csv").write_text(
                f"Tag,Region,OS,OSVersion,ImageId,CreationDate\nskypilot:custom-cpu-ubuntu-2204,{REGION},ubuntu,"
                "22.04,ami-0123456789abcdef0,20240101\n")
            (catalog / "aws" / "instance_quota_mapping.csv").write_text(
                "InstanceType,OnDemandInstanceCode,SpotInstanceCode\nt3.medium,L-1216C47A,L-34B43A08\n")
            yield {"dir": tmp_path_factory.mktemp("sky-policy")}


def apply_policy(env: dict[str, Any], task_yaml: str, config: str, cluster: str = "c1") -> Any:
    """`sky launch -c CLUSTER task.yaml` at the client side: SkyPilot loads its config (with our
    admin_policy) and applies the policy with its own machinery."""
    import sky
    from sky import skypilot_config
    from sky.admin_policy import RequestOptions
    from sky.server.requests.request_names import AdminPolicyRequestName
    from sky.utils import admin_policy_utils

    from preflight.integrations.skypilot import CACHE

    d: Path = env["dir"]
    (d / "config.yaml").write_text(f"admin_policy: {POLICY}\n{config}")
    (d / "task.yaml").write_text(task_yaml)
    os.environ["SKYPILOT_CONFIG"] = str(d / "config.yaml")
    skypilot_config.reload_config()
    CACHE.clear()
    task = sky.Task.from_yaml(str(d / "task.yaml"))
    options = RequestOptions(cluster_name=cluster, idle_minutes_to_autostop=None, down=False, dryrun=False)
    return task, admin_policy_utils.apply(task, AdminPolicyRequestName.CLUSTER_LAUNCH, options, at_client_side=True)


TASK = f"""\
name: train
resources:
  infra: aws/{REGION}
  instance_type: t3.medium
run: python train.py
"""


def _incident(s: Seeder) -> dict[str, str]:
    """The seed incident: default VPC deleted; app-vpc's subnet has no route to its gateway."""
    s.delete_default_vpc()
    vpc = s.vpc("10.0.0.0/16", "app-vpc")
    igw = s.igw(vpc, "app-igw")
    subnet = s.subnet(vpc, "10.0.1.0/24", name="app-subnet")
    table = s.route_table(vpc, [subnet], name="app-rt")
    return {"vpc": vpc, "igw": igw, "subnet": subnet, "table": table}


@pytest.fixture
def seeder(sky_env: dict[str, Any]) -> Iterator[Seeder]:
    from preflight.collect.aws import AwsSession

    session = AwsSession(region=REGION)
    s = Seeder(session, REGION)
    yield s
    # Leave the module's moto account as we found it: delete what the test made.
    ec2 = s.ec2
    for vpc in ec2.describe_vpcs()["Vpcs"]:
        if vpc.get("IsDefault"):
            continue
        vid = vpc["VpcId"]
        for sub in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=sub["SubnetId"])
        for g in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}])[
                "InternetGateways"]:
            ec2.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=vid)
            ec2.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])
        for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"]:
            if not any(a.get("Main") for a in t.get("Associations", [])):
                for a in t.get("Associations", []):
                    ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
                ec2.delete_route_table(RouteTableId=t["RouteTableId"])
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vid]}])["SecurityGroups"]:
            if g["GroupName"] != "default":
                ec2.delete_security_group(GroupId=g["GroupId"])
        ec2.delete_vpc(VpcId=vid)
    if not any(v.get("IsDefault") for v in ec2.describe_vpcs()["Vpcs"]):
        ec2.create_default_vpc()


def test_incident_is_rejected_with_net001_and_its_fix(sky_env: dict[str, Any], seeder: Seeder) -> None:
    import sky

    ids = _incident(seeder)
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy) as caught:
        apply_policy(sky_env, TASK, "aws:\n  vpc_name: app-vpc\n")
    text = str(caught.value)
    assert "NET001 no-usable-subnet" in text
    assert "SkyPilot will stop with 'All candidate subnets are private" in text
    assert (f"aws ec2 create-route --region {REGION} --route-table-id {ids['table']} --destination-cidr-block "
            f"0.0.0.0/0 --gateway-id {ids['igw']}") in text


def test_incident_without_vpc_name_is_rejected_for_the_missing_default_vpc(sky_env: dict[str, Any],
                                                                           seeder: Seeder) -> None:
    import sky

    _incident(seeder)
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy, match="NET006 no-default-vpc") as caught:
        apply_policy(sky_env, TASK, "")
    assert "aws: {vpc_name: app-vpc}" in str(caught.value)


def test_fixed_account_is_accepted_unchanged(sky_env: dict[str, Any], seeder: Seeder) -> None:
    ids = _incident(seeder)
    seeder.route(ids["table"], "0.0.0.0/0", GatewayId=ids["igw"])
    task, (dag, config) = apply_policy(sky_env, TASK, "aws:\n  vpc_name: app-vpc\n")
    assert dag.tasks[0] is task  # passed through as it came
    assert config.get_nested(("aws", "vpc_name"), None) == "app-vpc"


def test_missing_port_on_the_configured_group_is_rejected_with_sg010(sky_env: dict[str, Any],
                                                                     seeder: Seeder) -> None:
    import sky

    ids = _incident(seeder)
    seeder.route(ids["table"], "0.0.0.0/0", GatewayId=ids["igw"])
    group = seeder.security_group(ids["vpc"], "web-sg", ingress=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    task = TASK.replace("  instance_type: t3.medium\n", "  instance_type: t3.medium\n  ports: 8080\n")
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy, match="SG010") as caught:
        apply_policy(sky_env, task, "aws:\n  vpc_name: app-vpc\n  security_group_name: web-sg\n")
    assert "8080" in str(caught.value) and group in str(caught.value)
    # Near miss: the port is open on the group -> accepted.
    seeder.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    apply_policy(sky_env, task, "aws:\n  vpc_name: app-vpc\n  security_group_name: web-sg\n")


def test_non_aws_task_passes_through_untouched(sky_env: dict[str, Any], seeder: Seeder) -> None:
    _incident(seeder)  # an account that would be rejected: the policy must not even look at it
    k8s = "name: train\nresources:\n  infra: k8s\n  cpus: 2\nrun: python train.py\n"
    task, (dag, _) = apply_policy(sky_env, k8s, "")
    assert dag.tasks[0] is task


def test_account_reads_are_cached_per_account_and_region(sky_env: dict[str, Any], seeder: Seeder) -> None:
    """Within the TTL a second request reuses the first read (so it still sees the incident after
    the fix); with the cache cleared, the fix is seen."""
    import sky
    from sky import skypilot_config
    from sky.admin_policy import RequestOptions, UserRequest
    from sky.server.requests.request_names import AdminPolicyRequestName

    from preflight.integrations.skypilot import CACHE, PreflightPolicy

    ids = _incident(seeder)
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy):
        apply_policy(sky_env, TASK, "aws:\n  vpc_name: app-vpc\n")  # (clears, then fills the cache)
    seeder.route(ids["table"], "0.0.0.0/0", GatewayId=ids["igw"])
    task = sky.Task.from_yaml(str(sky_env["dir"] / "task.yaml"))
    request = UserRequest(task, skypilot_config.resolved_config(), AdminPolicyRequestName.CLUSTER_LAUNCH,
                          RequestOptions(cluster_name="c1", idle_minutes_to_autostop=None, down=False, dryrun=False),
                          True)
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy):
        PreflightPolicy.validate_and_mutate(request)  # cached: the route is not seen yet
    CACHE.clear()
    assert PreflightPolicy.validate_and_mutate(request).task is task


def test_the_policy_checks_through_the_public_api(sky_env: dict[str, Any], seeder: Seeder,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin policy is a caller of `preflight.check` (launcher profile `skypilot`, the policy's
    inventory cache in the run settings), not of the runner's internals."""
    import sky

    import preflight

    calls: list[dict[str, Any]] = []
    real = preflight.check

    def recording(*args: Any, **kwargs: Any) -> preflight.Report:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(preflight, "check", recording)
    _incident(seeder)
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy, match="NET001"):
        apply_policy(sky_env, TASK, "aws:\n  vpc_name: app-vpc\n")
    assert len(calls) == 1
    assert calls[0]["launcher"] == "skypilot" and calls[0]["region"] == REGION
    assert calls[0]["settings"].inventory_cache is not None


def test_preflight_failure_fails_open_or_closed(sky_env: dict[str, Any], seeder: Seeder,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import sky

    no_region = TASK.replace(f"  infra: aws/{REGION}\n", "  infra: aws\n")
    monkeypatch.setenv("PREFLIGHT_POLICY_REGION", "xx-nowhere-1")  # preflight refuses the region
    task, (dag, _) = apply_policy(sky_env, no_region, "")
    assert dag.tasks[0] is task  # fail open (the default): the launch goes ahead, with a warning
    monkeypatch.setenv("PREFLIGHT_POLICY_FAIL", "closed")
    with pytest.raises(sky.exceptions.UserRequestRejectedByPolicy, match="preflight could not check this launch"):
        apply_policy(sky_env, no_region, "")
