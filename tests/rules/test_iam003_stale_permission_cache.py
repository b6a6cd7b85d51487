"""IAM003 stale-permission-cache and the cache itself: a verdict is never reused for another identity."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from preflight import permcache
from preflight.collect import aws_iam
from preflight.collect.aws import AwsSession
from preflight.settings import CacheSettings, RunSettings
from tests.rules.iam_support import (  # noqa: F401  (_fresh_settings is an autouse fixture)
    EMAIL,
    _fresh_settings,
    allow,
    check,
    doc,
    everything_but,
    gcp_inventory,
    only,
    perms,
)

REGION = "eu-south-1"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(tmp_path))
    return tmp_path / "permissions"


ALICE = {"cloud": "aws", "account": "111122223333", "principal": "arn:aws:iam::111122223333:user/alice"}
BOB = {"cloud": "aws", "account": "444455556666", "principal": "arn:aws:iam::444455556666:user/bob"}


def test_cache_states(cache_dir):
    assert permcache.lookup(ALICE)["state"] == "new"
    permcache.store(ALICE, {"ec2:RunInstances": {"decision": "ALLOW", "reason": "ok"}}, scope=REGION)
    fresh = permcache.lookup(ALICE)
    assert fresh["state"] == "fresh" and fresh["verdicts"][REGION]["ec2:RunInstances"]["decision"] == "ALLOW"
    changed = permcache.lookup(BOB)
    assert changed["state"] == "identity-changed" and "verdicts" not in changed
    assert changed["changes"] == ["account 111122223333 → 444455556666",
                                  "principal arn:aws:iam::111122223333:user/alice → arn:aws:iam::444455556666:user/bob"]
    assert changed["previous_verdicts"] == {REGION: {"ec2:RunInstances": "ALLOW"}}
    assert permcache.lookup(ALICE, settings=CacheSettings(refresh=True))["state"] == "refreshed"
    assert permcache.lookup(ALICE, settings=CacheSettings(ttl=-1))["state"] == "expired"
    assert permcache.lookup(ALICE, settings=CacheSettings(enabled=False))["state"] == "disabled"
    assert permcache.lookup(ALICE)["state"] == "fresh"  # nothing above changed the next run's settings


def test_one_file_per_identity_and_no_secrets(cache_dir):
    permcache.store(ALICE, {"p": {"decision": "ALLOW", "token": "SECRET-SHOULD-NOT-BE-KEPT"}})
    permcache.store(BOB, {"p": {"decision": "IMPLICIT_DENY"}})
    files = sorted(p.name for p in cache_dir.iterdir())
    assert files == sorted([f"{permcache.fingerprint(ALICE)}.json", f"{permcache.fingerprint(BOB)}.json",
                            "last-aws.json"])
    text = "".join(p.read_text() for p in cache_dir.iterdir())
    assert "SECRET-SHOULD-NOT-BE-KEPT" not in text
    assert json.loads((cache_dir / "last-aws.json").read_text())["identity"] == BOB


def test_fingerprint_covers_gcp_credentials_file_and_project():
    a = {"cloud": "gcp", "account": EMAIL, "project": "p1", "credentials_sha256": "aa"}
    assert permcache.fingerprint(a) != permcache.fingerprint({**a, "project": "p2"})
    assert permcache.fingerprint(a) != permcache.fingerprint({**a, "credentials_sha256": "bb"})
    assert permcache.fingerprint(a) == permcache.fingerprint({**a, "token": "ignored"})


def _changed_cache(previous_verdicts):
    return {"state": "identity-changed", "previous": {"identity": {"cloud": "gcp", "account": "old@x.com",
                                                                   "principal": "old@x.com", "project": "proj-0"},
                                                      "created_at": "2026-01-01T00:00:00+00:00"},
            "changes": ["account old@x.com → " + EMAIL, "project proj-0 → proj-1"],
            "previous_verdicts": {"global": previous_verdicts}}


def test_rule_says_what_changed_on_identity_switch():
    granted = perms("gcp", "storage")
    before = {p: "ALLOW" for p in everything_but("gcp")}
    f = only(check(gcp_inventory(granted, cache=_changed_cache(before)), "IAM003"), "IAM003")
    assert f.status == "FAIL" and f.severity == "medium" and f.resource == EMAIL
    assert "were made for old@x.com, project proj-0, not for " + EMAIL in f.message
    assert "account old@x.com → " + EMAIL in f.message and "project proj-0 → proj-1" in f.message
    assert "Granted before, not now: compute.firewalls.create" in f.message


def test_rule_near_miss_fresh_or_expired_without_change():
    granted = everything_but("gcp")
    assert check(gcp_inventory(granted, cache={"state": "fresh"}), "IAM003") == []
    same = {"state": "expired", "previous_verdicts": {"global": {p: "ALLOW" for p in granted}}}
    assert check(gcp_inventory(granted, cache=same), "IAM003") == []
    lost = {"state": "expired", "ttl": 3600,
            "previous_verdicts": {"global": {p: "ALLOW" for p in granted}}}
    f = only(check(gcp_inventory(perms("gcp", "storage"), cache=lost), "IAM003"), "IAM003")
    assert "older than the 60 min TTL" in f.message and "compute.instances.create" in f.message


def _user(iam, name, policy):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName=name)["AccessKey"]


def _session_for(key, settings=None):
    s = AwsSession(region=REGION, settings=settings)
    s.session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                              region_name=REGION)
    return s


def iam_inventory(session):
    """Only the `iam` extra collector (the full collector is exercised in test_iam_collect.py)."""
    from preflight.inventory.model import Inventory

    return Inventory(account="123456789012", region=REGION, extra={"iam": aws_iam.collect_iam(session, REGION, None)})


def test_switching_moto_users_never_reuses_the_old_verdict(cache_dir):
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        alice = _user(iam, "alice", doc(allow("*")))
        bob = _user(iam, "bob", doc(allow(["ec2:Describe*", "s3:*"])))

        inv_a = iam_inventory(_session_for(alice))
        assert inv_a.extra["iam"]["method"] == "local" and inv_a.extra["iam"]["cache"]["state"] == "new"
        assert check(inv_a) == []

        inv_b = iam_inventory(_session_for(bob))
        assert inv_b.extra["iam"]["method"] == "local"  # re-read, not alice's cached ALLOW
        found = check(inv_b)
        assert only(found, "IAM001").resource.endswith(":user/bob")
        stale = only(found, "IAM003")
        assert "were made for arn:aws:iam::123456789012:user/alice" in stale.message
        assert "principal arn:aws:iam::123456789012:user/alice → arn:aws:iam::123456789012:user/bob" in stale.message
        assert "Granted before, not now: ec2:RunInstances" in stale.message

        again = iam_inventory(_session_for(bob))
        assert again.extra["iam"]["method"] == "cache"  # same identity, within the TTL
        assert {f.rule for f in check(again)} >= {"IAM001"} and "IAM003" not in {f.rule for f in check(again)}

        refreshed = iam_inventory(_session_for(bob, RunSettings(cache=CacheSettings(refresh=True))))
        assert refreshed.extra["iam"]["method"] == "local"
    text = "".join(p.read_text() for p in cache_dir.iterdir())
    for secret in (alice["SecretAccessKey"], bob["SecretAccessKey"]):
        assert secret not in text


def test_two_profiles_in_one_run_are_not_a_switch(cache_dir):
    permcache.store(ALICE, {"p": {"decision": "ALLOW"}}, slot="prod")
    permcache.store(BOB, {"p": {"decision": "ALLOW"}}, slot="staging")
    assert permcache.lookup(ALICE, slot="prod")["state"] == "fresh"
    assert permcache.lookup(BOB, slot="staging")["state"] == "fresh"
    assert permcache.lookup(BOB, slot="prod")["state"] == "identity-changed"  # the creds behind prod changed
    assert (cache_dir / "last-aws-prod.json").exists() and (cache_dir / "last-aws-staging.json").exists()


def test_a_cache_without_a_permission_the_catalogue_now_lists_is_read_afresh(cache_dir):
    from preflight.permissions import all_permissions

    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        carol = _user(iam, "carol", doc(allow("*")))
        first = iam_inventory(_session_for(carol))
        assert first.extra["iam"]["method"] == "local" and check(first) == []
        # The cached verdicts lack one permission (a catalogue override added it since).
        ident = {"cloud": "aws", "account": "123456789012", "principal": first.extra["iam"]["principal"]}
        verdicts = {p: v for p, v in first.extra["iam"]["verdicts"].items() if p != all_permissions("aws")[-1]}
        permcache.store(ident, verdicts, scope=REGION)
        again = iam_inventory(_session_for(carol))
        assert again.extra["iam"]["method"] == "local"  # not the incomplete cache
        assert check(again) == []  # nothing carol holds is reported missing
