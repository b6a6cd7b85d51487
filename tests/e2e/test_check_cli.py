"""End to end: the installed `preflight` command against a moto server on 127.0.0.1, and bad input.

The incident check and one bad-input case run the installed command as a subprocess; the rest run
the same entry point in process (tests.conftest.run_in_process), a second cheaper each."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import run_cli, run_in_process


def seed_incident(server) -> dict[str, str]:
    """The eu-south-1 incident: default VPC deleted, custom VPC with an attached IGW, but the
    subnet's route table has no 0.0.0.0/0 route and the subnet maps no public IPs."""
    ec2 = server.client("ec2", "eu-south-1")
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=s["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24",
                               AvailabilityZone="eu-south-1a")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": False})
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    return {"vpc": vpc, "igw": igw, "subnet": subnet, "rtb": rtb}


def test_check_against_moto_server_finds_the_incident(moto_server):
    ids = seed_incident(moto_server)
    res = run_cli("check", "--region", "eu-south-1", "--format", "json", "--select", "NET",
                  env={"AWS_ENDPOINT_URL": moto_server.url})
    assert res.code == 1, res.stderr
    report = res.json()
    assert report["schema"] == "preflight/v1" and report["regions"] == ["eu-south-1"]
    net001 = [f for f in report["findings"] if f["rule"] == "NET001"]
    assert len(net001) == 1
    f = net001[0]
    assert f["resource"] == ids["vpc"] and f["status"] == "FAIL" and f["severity"] == "high"
    for rid in (ids["subnet"], ids["rtb"], ids["igw"]):
        assert rid in f["message"] or rid in f["path"], rid
    cmds = " ".join(f["fix"]["commands"])
    assert (f"aws ec2 create-route --region eu-south-1 --route-table-id {ids['rtb']} "
            f"--destination-cidr-block 0.0.0.0/0 --gateway-id {ids['igw']}") in cmds
    assert f"modify-subnet-attribute --region eu-south-1 --subnet-id {ids['subnet']} --map-public-ip-on-launch" in cmds
    assert report["unreadable"] == []


def test_healthy_account_exits_zero_and_table_says_so(moto_server):
    ec2 = moto_server.client("ec2", "eu-south-1")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    # moto's default VPC has no IGW (real EC2's does): give it one so only our wiring is judged.
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    digw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=digw, VpcId=default)
    for t in ec2.describe_route_tables()["RouteTables"]:
        if any(a.get("Main") for a in t["Associations"]):
            ec2.create_route(RouteTableId=t["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                             GatewayId=igw if t["VpcId"] == vpc else digw)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24",
                               AvailabilityZone="eu-south-1b")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    res = run_in_process("check", "--region", "eu-south-1", "--select", "NET",
                         env={"AWS_ENDPOINT_URL": moto_server.url})
    assert res.code == 0, res.stdout + res.stderr
    assert "No problems found" in res.stdout


def test_snapshot_then_offline_check_gives_the_same_findings(moto_server, tmp_path):
    seed_incident(moto_server)
    snap = tmp_path / "acct.json"
    env = {"AWS_ENDPOINT_URL": moto_server.url}
    assert run_cli("snapshot", "--region", "eu-south-1", "--out", str(snap), env=env).code == 0
    live = run_cli("check", "--region", "eu-south-1", "--format", "json", "--select", "NET", env=env).json()
    offline = run_cli("check", "--snapshot", str(snap), "--format", "json", "--select", "NET",
                      env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}).json()
    assert offline["findings"] == live["findings"]


def test_graph_export(moto_server):
    ids = seed_incident(moto_server)
    env = {"AWS_ENDPOINT_URL": moto_server.url}
    dot = run_cli("graph", "--region", "eu-south-1", env=env)
    assert dot.code == 0 and dot.stdout.startswith("digraph preflight")
    assert f'"{ids["igw"]}" -> "{ids["vpc"]}" [label="ATTACHED_TO' in dot.stdout
    assert f'"{ids["subnet"]}" -> "{ids["rtb"]}" [label="ASSOCIATED_WITH' in dot.stdout
    data = json.loads(run_cli("graph", "--region", "eu-south-1", "--format", "json", env=env).stdout)
    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    assert kinds[ids["rtb"]] == "route_table" and kinds["internet"] == "internet"


