"""The permission catalogue: shipped data, plan capabilities, and the PREFLIGHT_PERMISSIONS override."""

from __future__ import annotations

import pytest

from preflight.errors import PreflightError
from preflight.permissions import _load, capabilities_for, catalogue
from preflight.plan import plan_from_dict
from preflight.settings import RunSettings


def test_shipped_catalogue_has_the_issue_permissions():
    cat = catalogue()
    # ports-ledger: the opt-in DynamoDB port ledger (AWS only; tests/unit/test_ports_dynamodb.py).
    assert set(cat["aws"]) - {"ports-ledger"} == set(cat["gcp"]) == {"compute", "network", "storage", "iam-pass-role"}
    aws = {p for c in cat["aws"].values() for p in c.permissions}
    assert {"ec2:RunInstances", "ec2:DescribeInstances", "ec2:CreateSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags", "iam:PassRole"} <= aws
    assert cat["gcp"]["compute"].permissions[0] == "compute.firewalls.create"
    assert {"compute.instances.create", "compute.firewalls.list", "storage.buckets.get",
            "storage.objects.create"} <= {p for c in cat["gcp"].values() for p in c.permissions}


def test_plan_capabilities_and_unknown_names():
    plan = plan_from_dict({"capabilities": ["storage", "compute"]})
    assert list(capabilities_for("gcp", plan)) == ["compute", "storage"]  # catalogue order
    assert len(capabilities_for("aws", None)) == 4
    with pytest.raises(PreflightError, match="'gpu' is not a aws capability"):
        capabilities_for("aws", plan_from_dict({"capabilities": ["gpu"]}))


def test_override_file_replaces_and_adds(tmp_path, monkeypatch):
    f = tmp_path / "perms.yaml"
    f.write_text("aws:\n  storage:\n    permissions: [s3:GetObject]\n"
                 "  gpu:\n    permissions: [ec2:DescribeInstanceTypes]\n")
    monkeypatch.setenv("PREFLIGHT_PERMISSIONS", str(f))
    _load.cache_clear()
    try:
        cat = catalogue(RunSettings.from_env().permissions_file)  # the env is read once, when a run starts
        assert cat["aws"]["storage"].permissions == ("s3:GetObject",)
        assert "gpu" in cat["aws"] and "compute" in cat["aws"]
    finally:
        _load.cache_clear()


@pytest.mark.parametrize("text, fragment", [
    ("aws: [1, 2]", "must be aws or gcp"),
    ("azure: {compute: [x]}", "must be aws or gcp"),
    ("aws: {compute: {permissions: []}}", "non-empty list"),
    ("aws: [unclosed", "not valid YAML"),
])
def test_bad_override_is_one_line(tmp_path, monkeypatch, text, fragment):
    f = tmp_path / "perms.yaml"
    f.write_text(text)
    monkeypatch.setenv("PREFLIGHT_PERMISSIONS", str(f))
    _load.cache_clear()
    try:
        with pytest.raises(PreflightError, match=fragment):
            catalogue(RunSettings.from_env().permissions_file)
    finally:
        _load.cache_clear()


def test_permissions_missing_from_simulated_or_cached_verdicts_are_unknown_not_denied():
    from preflight.inventory.model import Inventory
    from preflight.permissions import UNKNOWN, assess

    arn = "arn:aws:iam::111122223333:user/alice"
    stored = {"ec2:RunInstances": {"decision": "ALLOW", "reason": "allowed (IAM policy simulator)"}}
    for method in ("simulate", "cache"):
        inv = Inventory(cloud="aws", region="eu-south-1", extra={"iam": {
            "principal": arn, "kind": "user", "method": method, "verdicts": stored}})
        a = assess(inv)
        assert a.decision("ec2:RunInstances") == "ALLOW"
        assert a.decision("ec2:CreateTags") == UNKNOWN, method
        assert "catalogue changed" in a.verdicts["ec2:CreateTags"]["reason"]
    # With the policy documents at hand a missing verdict is still evaluated.
    inv = Inventory(cloud="aws", region="eu-south-1", extra={"iam": {
        "principal": arn, "kind": "user", "method": "local", "verdicts": stored, "policies": [
            {"name": "p", "document": {"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}}]}})
    assert assess(inv).decision("ec2:CreateTags") == "ALLOW"
