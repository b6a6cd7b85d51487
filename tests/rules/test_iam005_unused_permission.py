"""IAM005 unused-permission, and its collector against a botocore Stubber (moto lacks the API)."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber

from preflight.collect import aws_iam
from preflight.collect.aws import Denied
from preflight.settings import RunSettings
from tests.rules.iam_support import (  # noqa: F401  (_fresh_settings is an autouse fixture)
    USER_ARN,
    _fresh_settings,
    aws_inventory,
    check,
    only,
)

JOB = "0d2f9c1e-1a2b-4c3d-8e9f-001122334455"
NOW = "2026-11-25T08:00:00+00:00"


def last_accessed(*services):
    return {"principal": USER_ARN, "kind": "user", "applicable": True, "generated_at": NOW,
            "services": [{"namespace": n, "name": n, "last_authenticated": last, "entities": 1}
                         for n, last in services]}


def test_stale_and_never_used_services():
    inv = aws_inventory(iam_last_accessed=last_accessed(("ec2", "2026-11-20T00:00:00+00:00"),
                                                        ("sqs", None), ("s3", "2026-05-01T00:00:00+00:00")))
    f = only(check(inv, "IAM005"), "IAM005")
    assert f.status == "FAIL" and f.severity == "low" and f.resource == USER_ARN
    assert "granted 2 services it has not used in 90 days: sqs (never used), s3 (last used 2026-05-01, 208 days ago)" \
        in f.message
    assert "ec2" not in f.details["unused"][0]


def test_near_miss_recently_used_and_configurable_window():
    inv = aws_inventory(iam_last_accessed=last_accessed(("s3", "2026-09-01T00:00:00+00:00")))
    assert check(inv, "IAM005") == []
    from preflight import engine
    rules = engine.select_rules(engine.load_rules(), ["IAM005"])
    found = engine.run([inv], rules, None, {"iam_unused_days": 30}).findings
    assert found and "in 30 days: s3" in found[0].message


def test_not_applicable_for_root():
    inv = aws_inventory(iam_last_accessed={"principal": "arn:aws:iam::1:root", "kind": "root", "applicable": False})
    assert check(inv, "IAM005") == []


class StubSession:
    """What the extra collectors use of AwsSession: client(service, region), with stubbed clients."""

    def __init__(self, arn: str, settings: RunSettings | None = None) -> None:
        self.settings = settings or RunSettings()
        self.clients = {s: boto3.client(s, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
                        for s in ("sts", "iam")}
        self.stubbers = {s: Stubber(c) for s, c in self.clients.items()}
        self.stubbers["sts"].add_response("get_caller_identity",
                                          {"Account": "123456789012", "Arn": arn, "UserId": "AIDA"})

    def client(self, service, region):
        return self.clients[service]

    def __enter__(self):
        for s in self.stubbers.values():
            s.activate()
        return self

    def __exit__(self, *exc):
        for s in self.stubbers.values():
            s.deactivate()


def test_collector_polls_until_complete(monkeypatch):
    monkeypatch.setattr(aws_iam.time, "sleep", lambda s: None)
    with StubSession(USER_ARN) as s:
        iam = s.stubbers["iam"]
        iam.add_response("generate_service_last_accessed_details", {"JobId": JOB}, {"Arn": USER_ARN})
        iam.add_response("get_service_last_accessed_details",
                         {"JobStatus": "IN_PROGRESS", "JobCreationDate": dt.datetime(2026, 11, 25),
                          "JobCompletionDate": dt.datetime(2026, 11, 25), "ServicesLastAccessed": []},
                         {"JobId": JOB, "MaxItems": 1000})
        iam.add_response("get_service_last_accessed_details", {
            "JobStatus": "COMPLETED", "JobCreationDate": dt.datetime(2026, 11, 25),
            "JobCompletionDate": dt.datetime(2026, 11, 25),
            "ServicesLastAccessed": [
                {"ServiceName": "Amazon EC2", "ServiceNamespace": "ec2",
                 "LastAuthenticated": dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc),
                 "TotalAuthenticatedEntities": 1},
                {"ServiceName": "Amazon SQS", "ServiceNamespace": "sqs", "TotalAuthenticatedEntities": 0}],
            "IsTruncated": False}, {"JobId": JOB, "MaxItems": 1000})  # IAM's largest page
        data = aws_iam.collect_last_accessed(s, "us-east-1", None)
        iam.assert_no_pending_responses()
    assert data["applicable"] and [x["namespace"] for x in data["services"]] == ["ec2", "sqs"]
    assert data["services"][1]["last_authenticated"] is None
    f = only(check(aws_inventory(iam_last_accessed=data), "IAM005"), "IAM005")
    assert "sqs (never used)" in f.message and "ec2" not in f.message


def test_collector_access_denied_names_the_permission():
    with StubSession(USER_ARN) as s:
        s.stubbers["iam"].add_client_error("generate_service_last_accessed_details", "AccessDenied", "no")
        with pytest.raises(Denied) as exc:
            aws_iam.collect_last_accessed(s, "us-east-1", None)
    assert exc.value.permission == "iam:GenerateServiceLastAccessedDetails"
