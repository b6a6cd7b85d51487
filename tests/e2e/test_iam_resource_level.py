"""Resource-level IAM end to end: an IAM user holding SkyPilot's documented minimal AWS policy
(account id filled in), acting with its own access keys against a moto server, checked for a
plain SkyPilot task. Every request RunInstances, CreateTags, PassRole... makes is evaluated with
the ARNs and context the plan implies."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result, run_cli, run_in_process

REGION = "eu-south-1"
ACCOUNT = "123456789012"  # moto's account
TASK = Path(__file__).resolve().parents[2] / "examples" / "skypilot" / "minimal-task.yaml"
SELECT = "IAM001,IAM002,IAM003,IAM004"


def skypilot_minimal_policy(account: str) -> dict:
    """SkyPilot docs, "Minimal cloud permissions -> AWS", user account policy (SkyPilot 0.14.1)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*::image/ami-*"},
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": [
            f"arn:aws:ec2:*:{account}:instance/*", f"arn:aws:ec2:*:{account}:network-interface/*",
            f"arn:aws:ec2:*:{account}:subnet/*", f"arn:aws:ec2:*:{account}:volume/*",
            f"arn:aws:ec2:*:{account}:security-group/*"]},
        {"Effect": "Allow", "Action": ["ec2:TerminateInstances", "ec2:DeleteTags", "ec2:StartInstances",
                                       "ec2:CreateTags", "ec2:StopInstances"],
         "Resource": f"arn:aws:ec2:*:{account}:instance/*"},
        {"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress"],
         "Resource": f"arn:aws:ec2:*:{account}:*"},
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:PassRole"],
         "Resource": [f"arn:aws:iam::{account}:role/skypilot-v1"]},
        {"Effect": "Allow", "Action": ["iam:GetInstanceProfile"],
         "Resource": f"arn:aws:iam::{account}:instance-profile/skypilot-v1"},
    ]}


def user_with(moto_server, name: str, policy: dict) -> dict[str, str]:
    iam = moto_server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="minimal-skypilot-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_SESSION_TOKEN": "", "AWS_SECURITY_TOKEN": ""}


def check(moto_server, env: dict[str, str], tmp_path: Path, plan: Path = TASK,
          run: Callable[..., Result] = run_in_process) -> Result:
    """`preflight check` of `plan` as the user with `env`'s keys: in process, or with `run`."""
    env = {**env, "PREFLIGHT_CACHE_DIR": str(tmp_path / "cache")}
    return run("check", "--plan", str(plan), "--region", REGION, "--endpoint-url", moto_server.url,
               "--select", SELECT, "--format", "json", env=env)


def test_skypilot_documented_minimal_policy_checks_clean(moto_server, tmp_path):
    env = user_with(moto_server, "sky-user", skypilot_minimal_policy(ACCOUNT))
    r = check(moto_server, env, tmp_path)
    assert r.code == 0, r.stdout + r.stderr
    findings = r.json()["findings"]
    assert findings == [], findings  # no FAIL, and no UNKNOWN either
    # near miss: the same policy written for another account grants nothing here
    other = user_with(moto_server, "other-account", skypilot_minimal_policy("999999999999"))
    r = check(moto_server, other, tmp_path)
    assert r.code == 1 and any(f["rule"] == "IAM001" and f["status"] == "FAIL" for f in r.json()["findings"])


def test_without_pass_role_names_the_action_and_the_role(moto_server, tmp_path):
    policy = copy.deepcopy(skypilot_minimal_policy(ACCOUNT))
    policy["Statement"][5]["Action"] = ["iam:GetRole"]
    r = check(moto_server, user_with(moto_server, "no-pass", policy), tmp_path)
    assert r.code == 1, r.stdout + r.stderr
    [f] = [f for f in r.json()["findings"] if f["rule"] == "IAM001"]
    assert f["status"] == "FAIL"
    assert f"iam:PassRole on arn:aws:iam::{ACCOUNT}:role/skypilot-v1" in f["message"]
    assert "lacks 1 permission" in f["message"]  # nothing else is missing
    fix = f["fix"]["commands"][0]
    assert '"iam:PassedToService":"ec2.amazonaws.com"' in fix and "role/skypilot-v1" in fix


