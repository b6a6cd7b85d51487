"""GCP permission checks end to end: the installed `preflight`, the real Google client (REST),
a loopback fake GCP server, service-account key files signed with real (throwaway) RSA keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.permissions import catalogue
from tests.conftest import Result, run_cli, run_in_process
from tests.fakes.gcp_server import FakeGcp, write_key

PROJECT = "proj-1"
STORAGE_ONLY = "storage-only@proj-1.iam.gserviceaccount.com"
FULL = "full@proj-1.iam.gserviceaccount.com"


def gcp_perms(*caps: str) -> list[str]:
    cat = catalogue()["gcp"]
    return [p for c in (caps or tuple(cat)) for p in cat[c].permissions]


@pytest.fixture
def fake():
    with FakeGcp() as f:
        f.add_project(PROJECT)
        f.add_project("proj-2")
        f.grant(PROJECT, STORAGE_ONLY, gcp_perms("storage"))
        f.grant(PROJECT, FULL, gcp_perms())
        f.grant("proj-2", FULL, gcp_perms("storage"))
        yield f


@pytest.fixture
def env(tmp_path):
    return {"PREFLIGHT_CACHE_DIR": str(tmp_path / "cache"), "NO_GCE_CHECK": "True",
            "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "GOOGLE_APPLICATION_CREDENTIALS": ""}


@pytest.fixture
def keys(fake, tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    return {a: write_key(fake, d, a, PROJECT) for a in (STORAGE_ONLY, FULL)}


def gcp_check(fake, env, key: Path | None, *extra: str, project: str = PROJECT,
              run: Callable[..., Result] = run_cli) -> Result:
    """`preflight check --cloud gcp` against the fake: the installed command, or `run`."""
    args = ["check", "--cloud", "gcp", "--gcp-endpoint", fake.url, "--format", "json"]
    if project:
        args += ["--project", project]
    if key is not None:
        args += ["--gcp-credentials", str(key)]
    return run(*args, *extra, env=env)


def by_rule(result):
    return {f["rule"]: f for f in result.json()["findings"]}


def test_incident_storage_works_compute_does_not(fake, env, keys, tmp_path):
    plan = tmp_path / "launch.yaml"
    plan.write_text(f"cloud: gcp\nproject: {PROJECT}\ncapabilities: [storage, compute]\n")
    # cloud and project come from the plan: no --cloud, no --project
    r = run_cli("check", "--plan", str(plan), "--gcp-endpoint", fake.url, "--gcp-credentials",
                str(keys[STORAGE_ONLY]), "--format", "json", env=env)
    assert r.code == 1, r.stderr
    found = by_rule(r)
    assert set(found) == {"IAM001", "IAM002"}
    iam002 = found["IAM002"]
    assert iam002["resource"] == STORAGE_ONLY and iam002["region"] == "global"
    assert iam002["message"].startswith("storage works, compute does not: missing compute.firewalls.create, ")
    assert "compute.instances.create" in iam002["details"]["missing"]["compute"]
    assert found["IAM001"]["fix"]["commands"][1].endswith(f"--role=projects/{PROJECT}/roles/preflightLaunch")
    # the real client made the real call, authenticated as the key's account
    assert fake.requests[-1]["path"] == f"/v3/projects/{PROJECT}:testIamPermissions"
    assert fake.requests[-1]["account"] == STORAGE_ONLY


def test_full_access_is_clean(fake, env, keys):
    r = gcp_check(fake, env, keys[FULL], run=run_in_process)
    assert r.code == 0, r.stdout + r.stderr
    assert r.json()["findings"] == [] and r.json()["summary"]["rules_run"] == 3  # only GCP-capable rules


def test_switching_account_never_reuses_the_old_verdict(fake, env, keys, tmp_path):
    assert gcp_check(fake, env, keys[FULL]).code == 0
    calls = len(fake.requests)

    switched = gcp_check(fake, env, keys[STORAGE_ONLY])
    assert len(fake.requests) == calls + 1  # asked again: the cached "all granted" was not reused
    assert switched.code == 1
    found = by_rule(switched)
    assert {"IAM001", "IAM002", "IAM003"} <= set(found)
    stale = found["IAM003"]["message"]
    assert f"were made for {FULL}, project {PROJECT}, not for {STORAGE_ONLY} on project {PROJECT}" in stale
    assert f"account {FULL} → {STORAGE_ONLY}" in stale and "credentials file changed" in stale
    assert "Granted before, not now: compute.firewalls.create" in stale

    again = gcp_check(fake, env, keys[STORAGE_ONLY])  # same identity within the TTL: cached verdicts
    assert len(fake.requests) == calls + 1
    assert set(by_rule(again)) == {"IAM001", "IAM002"}

    refreshed = gcp_check(fake, env, keys[STORAGE_ONLY], "--refresh")
    assert len(fake.requests) == calls + 2 and set(by_rule(refreshed)) == {"IAM001", "IAM002"}

    cache_files = sorted(p.name for p in (tmp_path / "cache" / "permissions").iterdir())
    assert len(cache_files) == 3 and "last-gcp.json" in cache_files  # one file per identity + pointer


def test_switching_project_is_an_identity_change(fake, env, keys):
    assert gcp_check(fake, env, keys[FULL], run=run_in_process).code == 0
    r = gcp_check(fake, env, keys[FULL], project="proj-2", run=run_in_process)
    stale = by_rule(r)["IAM003"]["message"]
    assert f"project {PROJECT} → proj-2" in stale and "account" not in stale.split("(")[1].split(")")[0]


def test_no_secret_is_printed_or_stored(fake, env, keys, tmp_path):
    report = tmp_path / "report.json"
    outputs = [gcp_check(fake, env, keys[FULL]),  # json on stdout
               run_cli("check", "--cloud", "gcp", "--gcp-endpoint", fake.url, "--project", PROJECT,  # table
                       "--gcp-credentials", str(keys[STORAGE_ONLY]), "--output", str(report), "--format", "json",
                       env=env)]
    texts = [o.stdout + o.stderr for o in outputs] + [report.read_text()]
    texts += [p.read_text() for p in (tmp_path / "cache" / "permissions").iterdir()]
    blob = "\n".join(texts)
    secrets = set(fake.bearer_tokens)
    assert secrets, "the fake saw no bearer token: the test would prove nothing"
    for key in keys.values():
        info = json.loads(key.read_text())
        secrets.add(info["private_key_id"])
        secrets.update(line for line in info["private_key"].splitlines() if len(line) > 20)
    leaked = [s[:12] for s in secrets if s in blob]
    assert leaked == []
    assert STORAGE_ONLY in blob  # the identity itself is named (it is not a secret)


def test_sandbox_gcp_storage_only(main_in_process):
    r = run_in_process("check", "--sandbox", "gcp-storage-only", "--cloud", "gcp", "--format", "json")
    assert r.code == 1, r.stderr
    found = by_rule(r)
    assert set(found) == {"IAM001", "IAM002"}
    assert found["IAM002"]["message"].startswith("storage works, compute does not: missing compute.firewalls.create")
    assert found["IAM002"]["resource"] == "storage-only@demo-project.iam.gserviceaccount.com"
    table = main_in_process("check", "--sandbox", "gcp-storage-only")  # the scenario's cloud is enough
    assert table.code == 1 and "storage works, compute does not: missing compute.firewalls.create" in table.stdout


@pytest.fixture
def main_in_process(monkeypatch, capsys, env):
    """Run `preflight ...` in this process (same code path as the console script, minus the
    interpreter start): bad-input cases are many and each would cost a second as a subprocess."""
    from preflight.cli import main

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PREFLIGHT_GCP_ENDPOINT", raising=False)

    def run(*args: str):
        from tests.conftest import Result

        with pytest.raises(SystemExit) as exc:
            main(list(args))
        out = capsys.readouterr()
        return Result(int(exc.value.code or 0), out.out, out.err)

    yield run


def one_line_error(r, fragment: str, code: int = 2):
    assert r.code == code, (r.code, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert fragment in r.stderr, r.stderr


def test_bad_inputs_are_one_line_errors(fake, keys, tmp_path, main_in_process):
    run = main_in_process

    def check(key, project=PROJECT, endpoint=fake.url):
        args = ["check", "--cloud", "gcp", "--gcp-endpoint", endpoint, "--format", "json"]
        args += ["--project", project] if project else []
        return run(*args, *(["--gcp-credentials", str(key)] if key else []))

    # no credentials at all (no file, no ADC, no endpoint)
    one_line_error(run("check", "--cloud", "gcp", "--project", PROJECT), "no GCP credentials found")
    # unknown project: GCP answers 403
    one_line_error(check(keys[FULL], project="nope-404"),
                   "GCP project 'nope-404' does not exist or " + FULL + " has no access to it")
    # no project anywhere (an anonymous endpoint call names none)
    one_line_error(check(None, project=""), "no GCP project")
    # malformed credentials files
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    one_line_error(check(bad), "is not a JSON credentials file")
    bad.write_text(json.dumps({"type": "service_account", "client_email": "x@y", "private_key": "garbage",
                               "token_uri": fake.token_uri}))
    one_line_error(check(bad), "is not a usable service_account credentials file")
    one_line_error(check(tmp_path / "missing.json"), "file not found")
    # nothing listening at the endpoint
    one_line_error(check(keys[FULL], endpoint="http://127.0.0.1:9"), "cannot reach")
    # wrong cloud names and mismatched sandbox
    one_line_error(run("check", "--cloud", "azure"), "--cloud: 'azure' is not supported")
    one_line_error(run("check", "--sandbox", "healthy", "--cloud", "gcp"), "is a aws scenario")
    # an unknown capability in the plan
    plan = tmp_path / "p.yaml"
    plan.write_text("cloud: gcp\ncapabilities: [compute, teleport]\n")
    one_line_error(run("check", "--plan", str(plan), "--gcp-endpoint", fake.url, "--project", PROJECT,
                       "--gcp-credentials", str(keys[FULL])), "'teleport' is not a gcp capability")


def test_unknown_project_404(keys, tmp_path, main_in_process):
    with FakeGcp(missing_project_status=404) as f:
        key = write_key(f, tmp_path, FULL, PROJECT)
        one_line_error(main_in_process("check", "--cloud", "gcp", "--gcp-endpoint", f.url, "--project", "ghost",
                                       "--gcp-credentials", str(key)), "GCP project 'ghost' not found")


def test_anonymous_endpoint_without_grants_reports_everything_missing(fake, main_in_process):
    fake.default_account = "anonymous"
    r = main_in_process("check", "--cloud", "gcp", "--gcp-endpoint", fake.url, "--project", PROJECT,
                        "--format", "json")
    assert r.code == 1
    assert by_rule(r)["IAM001"]["resource"] == "anonymous" and "IAM002" not in by_rule(r)
