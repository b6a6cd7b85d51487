"""AWS permission checks end to end: the installed `preflight` against a loopback moto server,
acting as real IAM users (their own access keys), with the per-identity verdict cache."""

from __future__ import annotations

import json

from tests.conftest import run_cli, run_in_process

REGION = "eu-south-1"
SELECT = "IAM001,IAM002,IAM003,IAM004"  # IAM005's last-accessed API is not in moto (Stubber-tested)


def user(moto_server, name, statements):
    iam = moto_server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="launch",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return iam.create_access_key(UserName=name)["AccessKey"]


def check_as(moto_server, key, tmp_path, *extra):
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
           "AWS_SESSION_TOKEN": "", "AWS_SECURITY_TOKEN": "", "PREFLIGHT_CACHE_DIR": str(tmp_path / "cache")}
    return run_cli("check", "--region", REGION, "--endpoint-url", moto_server.url, "--select", SELECT,
                   "--format", "json", *extra, env=env)


def test_switching_iam_user_rechecks_and_says_what_changed(moto_server, tmp_path):
    alice = user(moto_server, "alice", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    bob = user(moto_server, "bob", [{"Effect": "Allow", "Action": ["ec2:Describe*", "s3:*", "ec2:CreateTags"],
                                     "Resource": "*"}])
    report = tmp_path / "report.json"

    first = check_as(moto_server, alice, tmp_path)
    assert first.code == 0, first.stdout + first.stderr
    assert first.json()["findings"] == []

    second = check_as(moto_server, bob, tmp_path, "--output", str(report))
    assert second.code == 1, second.stderr
    found = {f["rule"]: f for f in json.loads(report.read_text())["findings"]}
    assert set(found) == {"IAM001", "IAM002", "IAM003"}
    assert found["IAM001"]["resource"] == "arn:aws:iam::123456789012:user/bob"
    assert "compute: ec2:RunInstances, ec2:DescribeImages" not in found["IAM001"]["message"]  # Describe* allowed
    assert "compute: ec2:RunInstances, ec2:StartInstances" in found["IAM001"]["message"]
    assert "storage works" in found["IAM002"]["message"]
    stale = found["IAM003"]["message"]
    assert "were made for arn:aws:iam::123456789012:user/alice" in stale
    assert "Granted before, not now: ec2:RunInstances" in stale

    # nothing secret anywhere: stdout, stderr, the report, the cache files
    texts = [first.stdout, first.stderr, second.stdout, second.stderr, report.read_text()]
    texts += [p.read_text() for p in (tmp_path / "cache" / "permissions").iterdir()]
    blob = "\n".join(texts)
    for key in (alice, bob):
        assert key["SecretAccessKey"] not in blob
    assert "arn:aws:iam::123456789012:user/bob" in blob


def test_wrong_profile_is_one_line(tmp_path):
    r = run_in_process("check", "--region", REGION, "--profile", "no-such-profile", "--select", "IAM")
    assert r.code == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "no-such-profile" in r.stderr


def test_sandbox_aws_no_run_instances_table():
    r = run_cli("check", "--sandbox", "aws-no-run-instances", "--select", SELECT)
    assert r.code == 1, r.stderr
    assert "arn:aws:iam::123456789012:user/launcher lacks 1 permission the launch needs — compute: " \
           "ec2:RunInstances" in r.stdout
    assert "network, storage and iam-pass-role work, compute does not: missing ec2:RunInstances" in r.stdout
    assert "aws iam put-user-policy --user-name launcher --policy-name preflight-launch" in r.stdout


def test_simulate_flag_reaches_the_collector():
    # moto has no SimulatePrincipalPolicy (the Stubber test covers the answers): with --simulate the
    # IAM rules must turn UNKNOWN, exit 3, instead of silently evaluating locally.
    r = run_cli("check", "--sandbox", "aws-no-run-instances", "--select", "IAM001,IAM002", "--simulate",
                "--format", "json")
    assert r.code == 3, r.stdout + r.stderr
    found = r.json()["findings"]
    assert {f["rule"] for f in found} == {"IAM001", "IAM002"}
    assert all(f["status"] == "UNKNOWN" and "iam could not be read (NotImplemented)" in f["message"] for f in found)