def test_instance_type_condition_is_named(moto_server, tmp_path):
    policy = copy.deepcopy(skypilot_minimal_policy(ACCOUNT))
    # AWS's recommended shape: the instance type condition on the instance resource only
    policy["Statement"][1]["Resource"].remove(f"arn:aws:ec2:*:{ACCOUNT}:instance/*")
    policy["Statement"].append({"Effect": "Allow", "Action": "ec2:RunInstances",
                                "Resource": f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
                                "Condition": {"StringLike": {"ec2:InstanceType": "t3.*"}}})
    env = user_with(moto_server, "t3-only", policy)
    small, big = tmp_path / "small.yaml", tmp_path / "big.yaml"
    for path, itype in ((small, "t3.medium"), (big, "g5.xlarge")):
        path.write_text(f"name: train\nresources:\n  infra: aws/{REGION}\n  instance_type: {itype}\nrun: echo hi\n")
    # The installed command in a subprocess (the other tests here run it in process).
    assert check(moto_server, env, tmp_path, small, run=run_cli).code == 0  # t3.medium: allowed
    r = check(moto_server, env, tmp_path, big, run=run_cli)
    assert r.code == 1, r.stdout + r.stderr
    [f] = [f for f in r.json()["findings"] if f["rule"] == "IAM001"]
    assert "ec2:RunInstances on arn:aws:ec2:eu-south-1:123456789012:instance/i-*" in f["message"]
    assert "condition StringLike ec2:InstanceType t3.* does not hold (the request has g5.xlarge)" in f["message"]


def test_iam_policy_for_skypilot_prints_the_plans_policy(tmp_path):
    from preflight.sar import load
    from preflight.semantics.iam import Decision, evaluate_all, parse_policy
    from preflight.semantics.iam_requests import LaunchFacts, build_requests

    r = run_in_process("iam-policy", "--for", "skypilot", "--plan", str(TASK), "--region", REGION,
                       "--account", ACCOUNT)
    assert r.code == 0, r.stderr
    policy = parse_policy(r.stdout, "printed")
    facts = LaunchFacts(region=REGION, account=ACCOUNT, instance_type="t3.medium", role="skypilot-v1",
                        instance_profile="skypilot-v1")
    for action, res in [("ec2:RunInstances", None), ("iam:PassRole", None), ("iam:GetInstanceProfile", None),
                        ("ec2:TerminateInstances", None), ("ec2:DescribeInstances", None)]:
        assert evaluate_all(build_requests(action, facts, load(), res), [policy]).decision is Decision.ALLOW, action
    assert "s3:" not in r.stdout  # the task mounts no bucket
    bad = run_in_process("iam-policy", "--for", "skypilot", "--region", REGION, "--account", ACCOUNT)
    assert bad.code == 2 and bad.stderr.count("\n") == 1 and "--plan" in bad.stderr


def test_skypilots_stale_enabled_clouds_cache_end_to_end(moto_server, tmp_path):
    """Seed incident 002 with SkyPilot's own cache: `sky check` enabled AWS earlier; the identity now
    in use lacks iam:PassRole, so SkyPilot would pick AWS and fail. IAM003 says so, fix `sky check aws`."""
    import sqlite3

    runtime = tmp_path / "sky-runtime"
    (runtime / ".sky").mkdir(parents=True)
    con = sqlite3.connect(runtime / ".sky" / "state.db")  # the two columns SkyPilot's config table has
    con.execute("CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO config VALUES ('enabled_clouds_default_compute', '[\"AWS\"]')")
    con.commit()
    con.close()
    policy = copy.deepcopy(skypilot_minimal_policy(ACCOUNT))
    policy["Statement"][5]["Action"] = ["iam:GetRole"]
    env = {**user_with(moto_server, "switched", policy), "SKY_RUNTIME_DIR": str(runtime)}
    r = check(moto_server, env, tmp_path)
    assert r.code == 1, r.stdout + r.stderr
    [f] = [f for f in r.json()["findings"] if f["rule"] == "IAM003"]
    assert "still lists AWS as enabled for compute" in f["message"] and "iam:PassRole" in f["message"]
    assert f["fix"]["commands"] == ["sky check aws"]
