"""Local AWS policy evaluation: a table of hand-written cases, and algebraic properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.semantics.iam import (
    ANY_RESOURCE,
    Decision,
    PolicyError,
    Request,
    Tri,
    evaluate,
    parse_policy,
    resource_match,
)


def pol(*statements: dict, name: str = "p", kind: str = "identity"):
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, name, kind)


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


REQ = Request("ec2:RunInstances", region="eu-south-1", account="111122223333")

CASES = [
    # (id, identity statements, boundary statements or None, request, expected decision)
    ("exact allow", [allow("ec2:RunInstances")], None, REQ, Decision.ALLOW),
    ("nothing allows", [allow("s3:GetObject")], None, REQ, Decision.IMPLICIT_DENY),
    ("no policies at all", [], None, REQ, Decision.IMPLICIT_DENY),
    ("service wildcard", [allow("ec2:*")], None, REQ, Decision.ALLOW),
    ("prefix wildcard", [allow("ec2:Run*")], None, REQ, Decision.ALLOW),
    ("question-mark wildcard", [allow("ec2:RunInstance?")], None, REQ, Decision.ALLOW),
    ("action case-insensitive", [allow("EC2:runinstances")], None, REQ, Decision.ALLOW),
    ("wildcard miss", [allow("ec2:Describe*")], None, REQ, Decision.IMPLICIT_DENY),
    ("deny wins over allow", [allow("*"), deny("ec2:RunInstances")], None, REQ, Decision.DENY),
    ("deny wildcard wins", [allow("ec2:RunInstances"), deny("ec2:Run*")], None, REQ, Decision.DENY),
    ("deny other action", [allow("ec2:*"), deny("ec2:TerminateInstances")], None, REQ, Decision.ALLOW),
    ("NotAction allow covers", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], None, REQ,
     Decision.ALLOW),
    ("NotAction allow excludes", [{"Effect": "Allow", "NotAction": "ec2:*", "Resource": "*"}], None, REQ,
     Decision.IMPLICIT_DENY),
    ("NotAction deny", [allow("*"), {"Effect": "Deny", "NotAction": ["s3:*"], "Resource": "*"}], None, REQ,
     Decision.DENY),
    ("NotResource deny of another service", [allow("*"), {"Effect": "Deny", "Action": "*",
                                                          "NotResource": "arn:aws:ec2:*:*:*"}], None, REQ,
     Decision.ALLOW),
    ("resource arn covering all of ec2", [allow("ec2:RunInstances", "arn:aws:ec2:*:*:*")], None, REQ,
     Decision.ALLOW),
    ("resource arn of another account", [allow("ec2:RunInstances", "arn:aws:ec2:*:999999999999:*")], None, REQ,
     Decision.IMPLICIT_DENY),
    ("resource narrower than the launch", [allow("ec2:RunInstances", "arn:aws:ec2:*:*:instance/*")], None, REQ,
     Decision.UNKNOWN),
    ("concrete resource match",
     [allow("ec2:RunInstances", "arn:aws:ec2:*:*:instance/*")], None,
     Request("ec2:RunInstances", "arn:aws:ec2:eu-south-1:111122223333:instance/i-1"), Decision.ALLOW),
    ("boundary allows too", [allow("ec2:*")], [allow("ec2:RunInstances")], REQ, Decision.ALLOW),
    ("boundary intersects", [allow("*")], [allow("s3:*")], REQ, Decision.IMPLICIT_DENY),
    ("boundary alone grants nothing", [], [allow("*")], REQ, Decision.IMPLICIT_DENY),
    ("boundary deny wins", [allow("*")], [allow("*"), deny("ec2:RunInstances")], REQ, Decision.DENY),
    ("unknown condition key -> UNKNOWN",
     [allow("ec2:RunInstances", Condition={"StringEquals": {"ec2:InstanceType": "t3.micro"}})], None, REQ,
     Decision.UNKNOWN),
    ("unsupported operator -> UNKNOWN",
     [allow("ec2:RunInstances", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], None, REQ,
     Decision.UNKNOWN),
    ("condition decided by context",
     [allow("ec2:RunInstances", Condition={"StringEquals": {"aws:RequestedRegion": "eu-south-1"}})], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "eu-south-1"}), Decision.ALLOW),
    ("condition false by context",
     [allow("ec2:RunInstances", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "eu-south-1"}), Decision.IMPLICIT_DENY),
    # RunInstances carries ec2:InstanceType: a g4dn launch would be refused, so not ALLOW.
    ("IfExists on a key the launch may carry -> UNKNOWN",
     [allow("ec2:RunInstances", Condition={"StringLikeIfExists": {"ec2:InstanceType": "t3.*"}})], None, REQ,
     Decision.UNKNOWN),
    ("IfExists decided by a present key",
     [allow("ec2:RunInstances", Condition={"StringEqualsIfExists": {"aws:RequestedRegion": "eu-south-1"}})], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "eu-south-1"}), Decision.ALLOW),
    ("IfExists false by a present key",
     [allow("ec2:RunInstances", Condition={"StringEqualsIfExists": {"aws:RequestedRegion": "us-east-1"}})], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "eu-south-1"}), Decision.IMPLICIT_DENY),
    ("IfExists deny on a key the launch may carry -> UNKNOWN",
     [allow("*"), deny("ec2:RunInstances", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})],
     None, REQ, Decision.UNKNOWN),
    ("undecidable deny makes allow UNKNOWN",
     [allow("*"), deny("ec2:RunInstances", Condition={"StringNotEquals": {"ec2:InstanceType": "t3.micro"}})],
     None, REQ, Decision.UNKNOWN),
    ("undecidable deny on a denied action stays denied",
     [deny("ec2:RunInstances", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})], None, REQ,
     Decision.IMPLICIT_DENY),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_table(case):
    _, identity, boundary, req, expected = case
    boundary_pols = [pol(*boundary, name="boundary", kind="boundary")] if boundary is not None else []
    v = evaluate(req, [pol(*identity, name="launch")] if identity else [], boundary_pols)
    assert v.decision is expected, v.reason


def test_deny_names_the_statement():
    v = evaluate(REQ, [pol(allow("*"), {**deny("ec2:*"), "Sid": "NoEc2"}, name="guardrail")])
    assert v.decision is Decision.DENY
    assert [(r.policy, r.sid) for r in v.denied_by] == [("guardrail", "NoEc2")]
    assert "guardrail statement NoEc2" in v.reason


def test_unknown_says_which_condition():
    v = evaluate(REQ, [pol(allow("ec2:RunInstances", Condition={"StringEquals": {"ec2:InstanceType": "t3.micro"}}))])
    assert v.decision is Decision.UNKNOWN
    assert "ec2:InstanceType" in v.reason


def test_scp_levels_each_must_allow():
    identity = [pol(allow("*"))]
    root = [pol(allow("*"), name="FullAWSAccess", kind="scp")]
    ou = [pol(allow("s3:*"), name="OnlyS3", kind="scp")]
    assert evaluate(REQ, identity, scps=[root]).decision is Decision.ALLOW
    assert evaluate(REQ, identity, scps=[root, ou]).decision is Decision.IMPLICIT_DENY
    scp_deny = [pol(allow("*"), {**deny("ec2:RunInstances"), "Sid": "NoLaunch"}, name="Guard", kind="scp")]
    v = evaluate(REQ, identity, scps=[scp_deny])
    assert v.decision is Decision.DENY and v.denied_by[0].kind == "scp"


@pytest.mark.parametrize("doc, fragment", [
    ("{not json", "not valid JSON"),
    ([], "expected a JSON object"),
    ({"Version": "2012-10-17"}, "no Statement"),
    ({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}, "Effect must be Allow or Deny"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "exactly one of Action or NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "exactly one of Resource or NotResource"),
    ({"Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]}, "Action"),
    ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": []}]}, "Condition"),
])
def test_malformed_policy_is_one_line_error(doc, fragment):
    with pytest.raises(PolicyError) as exc:
        parse_policy(doc, "broken")
    assert fragment in str(exc.value) and "broken" in str(exc.value) and "\n" not in str(exc.value)


def test_resource_match_any_resource():
    assert resource_match("*", ANY_RESOURCE, "ec2") is Tri.YES
    assert resource_match("arn:aws:s3:::bucket", ANY_RESOURCE, "ec2") is Tri.NO
    assert resource_match("arn:aws:ec2:eu-south-1:1:instance/*", ANY_RESOURCE, "ec2", "eu-south-1", "1") is Tri.MAYBE
    assert resource_match("arn:aws:ec2:us-east-1:*:*", ANY_RESOURCE, "ec2", "eu-south-1") is Tri.NO


# --- properties -------------------------------------------------------------------------------

ACTIONS = ["ec2:RunInstances", "ec2:DescribeInstances", "ec2:CreateTags", "s3:GetObject", "iam:PassRole"]
PATTERNS = ACTIONS + ["*", "ec2:*", "ec2:Run*", "ec2:Describe*", "s3:*", "iam:Pass?ole"]
RESOURCES = ["*", "arn:aws:ec2:*:*:*", "arn:aws:ec2:*:*:instance/*", "arn:aws:s3:::b"]
CONDITIONS = [None, {"StringEquals": {"ec2:InstanceType": "t3.micro"}},
              {"StringEquals": {"aws:RequestedRegion": "eu-south-1"}},
              {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}]


@st.composite
def statements(draw, effect=None):
    s = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    key = draw(st.sampled_from(["Action", "NotAction"]))
    s[key] = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
    rkey = draw(st.sampled_from(["Resource", "Resource", "NotResource"]))
    s[rkey] = draw(st.sampled_from(RESOURCES))
    cond = draw(st.sampled_from(CONDITIONS))
    if cond:
        s["Condition"] = cond
    return s


def _decide(stmts, action, boundary=None):
    req = Request(action, region="eu-south-1", account="1", context={"aws:RequestedRegion": "eu-south-1"})
    b = [pol(*boundary, name="b", kind="boundary")] if boundary else []
    return evaluate(req, [pol(*stmts)] if stmts else [], b).decision


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), max_size=6), statements(effect="Deny"), st.sampled_from(ACTIONS))
def test_adding_a_deny_never_allows_more(stmts, extra_deny, action):
    before = _decide(stmts, action)
    after = _decide([*stmts, extra_deny], action)
    if before.denied:
        assert after.denied
    if before is not Decision.ALLOW:
        assert after is not Decision.ALLOW


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), max_size=6), statements(effect="Allow"), st.sampled_from(ACTIONS))
def test_adding_an_allow_never_denies_more(stmts, extra_allow, action):
    before = _decide(stmts, action)
    after = _decide([*stmts, extra_allow], action)
    if before is Decision.ALLOW:
        assert after is Decision.ALLOW
    if before is Decision.DENY:
        assert after is Decision.DENY


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), max_size=6), st.sampled_from(ACTIONS), st.randoms())
def test_statement_order_is_irrelevant(stmts, action, rnd: random.Random):
    shuffled = list(stmts)
    rnd.shuffle(shuffled)
    assert _decide(stmts, action) is _decide(shuffled, action)


@settings(max_examples=100, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=5), st.lists(statements(), min_size=1, max_size=3),
       st.sampled_from(ACTIONS))
def test_boundary_only_limits(stmts, boundary, action):
    with_boundary = _decide(stmts, action, boundary)
    if with_boundary is Decision.ALLOW:
        assert _decide(stmts, action) is Decision.ALLOW
    if _decide(stmts, action).denied:
        assert with_boundary.denied
