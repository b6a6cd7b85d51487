"""Run settings travel with the run (issue 13 item 2): two checks with different settings -- IAM
simulation on and off, different permission-cache directories, different endpoints -- run at the
same time in threads of one process, and each gets its own, correct result."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from preflight.settings import CacheSettings, RunSettings
from tests.conftest import MotoServer

REGION = "eu-south-1"
ALL = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
NO_RUN = [{"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateTags", "s3:*", "iam:PassRole"], "Resource": "*"}]


@pytest.fixture(scope="module")
def second_server() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield MotoServer(f"http://127.0.0.1:{server._server.server_port}")
    finally:
        server.stop()


def _user(server: MotoServer, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="launch",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return iam.create_access_key(UserName=name)["AccessKey"]


def _check(url: str, profile: str, settings: RunSettings) -> Any:
    from preflight.runner import Target, open_target, run_check

    target = Target(regions=[REGION], profile=profile, endpoint_url=url, settings=settings)
    with open_target(target) as source:
        return run_check(source, None, ["IAM001", "IAM002", "IAM003", "IAM004"], [])


def test_concurrent_checks_with_different_settings_are_independent(
        moto_server: MotoServer, second_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second_server.reset()
    alice = _user(moto_server, "alice", NO_RUN)  # lacks ec2:RunInstances, on server 1
    bob = _user(second_server, "bob", ALL)  # may do everything, on server 2
    creds = tmp_path / "credentials"
    creds.write_text("".join(f"[{n}]\naws_access_key_id = {k['AccessKeyId']}\naws_secret_access_key = "
                             f"{k['SecretAccessKey']}\n" for n, k in (("alice", alice), ("bob", bob))))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.delenv("PREFLIGHT_CACHE_DIR", raising=False)
    local = RunSettings(cache=CacheSettings(directory=str(tmp_path / "cache-a")))
    runs = {
        # alice, local policy evaluation, cache A: IAM001 FAIL on alice, verdicts cached in A only
        "alice-local": (moto_server.url, "alice", local),
        # bob, --simulate (moto has no SimulatePrincipalPolicy): UNKNOWN, never a local verdict
        "bob-simulate": (second_server.url, "bob",
                         RunSettings(simulate=True, cache=CacheSettings(directory=str(tmp_path / "cache-c")))),
        # bob, local evaluation, cache B: clean, verdicts cached in B only
        "bob-local": (second_server.url, "bob", dataclasses.replace(local, cache=CacheSettings(
            directory=str(tmp_path / "cache-b")))),
    }
    for _round in range(3):  # several rounds, all three runs released at once each time
        barrier = threading.Barrier(len(runs))
        results: dict[str, Any] = {}

        def run(name: str, url: str, profile: str, settings: RunSettings,
                barrier: threading.Barrier = barrier, results: dict[str, Any] = results) -> None:
            barrier.wait()
            try:
                results[name] = _check(url, profile, settings)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                results[name] = exc

        threads = [threading.Thread(target=run, args=(n, *a)) for n, a in runs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not [n for n, r in results.items() if isinstance(r, BaseException)], results

        a = results["alice-local"]
        assert [(f.rule, f.status, f.resource) for f in a.findings if f.rule == "IAM001"] == [
            ("IAM001", "FAIL", "arn:aws:iam::123456789012:user/alice")]
        assert "ec2:RunInstances" in a.findings[0].message
        assert a.inventories[0].extra["iam"]["method"] in ("local", "cache")

        sim = results["bob-simulate"]
        assert {f.status for f in sim.findings} == {"UNKNOWN"}
        assert all("(NotImplemented)" in f.message for f in sim.findings)
        [why] = [u for u in sim.inventories[0].unreadable if u.resource_type == "iam"]
        assert "does not implement SimulatePrincipalPolicy" in why.message and "iam" not in sim.inventories[0].extra

        b = results["bob-local"]
        assert b.findings == [] and b.inventories[0].extra["iam"]["principal"].endswith(":user/bob")

    def cached(directory: str) -> set[str]:
        root = Path(directory) / "permissions"
        if not root.exists():
            return set()
        return {json.loads(p.read_text())["identity"]["principal"].rsplit("/", 1)[1]
                for p in root.glob("*.json") if not p.name.startswith("last-")}

    assert cached(str(tmp_path / "cache-a")) == {"alice"}
    assert cached(str(tmp_path / "cache-b")) == {"bob"}
    assert cached(str(tmp_path / "cache-c")) == set()  # nothing decided, nothing cached


def test_settings_are_frozen_and_read_the_environment_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_PERMISSIONS", "/etc/perms.yaml")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert RunSettings().permissions_file is None and RunSettings().endpoint_url is None
    env = RunSettings.from_env(simulate=True)
    assert (env.simulate, env.permissions_file, env.endpoint_url) == (True, "/etc/perms.yaml", "http://127.0.0.1:1")
    assert RunSettings.from_env(endpoint_url="http://other:2").endpoint_url == "http://other:2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.simulate = False  # type: ignore[misc]
    assert env.without_cache().cache.enabled is False and env.cache.enabled is True


def test_no_module_keeps_run_settings_in_globals() -> None:
    from preflight import permcache, permissions
    from preflight.collect import aws_iam

    assert not hasattr(aws_iam, "OPTIONS") and not hasattr(permcache, "SETTINGS")
    assert not hasattr(permcache, "configure") and not hasattr(permissions, "configure_run")
