"""The AWS collector through real boto3 against moto in process."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from preflight import engine
from preflight.collect import aws
from preflight.errors import PreflightError
from preflight.graph import build


@pytest.fixture
def session():
    with mock_aws():
        yield aws.AwsSession(region="eu-south-1")


def deny(session: aws.AwsSession, operation: str, code: str = "UnauthorizedOperation") -> None:
    """Make one EC2 operation answer AccessDenied-style errors, as a real restricted role would."""
    class Resp:
        status_code = 403
        headers: dict = {}

    def handler(**_):
        return Resp(), {"Error": {"Code": code, "Message": "You are not authorized to perform this operation."},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}
    session.client("ec2", "eu-south-1").meta.events.register(f"before-call.ec2.{operation}", handler)


def test_one_call_sequence_per_type_and_dangling_references_tolerated(session):
    ec2 = boto3.client("ec2", region_name="eu-south-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for i in range(25):
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")
    # Deleting the default VPC in moto leaves its NACL associated with subnets that are gone.
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    ec2.delete_vpc(VpcId=default)
    inv = aws.collect(session, "eu-south-1")
    assert len([s for s in inv.subnets if s.vpc_id == vpc]) == 25
    calls = session.stats.calls
    describe = {k: v for k, v in calls.items() if k.startswith("ec2:Describe")}
    assert set(describe.values()) == {1}, describe  # never one call per subnet
    assert len(describe) == len(aws.FETCHERS)
    g = build(inv)  # a NACL associated to deleted subnets must not crash the graph
    assert all(g.nodes[n]["kind"] != "missing" for n in g.nodes)
    assert inv.account == "123456789012" and inv.unreadable == ()


def test_unreadable_type_is_recorded_and_rules_report_unknown(session):
    deny(session, "DescribeRouteTables")
    inv = aws.collect(session, "eu-south-1")
    assert [(u.resource_type, u.error_code, u.permission) for u in inv.unreadable] == [
        ("route_tables", "UnauthorizedOperation", "ec2:DescribeRouteTables")]
    rules = [r for r in engine.load_rules().values() if "route_tables" in r.meta.needs]
    assert rules, "some rule must need route tables"
    report = engine.run([inv], rules)
    assert {f.rule for f in report.findings} == {r.id for r in rules}
    assert all(f.status == "UNKNOWN" and "ec2:DescribeRouteTables" in f.message for f in report.findings)
    assert report.exit_code() == 3


def test_unreadable_security_group_rules_make_groups_unreadable(session):
    deny(session, "DescribeSecurityGroupRules", "AccessDenied")
    inv = aws.collect(session, "eu-south-1")
    assert {u.resource_type for u in inv.unreadable} == {"security_groups"}


def test_rejected_credentials_are_a_one_line_error(session):
    deny(session, "DescribeVpcs", "AuthFailure")  # AuthFailure is a denial, not a credential error
    inv = aws.collect(session, "eu-south-1")
    assert "vpcs" in inv.unreadable_types()
    assert session.stats.calls["sts:GetCallerIdentity"] == 1
    aws.caller_identity(session, "eu-west-1")  # asked once per session, whatever the region
    assert session.stats.calls["sts:GetCallerIdentity"] == 1
    session = aws.AwsSession(region="eu-south-1")
    sts = session.client("sts", "eu-south-1")

    class Resp:
        status_code = 403
        headers: dict = {}
    sts.meta.events.register("before-call.sts.GetCallerIdentity", lambda **_: (
        Resp(), {"Error": {"Code": "ExpiredToken", "Message": "secret-token-should-not-leak"}}))
    with pytest.raises(aws.CredentialsError) as exc:
        aws.caller_identity(session, "eu-south-1")
    assert "ExpiredToken" in str(exc.value) and "secret-token" not in str(exc.value)


def _rejecting(session: aws.AwsSession, service: str, operation: str, code: str) -> None:
    class Resp:
        status_code = 403
        headers: dict = {}

    session.client(service, "eu-south-1").meta.events.register(f"before-call.{service}.{operation}", lambda **_: (
        Resp(), {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}))


def test_the_identity_is_asked_once_beside_the_reads_and_its_error_wins(session):
    """collect() asks sts:GetCallerIdentity concurrently with the reads and the extras that need
    it too (IAM): one call in all. When the credentials are rejected, the identity's one-line
    CredentialsError is what the run ends with, whatever the concurrent reads met meanwhile."""
    inv = aws.collect(session, "eu-south-1", needs={"iam"})
    assert session.stats.calls["sts:GetCallerIdentity"] == 1
    assert inv.account == "123456789012" and session.identity and session.identity["account"] == inv.account
    assert "iam" in inv.extra
    rejected = aws.AwsSession(region="eu-south-1")
    _rejecting(rejected, "sts", "GetCallerIdentity", "ExpiredToken")
    _rejecting(rejected, "ec2", "DescribeVpcs", "AuthFailure")  # a denial, read as unreadable, not the error
    with pytest.raises(aws.CredentialsError, match="ExpiredToken"):
        aws.collect(rejected, "eu-south-1")
    raising = aws.AwsSession(region="eu-south-1")
    _rejecting(raising, "sts", "GetCallerIdentity", "InvalidClientTokenId")
    raising.client("ec2", "eu-south-1").meta.events.register(
        "before-call.ec2.DescribeSubnets", lambda **_: (_ for _ in ()).throw(RuntimeError("read failed")))
    with pytest.raises(aws.CredentialsError, match="InvalidClientTokenId"):
        aws.collect(raising, "eu-south-1")


@pytest.mark.parametrize("url", ["notaurl", "localhost:5000"])
def test_a_malformed_endpoint_url_is_one_line_error(url):
    with pytest.raises(PreflightError, match=rf"--endpoint-url \(or AWS_ENDPOINT_URL\): '{url}' is not a URL"):
        aws.AwsSession(region="eu-south-1", endpoint_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "http://[::1]:5000", "https://ec2.eu-south-1.amazonaws.com"])
def test_a_well_formed_endpoint_url_is_accepted(url):
    assert aws.AwsSession(region="eu-south-1", endpoint_url=url).client("ec2", "eu-south-1").meta.endpoint_url == url


def test_the_garbage_collector_is_paused_during_collections_and_restored_after(session):
    """Overlapping collections (regions read at once) pause the cyclic GC once and the last to end
    restores it, after an error too; a caller that had it off finds it off."""
    import gc

    assert gc.isenabled()
    outer = aws.gc_paused()
    outer.__enter__()
    with aws.gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the outer collection still runs
    outer.__exit__(None, None, None)
    assert gc.isenabled()
    with pytest.raises(RuntimeError), aws.gc_paused():
        raise RuntimeError("a read failed")
    assert gc.isenabled()
    seen: list[bool] = []
    session.client("ec2", "eu-south-1").meta.events.register(
        "before-call.ec2.DescribeVpcs", lambda **_: seen.append(gc.isenabled()))
    aws.collect(session, "eu-south-1")
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        aws.collect(session, "eu-south-1")
        assert not gc.isenabled()
    finally:
        gc.enable()
