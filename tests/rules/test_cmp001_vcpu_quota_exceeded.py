"""CMP001 vcpu-quota-exceeded: quota math on inventories, the quota collector on botocore's Stubber
(moto does not serve ListServiceQuotas), and the instance-type collector and its cache on moto."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from msgspec.structs import replace

from preflight.collect import aws_compute as c
from preflight.collect.aws import AwsSession, Denied
from preflight.collect.scenarios.compute import COMPUTE_PLAN
from preflight.inventory.model import Unreadable
from tests.rules.cmp_support import READY_PLAN, REGION, blockers, collect_seeded, inv, ready, run, vm

G_TYPES = {"instance_type": "g4dn.xlarge", "family": "g",
           "types": {"g4dn.xlarge": {"vcpus": 4, "architectures": ["x86_64"]},
                     "g5.2xlarge": {"vcpus": 8, "architectures": ["x86_64"]}}}
G_QUOTA = {"quotas": {"L-DB2E81BA": {"name": "Running On-Demand G and VT instances", "value": 8.0},
                      "L-3819A6DF": {"name": "All G and VT Spot Instance Requests", "value": 4.0}}}
PLAN = {"instance_type": "g4dn.xlarge", "count": 2}


def test_fires_when_running_plus_requested_exceeds_the_quota() -> None:
    [f] = run("CMP001", inv(vm("i-0gpu", "g4dn.xlarge"), vm("i-0std", "m5.large"),
                             instance_types=G_TYPES, quotas=G_QUOTA), PLAN)
    assert (f.rule, f.status, f.severity, f.resource) == ("CMP001", "FAIL", "high", "L-DB2E81BA")
    assert "2 × g4dn.xlarge needs 8 vCPUs" in f.message
    assert "4 vCPUs already run in that bucket (1 instance: i-0gpu)" in f.message
    assert "'Running On-Demand G and VT instances' (L-DB2E81BA) is 8 vCPUs in eu-south-1: 4 + 8 = 12 > 8" in f.message
    assert "VcpuLimitExceeded" in f.message and "launch at most 1 instance" in f.message
    assert f.fix is not None and f.fix.commands == (
        "aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA "
        "--desired-value 12 --region eu-south-1",)
    assert f.details["used"] == 4 and f.details["requested"] == 8 and f.details["running_instances"] == ["i-0gpu"]


def test_near_miss_exactly_at_the_quota_and_other_families_do_not_count() -> None:
    # 8 requested, nothing of the G family runs (m5 and a stopped g4dn do not count): 8 <= 8.
    assert run("CMP001", inv(vm("i-0std", "m5.large"), vm("i-0off", "g4dn.xlarge", state="stopped"),
                             instance_types=G_TYPES, quotas=G_QUOTA), PLAN) == []


def test_spot_plan_uses_the_spot_bucket_and_spot_instances() -> None:
    plan = {**PLAN, "count": 1, "spot": True}
    # On-demand g4dn running does not count against the Spot bucket: 4 <= 4.
    assert run("CMP001", inv(vm("i-0od", "g4dn.xlarge"), instance_types=G_TYPES, quotas=G_QUOTA), plan) == []
    [f] = run("CMP001", inv(vm("i-0sp", "g4dn.xlarge", lifecycle="spot"), instance_types=G_TYPES,
                            quotas=G_QUOTA), plan)
    assert f.resource == "L-3819A6DF" and "4 + 4 = 8 > 4" in f.message


def test_unreadable_quotas_is_unknown_naming_the_permission() -> None:
    i = inv(instance_types=G_TYPES)
    i = replace(i, unreadable=(Unreadable("quotas", "AccessDeniedException",
                                                      "servicequotas:ListServiceQuotas"),))
    [f] = run("CMP001", i, PLAN)
    assert (f.status, f.resource) == ("UNKNOWN", REGION)
    assert "quotas could not be read (AccessDeniedException); grant servicequotas:ListServiceQuotas" in f.message


def test_missing_quota_or_data_is_unknown_never_a_pass() -> None:
    [f] = run("CMP001", inv(instance_types=G_TYPES, quotas={"quotas": {}}), PLAN)
    assert f.status == "UNKNOWN" and f.resource == "L-DB2E81BA" and "does not list" in f.message
    [f] = run("CMP001", inv(), PLAN)  # a snapshot taken without the plan
    assert f.status == "UNKNOWN" and "no instance-type or quota data" in f.message
    [f] = run("CMP001", inv(instance_types=G_TYPES, quotas=G_QUOTA), {"instance_type": "q1.large"})
    assert f.status == "UNKNOWN" and "does not know its quota family" in f.message


def test_no_instance_type_in_the_plan_means_nothing_to_check() -> None:
    assert run("CMP001", inv(quotas=G_QUOTA), {"ports": [22]}) == []
    assert run("CMP001", inv(quotas=G_QUOTA), {"instance_type": "mac2.metal"}) == []


# --- end to end through the real collectors in moto -----------------------------------------------

def test_through_the_collectors_in_the_sandbox() -> None:
    i = blockers()
    assert i.extra["instance_types"]["types"]["g4dn.xlarge"]["vcpus"] == 4
    assert "vt1.3xlarge" in i.extra["instance_types"]["types"]  # the whole G and VT family
    [f] = run("CMP001", i, COMPUTE_PLAN)
    assert f.resource == "L-DB2E81BA" and "4 + 8 = 12 > 8" in f.message
    gpu = next(x.id for x in i.instances if x.instance_type == "g4dn.xlarge")
    assert f.details["running_instances"] == [gpu]  # the two m5.large are another family
    assert run("CMP001", ready(), READY_PLAN) == []  # 4 running + 4 requested = 8 <= 8


def test_moto_without_quotas_is_unknown() -> None:
    i = collect_seeded(lambda s: None, PLAN, quotas=None)  # moto lacks ListServiceQuotas
    [f] = run("CMP001", i, PLAN)
    assert f.status == "UNKNOWN" and "quotas could not be read (NotImplemented)" in f.message


# --- the Service Quotas collector on botocore's Stubber ---------------------------------------------

class StubSession:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.endpoint_url = None

    def client(self, service: str, region: str) -> Any:
        assert service == "service-quotas"
        return self._client


def _quota(code: str, name: str, value: float) -> dict[str, Any]:
    return {"ServiceCode": "ec2", "QuotaCode": code, "QuotaName": name, "Value": value, "Adjustable": True}


def _plan(**kw: Any) -> Any:
    from tests.rules.cmp_support import as_plan

    return as_plan({**PLAN, **kw})


def test_quota_collector_paginates_and_keeps_vcpu_quotas_only() -> None:
    client = boto3.client("service-quotas", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("list_service_quotas", {"Quotas": [
            _quota("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 64),
            _quota("L-0263D0A3", "EC2-VPC Elastic IPs", 5)], "NextToken": "t1"},
            {"ServiceCode": "ec2", "MaxResults": 100})
        stub.add_response("list_service_quotas", {"Quotas": [
            _quota("L-DB2E81BA", "Running On-Demand G and VT instances", 8)]},
            {"ServiceCode": "ec2", "NextToken": "t1", "MaxResults": 100})  # the API's largest page
        data = c.collect_quotas(StubSession(client), REGION, _plan())
        stub.assert_no_pending_responses()
    assert sorted(data["quotas"]) == ["L-1216C47A", "L-DB2E81BA"]
    assert data["quotas"]["L-DB2E81BA"]["value"] == 8


def test_quota_collector_access_denied_names_the_permission() -> None:
    client = boto3.client("service-quotas", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException", "not authorized", 400)
        with pytest.raises(Denied) as exc:
            c.collect_quotas(StubSession(client), REGION, _plan())
    assert (exc.value.permission, exc.value.code) == ("servicequotas:ListServiceQuotas", "AccessDeniedException")


def test_quota_collector_falls_back_to_get_then_default() -> None:
    client = boto3.client("service-quotas", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "ec2", "MaxResults": 100})
        stub.add_client_error("get_service_quota", "NoSuchResourceException", "no applied value", 400)
        stub.add_response("get_aws_default_service_quota", {"Quota": _quota(
            "L-DB2E81BA", "Running On-Demand G and VT instances", 0)},
            {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"})
        data = c.collect_quotas(StubSession(client), REGION, _plan())
        stub.assert_no_pending_responses()
    assert data["quotas"]["L-DB2E81BA"] == {"name": "Running On-Demand G and VT instances", "value": 0,
                                            "adjustable": True, "default": True}
    # ...and the rule reads it: 0 vCPUs of G and VT, as in a new account.
    [f] = run("CMP001", inv(instance_types=G_TYPES, quotas=data), PLAN)
    assert "is 0 vCPUs" in f.message


def test_quota_collector_makes_no_call_without_an_instance_type() -> None:
    client = boto3.client("service-quotas", region_name=REGION)
    with Stubber(client) as stub:
        assert c.collect_quotas(StubSession(client), REGION, _plan(instance_type="")) == {}
        stub.assert_no_pending_responses()


# --- instance types: one family call sequence, cached per region with a TTL ----------------------------

def test_instance_types_cache_per_region_with_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c, "cacheable", lambda session: True)
    with mock_aws():
        session = AwsSession(region=REGION)
        first = c.collect_instance_types(session, REGION, _plan())
        calls = session.stats.total
        assert first["cached"] is False and calls >= 1
        assert set(session.stats.calls) == {"ec2:DescribeInstanceTypes"}
        second = c.collect_instance_types(session, REGION, _plan(instance_type="g5.xlarge"))
        assert second["cached"] is True and session.stats.total == calls  # no call at all
        assert second["types"] == first["types"]
        path = c.cache_path(REGION)
        data = json.loads(path.read_text())
        data["families"]["g"]["fetched_at"] = time.time() - c.INSTANCE_TYPES_TTL - 1
        path.write_text(json.dumps(data))
        third = c.collect_instance_types(session, REGION, _plan())
        assert third["cached"] is False and session.stats.total > calls
    assert str(path).endswith("preflight/instance-types/eu-south-1.json")


def test_sandbox_and_custom_endpoints_never_write_the_cache() -> None:
    with mock_aws():
        session = AwsSession(region=REGION)
        assert c.cacheable(session) is False  # moto in process
        c.collect_instance_types(session, REGION, _plan())
    assert not c.cache_path(REGION).exists()

    class Endpoint:
        endpoint_url = "http://127.0.0.1:5000"
    assert c.cacheable(Endpoint()) is False


def test_an_html_500_from_an_emulator_is_unreadable_without_blaming_permissions() -> None:
    import botocore.exceptions

    exc = botocore.exceptions.ClientError(
        {"Error": {"Code": "500", "Message": "<!doctype html><title>500 Internal Server Error</title>"},
         "ResponseMetadata": {"HTTPStatusCode": 500}}, "ListServiceQuotas")
    with pytest.raises(Denied) as info:
        c._raise_unreadable(exc, "servicequotas:ListServiceQuotas")
    assert (info.value.permission, info.value.code) == ("", "500")
    assert info.value.message == "the endpoint answered HTTP 500 without an AWS error"
