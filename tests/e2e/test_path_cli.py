"""End to end: the installed `preflight path` against a moto server on 127.0.0.1, the sandbox, a
snapshot (offline), and bad input."""

from __future__ import annotations

import jsonschema
import pytest

from preflight.report.path import JSON_SCHEMA
from tests.conftest import run_cli, run_in_process
from tests.e2e.test_check_cli import seed_incident

REGION = "eu-south-1"


def test_path_against_moto_server_names_missing_route_then_opens(moto_server):
    ids = seed_incident(moto_server)
    env = {"AWS_ENDPOINT_URL": moto_server.url}
    args = ("path", "--region", REGION, "--from", "internet", "--to", ids["subnet"], "--port", "8000")
    res = run_cli(*args, "--format", "json", "--all-blockers", env=env)
    assert res.code == 1, res.stderr
    doc = res.json()
    jsonschema.validate(doc, JSON_SCHEMA)
    assert doc["verdict"] == "unreachable" and doc["code"] == "NO_ROUTE_TO_DESTINATION"
    assert doc["blocker"]["id"] == ids["rtb"]
    assert doc["blocker"]["fix"]["fixer"] == "route-add-default"
    assert doc["blocker"]["fix"]["commands"] == [
        f"aws ec2 create-route --region {REGION} --route-table-id {ids['rtb']} "
        f"--destination-cidr-block 0.0.0.0/0 --gateway-id {ids['igw']}"]
    assert [b["code"] for b in doc["blockers"]] == ["NO_ROUTE_TO_DESTINATION", "NO_PUBLIC_IP", "SG_NO_INGRESS"]

    # apply the three fixes by hand, then the same question says reachable, exit 0
    ec2 = moto_server.client("ec2", REGION)
    ec2.create_route(RouteTableId=ids["rtb"], DestinationCidrBlock="0.0.0.0/0", GatewayId=ids["igw"])
    ec2.modify_subnet_attribute(SubnetId=ids["subnet"], MapPublicIpOnLaunch={"Value": True})
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=ids["vpc"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ok = run_cli(*args, "--security-group", "web", env=env)
    assert ok.code == 0, ok.stdout + ok.stderr
    assert "REACHABLE" in ok.stdout and f"{sg} ingress rule sgr-" in ok.stdout
    assert f"route 0.0.0.0/0 -> {ids['igw']}" in ok.stdout


def test_sandbox_incident_names_missing_default_route_and_fix():
    res = run_cli("path", "--sandbox", "no-default-route", "--from", "internet", "--to", "app-subnet",
                  "--port", "8000")
    assert res.code == 1, res.stderr
    out = res.stdout
    assert "UNREACHABLE: NO_ROUTE_TO_DESTINATION at rtb-" in out
    assert "has no default route (0.0.0.0/0)" in out
    assert "aws ec2 create-route --region eu-south-1 --route-table-id rtb-" in out
    assert "--destination-cidr-block 0.0.0.0/0 --gateway-id igw-" in out
    assert "(fixer route-add-default)" in out
    assert "2 more: NO_PUBLIC_IP, SG_NO_INGRESS (see --all-blockers)" in out


def test_sandbox_ipv6_egress_only_is_outbound_only():
    inbound = run_cli("path", "--sandbox", "ipv6-egress-only", "--from", "internet", "--to", "v6-subnet",
                      "--port", "8000", "--ipv6", "--all-blockers", "--format", "json")
    assert inbound.code == 1, inbound.stderr
    doc = inbound.json()
    assert doc["ip_version"] == 6 and doc["from"]["address"] == "::/0"
    assert "EGRESS_ONLY_INBOUND" in [b["code"] for b in doc["blockers"]]
    route = next(b for b in doc["blockers"] if b["code"] == "EGRESS_ONLY_INBOUND")
    assert route["kind"] == "route_table" and route["rule"].startswith("::/0 -> eigw-")


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    """The hand-built two-subnet world of the unit tests, as a snapshot: offline and fast."""
    from preflight.inventory import snapshot
    from tests.unit.reach_world import healthy

    path = tmp_path_factory.mktemp("snap") / "world.json"
    snapshot.save(path, [healthy()])
    return str(path)


def test_snapshot_offline_dot(snapshot_file):
    res = run_in_process("path", "--snapshot", snapshot_file, "--from", "i-priv", "--to", "internet",
                         "--port", "443", "--format", "dot")
    assert res.code == 0, res.stdout + res.stderr
    assert res.stdout.startswith("digraph preflight {")
    red = [x for x in res.stdout.splitlines() if "color=red" in x and "->" in x]
    for edge in ('"rtb-priv" -> "nat-1"', '"nat-1" -> "subnet-pub"', '"subnet-pub" -> "rtb-pub"',
                 '"rtb-pub" -> "igw-1"', '"igw-1" -> "internet"'):
        assert any(x.strip().startswith(edge) for x in red), edge


@pytest.mark.parametrize("extra,needle", [
    (("--to", "subnet-doesnotexist", "--port", "80"), "unknown subnet subnet-doesnotexist in eu-south-1"),
    (("--to", "i-0123456789abcdef0", "--port", "80"), "unknown instance i-0123456789abcdef0"),
    (("--to", "10.0.0.0/99", "--port", "80"), "is not an instance id"),
    (("--to", "i-web", "--port", "70000"), "--port: 70000 is out of range 1-65535"),
    (("--to", "i-web", "--port", "abc"), "--port: 'abc' is not a port number"),
    (("--to", "i-web", "--port", "80", "--protocol", "sctp"), "--protocol: 'sctp' is not one of"),
    (("--to", "i-web", "--port", "80", "--format", "xml"), "unknown format 'xml'"),
    (("--to", "203.0.113.0/24", "--port", "80"), "neither internet nor 203.0.113.0/24 is in eu-south-1"),
])
def test_bad_input_one_line_exit_2(snapshot_file, extra, needle):
    res = run_in_process("path", "--snapshot", snapshot_file, "--from", "internet", *extra)
    assert res.code == 2, res.stdout + res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