NO_CREDS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
            "AWS_SECURITY_TOKEN": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def _bad(tmp_path):
    snap = tmp_path / "bad.json"
    snap.write_text('{"schema": "preflight-snapshot/v1", "inventories": [{"subnets": [{"id": 7}]}]}')
    plan = tmp_path / "plan.yaml"
    plan.write_text("region: eu-south-1\nports: [8000, 70000]\n")
    return snap, plan


@pytest.mark.parametrize("args, env, message", [
    (["check", "--region", "mars-north-1"], {}, "unknown AWS region 'mars-north-1'"),
    (["check", "--region", "eu-south-1"], NO_CREDS, "no AWS credentials found"),
    (["check", "--region", "eu-south-1", "--profile", "nope"], {}, "AWS profile 'nope' not found"),
    (["check", "--snapshot", "{snap}"], {}, "$.inventories[0].subnets[0].id: expected a string"),
    (["check", "--snapshot", "/nonexistent/x.json"], {}, "snapshot file not found"),
    (["check", "--sandbox", "--plan", "{plan}"], {}, "ports: port 70000 is out of range"),
    (["check", "--sandbox", "--select", "NOPE1"], {}, "unknown rule id or prefix 'NOPE1'"),
    (["check", "--sandbox", "--format", "xml"], {}, "unknown format 'xml'"),
    (["check", "--sandbox", "no-such-scenario"], {}, "unknown sandbox scenario 'no-such-scenario'"),
    (["check", "--sandbox", "--ports", "abc"], {}, "'abc' is not a port"),
    (["explain", "XYZ123"], {}, "unknown rule id 'XYZ123'"),
    (["snapshot", "--sandbox", "--out", "{dir}"], {}, "cannot write snapshot"),
    (["check", "--sandbox", "--plan", "{list}"], {}, "list.yaml: expected a mapping at the top level"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, env, message):
    snap, plan = _bad(tmp_path)
    (tmp_path / "list.yaml").write_text("- 1\n")
    args = [a.replace("{snap}", str(snap)).replace("{plan}", str(plan)).replace("{dir}", str(tmp_path))
            .replace("{list}", str(tmp_path / "list.yaml")) for a in args]
    # Missing credentials as the installed command meets them (a fresh process, botocore's whole
    # credential chain); the other cases in process.
    run = run_cli if env is NO_CREDS else run_in_process
    res = run(*args, env=env, timeout=60)
    assert res.code == 2, (res.code, res.stdout, res.stderr)
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stderr.count("list.yaml:") <= 1, res.stderr  # the file is named once


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    import preflight.catalogue
    from preflight.cli import main

    def interrupted(fmt: str = "table") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(preflight.catalogue, "render_catalogue", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main(["rules"])
    assert exit_.value.code == 130
    out = capsys.readouterr()
    assert out.err == "preflight: interrupted\n" and out.out == ""


def test_snapshot_holds_the_extra_data_default_rules_need(tmp_path):
    out = tmp_path / "snap.json"
    res = run_cli("snapshot", "--sandbox", "compute-blockers", "--out", str(out), timeout=60)
    assert res.code == 0, res.stderr
    extra = json.loads(out.read_text())["inventories"][0]["extra"]
    assert {"key_pairs", "instance_types", "quotas", "iam"} <= set(extra) and "dry_run" not in extra
    res = run_cli("check", "--snapshot", str(out), "--select", "CMP004", "--format", "json", timeout=60)
    assert res.code == 0 and res.json()["summary"]["unknown"] == 0, res.stdout
