"""Local evaluation of AWS IAM policies: would this identity be allowed to call this action?

Pure and offline. It follows AWS's documented order for one account:

1. an explicit `Deny` in any policy that applies (identity, permission boundary, SCP) wins;
2. otherwise every *gate* must allow: the identity's own policies (any one Allow), the
   permission boundary if one is set (it intersects: it only limits), and each SCP level when
   SCPs are supplied;
3. otherwise the request is implicitly denied.

It is deliberately three-valued. A statement whose `Condition` this evaluator cannot decide (a
key not in the request context, an operator it does not implement), or whose `Resource` is
narrower than "any resource" while the launch's exact resource ARNs are not known yet, makes the
verdict `UNKNOWN`, never `ALLOW`. Only identity-based policies, boundaries and SCPs are modelled:
resource-based policies (bucket policies, role trust policies), session policies and KMS grants
are out of scope and said so in the README.

Wildcards: `*` and `?` in `Action`/`NotAction` (case-insensitive) and in `Resource`/`NotResource`
(case-sensitive), as AWS matches them.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from preflight.errors import PreflightError

ANY_RESOURCE = "*"  # "whatever resource the launch will touch": its ARN is not known yet


class PolicyError(PreflightError):
    """A policy document that is not a valid IAM policy; the message names policy and statement."""


class Decision(str, enum.Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"  # explicit deny
    IMPLICIT_DENY = "IMPLICIT_DENY"  # nothing allows it
    UNKNOWN = "UNKNOWN"  # depends on something this evaluator cannot decide

    @property
    def denied(self) -> bool:
        return self in (Decision.DENY, Decision.IMPLICIT_DENY)


class Tri(enum.IntEnum):
    """Three-valued match: NO < MAYBE < YES."""

    NO = 0
    MAYBE = 1
    YES = 2


def tri_and(*values: Tri) -> Tri:
    return min(values, default=Tri.YES)


def tri_or(values: Iterable[Tri]) -> Tri:
    return max(values, default=Tri.NO)


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)
    sid: str = ""
    index: int = 0

    def label(self, policy: str) -> str:
        return f"{policy} statement {self.sid or f'#{self.index + 1}'}"


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]
    kind: str = "identity"  # identity | boundary | scp


@dataclass(frozen=True)
class StatementRef:
    policy: str
    kind: str
    sid: str
    effect: str
    reason: str = ""

    def label(self) -> str:
        return f"{self.policy} ({self.kind}) statement {self.sid}".replace(" (identity)", "")

    def to_dict(self) -> dict[str, str]:
        return {"policy": self.policy, "kind": self.kind, "sid": self.sid, "effect": self.effect,
                "reason": self.reason}


@dataclass(frozen=True)
class Verdict:
    action: str
    resource: str
    decision: Decision
    allowed_by: tuple[StatementRef, ...] = ()
    denied_by: tuple[StatementRef, ...] = ()
    undecided: tuple[StatementRef, ...] = ()  # statements whose match could not be decided
    reason: str = ""
    near_misses: tuple[StatementRef, ...] = ()  # Allows for the action whose resource/condition missed

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "decision": self.decision.value, "reason": self.reason,
                "allowed_by": [r.to_dict() for r in self.allowed_by],
                "denied_by": [r.to_dict() for r in self.denied_by],
                "undecided": [r.to_dict() for r in self.undecided],
                **({"resource": self.resource} if self.resource != ANY_RESOURCE else {}),
                **({"near_misses": [r.to_dict() for r in self.near_misses]} if self.near_misses else {})}


# --- parsing ----------------------------------------------------------------------------------

def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where}: expected a string or a non-empty list of strings, got {value!r:.60}")


def _condition_values(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, (str, int, float)):
            out.append(str(v))
        else:
            raise PolicyError(f"{where}: condition values must be strings, numbers or booleans")
    return tuple(out)


def parse_policy(document: Any, name: str, kind: str = "identity") -> Policy:
    """Validate and parse one policy document (a dict, or its JSON text)."""
    import json

    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise PolicyError(f"policy {name}: not valid JSON") from None
    if not isinstance(document, dict):
        raise PolicyError(f"policy {name}: expected a JSON object")
    raw = document.get("Statement")
    if raw is None:
        raise PolicyError(f"policy {name}: no Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise PolicyError(f"policy {name}: Statement must be an object or a list")
    statements = []
    for i, st in enumerate(items):
        where = f"policy {name} statement #{i + 1}"
        if not isinstance(st, dict):
            raise PolicyError(f"{where}: expected an object")
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny, got {effect!r:.30}")
        if ("Action" in st) == ("NotAction" in st):
            raise PolicyError(f"{where}: needs exactly one of Action or NotAction")
        if kind != "scp" and ("Resource" in st) == ("NotResource" in st):
            raise PolicyError(f"{where}: needs exactly one of Resource or NotResource")
        conditions: list[tuple[str, str, tuple[str, ...]]] = []
        cond = st.get("Condition", {})
        if not isinstance(cond, dict):
            raise PolicyError(f"{where}: Condition must be an object")
        for op, block in cond.items():
            if not isinstance(block, dict):
                raise PolicyError(f"{where}: Condition {op} must map keys to values")
            for key, values in block.items():
                conditions.append((str(op), str(key), _condition_values(values, where)))
        sid = st.get("Sid", "")
        statements.append(Statement(
            effect=effect,
            actions=_strings(st["Action"], f"{where} Action") if "Action" in st else (),
            not_actions=_strings(st["NotAction"], f"{where} NotAction") if "NotAction" in st else (),
            resources=_strings(st.get("Resource", "*"), f"{where} Resource") if "NotResource" not in st else (),
            not_resources=_strings(st["NotResource"], f"{where} NotResource") if "NotResource" in st else (),
            conditions=tuple(conditions),
            sid=sid if isinstance(sid, str) else str(sid),
            index=i,
        ))
    return Policy(name=name, statements=tuple(statements), kind=kind)


# --- matching ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # AWS wildcards are only * and ?; fnmatch would also treat [] as classes, so escape first.
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rx, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)


def _arn_parts(text: str) -> list[str] | None:
    parts = text.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


@functools.lru_cache(maxsize=8192)
def glob_covers(pattern: str, target: str) -> bool:
    """Does the AWS wildcard `pattern` match every string the glob `target` stands for? (`*` in the
    target is an unknown part, e.g. the id of an instance not launched yet.) Sound: a YES is
    always true; a pattern `*` covers everything, `?` covers one known character only."""
    p, t = pattern, target
    # dp[i][j]: pattern[:i] covers target[:j]
    dp = [[False] * (len(t) + 1) for _ in range(len(p) + 1)]
    dp[0][0] = True
    for i in range(1, len(p) + 1):
        dp[i][0] = dp[i - 1][0] and p[i - 1] == "*"
        for j in range(1, len(t) + 1):
            pc, tc = p[i - 1], t[j - 1]
            if pc == "*":
                dp[i][j] = dp[i - 1][j] or dp[i][j - 1]
            elif pc == "?":
                dp[i][j] = dp[i - 1][j - 1] and tc != "*"
            else:
                dp[i][j] = dp[i - 1][j - 1] and tc == pc
    return dp[len(p)][len(t)]


@functools.lru_cache(maxsize=8192)
def glob_overlaps(pattern: str, target: str) -> bool:
    """Is there a string that both the pattern and the glob `target` match? A `*` in the target
    stands for an id: it never spans `:` or `/`."""
    p, t = pattern, target

    @functools.lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(p) and j == len(t):
            return True
        if i < len(p) and p[i] == "*" and go(i + 1, j):
            return True
        if j < len(t) and t[j] == "*" and go(i, j + 1):
            return True
        if i == len(p) or j == len(t):
            return False
        pc, tc = p[i], t[j]
        if pc == "*":
            return go(i, j + 1) or (tc == "*" and go(i + 1, j))
        if tc == "*":  # an unknown id absorbs id characters only, never an ARN separator
            return pc not in ":/" and go(i + 1, j)
        if pc == "?" or pc == tc:
            return go(i + 1, j + 1)
        return False

    return go(0, 0)


def resource_match(pattern: str, resource: str, service: str = "", region: str = "", account: str = "",
                   glob: bool = False) -> Tri:
    """Does `pattern` cover `resource`? With `glob`, `*` in the resource is a part not known before
    launch (`arn:aws:ec2:eu-south-1:123:instance/i-*`): YES when the pattern covers every such
    ARN, MAYBE when it covers some, NO when none. For ANY_RESOURCE (legacy: nothing known) the
    answer is YES only when the pattern covers every resource of the service here."""
    if glob:
        if glob_covers(pattern, resource):
            return Tri.YES
        return Tri.MAYBE if glob_overlaps(pattern, resource) else Tri.NO
    if resource != ANY_RESOURCE:
        return Tri.YES if wildcard_match(pattern, resource) else Tri.NO
    if pattern == "*":
        return Tri.YES
    parts = _arn_parts(pattern)
    if parts is None:
        return Tri.MAYBE
    _, _, svc, reg, acct, rest = parts
    if service and not wildcard_match(svc, service, ignore_case=True):
        return Tri.NO
    if account and acct and not wildcard_match(acct, account):
        return Tri.NO
    if region and reg and not wildcard_match(reg, region):
        return Tri.NO
    covers_all = (rest == "*" and svc in ("*", service) and reg in ("*", "", region)
                  and acct in ("*", "", account))
    return Tri.YES if covers_all and service else Tri.MAYBE

# Condition operators decided here: the String, Arn, Bool and Numeric families with their Not,
# IfExists and ForAnyValue/ForAllValues forms, and Null. Date and IpAddress keys are never in a
# pre-launch context, so they stay MAYBE: better an honest "cannot tell" than a wrong PASS.
_STRING_OPS = {
    # op: (negated, like, ignore_case)
    "StringEquals": (False, False, False), "StringNotEquals": (True, False, False),
    "StringEqualsIgnoreCase": (False, False, True), "StringNotEqualsIgnoreCase": (True, False, True),
    "StringLike": (False, True, False), "StringNotLike": (True, True, False),
    "ArnEquals": (False, True, False), "ArnNotEquals": (True, True, False),
    "ArnLike": (False, True, False), "ArnNotLike": (True, True, False),
    "Bool": (False, False, True),
}
_NUMERIC_OPS = {"NumericEquals": (False, "=="), "NumericNotEquals": (True, "=="), "NumericLessThan": (False, "<"),
                "NumericLessThanEquals": (False, "<="), "NumericGreaterThan": (False, ">"),
                "NumericGreaterThanEquals": (False, ">=")}


def _string_op(op: str) -> tuple[bool, bool, bool] | None:
    """-> (negated, like, ignore_case) for the string/ARN family, or None."""
    return _STRING_OPS.get(op)


def _negated(base: str) -> bool:
    if base in _STRING_OPS:
        return _STRING_OPS[base][0]
    if base in _NUMERIC_OPS:
        return _NUMERIC_OPS[base][0]
    return "Not" in base


def _one_value_hit(base: str, value: str, actual: str) -> bool | None:
    """Does one request value match one policy value, ignoring negation? None: operator not decided."""
    if base in _STRING_OPS:
        _, like, ignore_case = _STRING_OPS[base]
        if like:
            return wildcard_match(value, actual, ignore_case)
        return value.lower() == actual.lower() if ignore_case else value == actual
    if base in _NUMERIC_OPS:
        try:
            a, v = float(actual), float(value)
        except ValueError:
            return False
        cmp = _NUMERIC_OPS[base][1]
        return {"==": a == v, "<": a < v, "<=": a <= v, ">": a > v, ">=": a >= v}[cmp]
    return None


def key_may_be_present(key: str, keys: frozenset[str] | None) -> bool:
    """Could the real request carry `key`? `keys`: the condition keys the action and resource type
    carry (Service Authorization Reference), concrete or templated (`aws:RequestTag/${TagKey}`);
    None when not known, then any key may be present."""
    if keys is None:
        return True
    low = key.lower()
    if low.startswith("aws:") and not low.startswith(("aws:requesttag/", "aws:resourcetag/", "aws:tagkeys")):
        return True  # global keys (aws:SourceIp, aws:CurrentTime, …) may be in any request
    for k in keys:
        kl = k.lower()
        if kl == low or ("${" in kl and low.startswith(kl.split("${", 1)[0]) and low != kl.split("${", 1)[0]):
            return True
    return False


def _lookup(context: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    if key in context:
        return True, context[key]
    low = key.lower()
    for k, v in context.items():
        if k.lower() == low:
            return True, v
    return False, None


def condition_match(op: str, key: str, values: Sequence[str], context: Mapping[str, Any],
                    keys: frozenset[str] | None = None) -> Tri:
    """One operator/key pair against the request context. A key absent from `context` is decided
    as AWS decides a missing key only when `keys` says the request cannot carry it; otherwise
    it is a value the plan does not fix (MAYBE)."""
    qualifier, _, rest = op.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return Tri.MAYBE
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    known, actual_raw = _lookup(context, key)  # known with None: the request carries no such key
    present = known and actual_raw is not None
    if not known and key_may_be_present(key, keys):
        return Tri.MAYBE  # the real request may carry it, with a value the plan does not fix
    if base == "Null":
        want_missing = [v.lower() == "true" for v in values]
        return Tri.YES if (not present) in want_missing else Tri.NO
    if base not in _STRING_OPS and base not in _NUMERIC_OPS:
        return Tri.MAYBE
    negated = _negated(base)
    if not present:
        # AWS: a missing key fails a positive match, passes a negated one and *IfExists;
        # ForAllValues holds for an empty set, ForAnyValue does not.
        if if_exists or qualifier == "ForAllValues":
            return Tri.YES
        if qualifier == "ForAnyValue":
            return Tri.NO
        return Tri.YES if negated else Tri.NO
    actual = [str(a).lower() if isinstance(a, bool) else str(a)
              for a in (actual_raw if isinstance(actual_raw, (list, tuple, set, frozenset)) else [actual_raw])]

    def matches(a: str) -> bool:  # one request value against the policy values (OR; NOR when negated)
        hit = any(_one_value_hit(base, v, a) for v in values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return Tri.YES if all(matches(a) for a in actual) else Tri.NO
    if qualifier == "ForAnyValue":
        return Tri.YES if any(matches(a) for a in actual) else Tri.NO
    hit = any(_one_value_hit(base, v, a) for v in values for a in actual)
    return Tri.YES if hit != negated else Tri.NO


@dataclass(frozen=True)
class Request:
    """One authorization request. Legacy form: `resource` ANY_RESOURCE and `keys` None (nothing
    known about the resource or the keys). Plan-aware form (`resource_type` set): `resource` is
    the ARN with `*` for the parts not known before launch (or "*" when the action has no
    resource type), and `keys` the condition keys AWS puts in this request."""

    action: str
    resource: str = ANY_RESOURCE
    region: str = ""
    account: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    resource_type: str | None = None  # SAR resource type; "" = the action takes no resource
    keys: frozenset[str] | None = None

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0].lower() if ":" in self.action else ""

    @property
    def label(self) -> str:
        return f"{self.action} on {self.resource}" if self.resource_type else self.action


def _shown(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple, set, frozenset)) else str(value)


def statement_match(st: Statement, req: Request) -> tuple[Tri, str]:
    """Does the statement apply to the request? Returns the match and why: for MAYBE what could not
    be decided, for NO (when the action matched) which resource or condition did not match."""
    if st.actions:
        act = Tri.YES if any(action_matches(p, req.action) for p in st.actions) else Tri.NO
    else:
        act = Tri.NO if any(action_matches(p, req.action) for p in st.not_actions) else Tri.YES
    if act is Tri.NO:
        return Tri.NO, ""
    glob = req.resource_type is not None and req.resource_type != ""
    if req.resource_type == "":
        # An action without resource-level permissions is authorized against "*" only.
        def one(p: str) -> Tri:
            return Tri.YES if wildcard_match(p, "*") else Tri.NO
    else:
        def one(p: str) -> Tri:
            return resource_match(p, req.resource, req.service, req.region, req.account, glob=glob)
    if st.resources:
        res = tri_or(one(p) for p in st.resources)
        miss = f"Resource {_shown(st.resources)} does not cover {req.resource}"
    else:
        covered = tri_or(one(p) for p in st.not_resources)
        res = Tri(2 - covered)  # YES<->NO, MAYBE stays
        miss = f"NotResource {_shown(st.not_resources)} excludes {req.resource}"
    if res is Tri.NO:
        return Tri.NO, miss
    why = ""
    if res is Tri.MAYBE:
        why = (f"Resource {_shown(st.resources or st.not_resources)} covers only some of {req.resource}"
               if glob else "applies only to some resources")
    cond = Tri.YES
    for op, key, values in st.conditions:
        c = condition_match(op, key, values, req.context, req.keys)
        if c is Tri.NO:
            _, actual = _lookup(req.context, key)
            got = f"the request has {_shown(actual)}" if actual is not None else "the request does not carry it"
            return Tri.NO, f"condition {op} {key} {_shown(values)} does not hold ({got})"
        if c is Tri.MAYBE and not why:
            why = (f"condition {op} {key} cannot be decided: the plan does not fix {key}"
                   if req.keys is not None else f"condition {op} {key} cannot be decided before launch")
        cond = tri_and(cond, c)
    return tri_and(act, res, cond), why


def _layer(policies: Sequence[Policy], req: Request, effect: str
           ) -> tuple[Tri, list[StatementRef], list[StatementRef], list[StatementRef]]:
    """Best match of `effect` statements across `policies`: (match, definite refs, maybe refs,
    near misses: statements for the action whose resource or condition did not match)."""
    best = Tri.NO
    yes: list[StatementRef] = []
    maybe: list[StatementRef] = []
    near: list[StatementRef] = []
    for pol in policies:
        for st in pol.statements:
            if st.effect != effect:
                continue
            m, why = statement_match(st, req)
            ref = StatementRef(pol.name, pol.kind, st.sid or f"#{st.index + 1}", effect, why)
            if m is Tri.NO:
                if why:
                    near.append(ref)
                continue
            (yes if m is Tri.YES else maybe).append(ref)
            best = max(best, m)
    return best, yes, maybe, near


def evaluate(request: Request | str, identity: Sequence[Policy], boundary: Sequence[Policy] = (),
             scps: Sequence[Sequence[Policy]] = ()) -> Verdict:
    """Decide one request. `boundary`: the permission boundary policy (0 or 1). `scps`: one list
    of policies per level of the organisation (root, OUs, account); each level must allow."""
    req = Request(request) if isinstance(request, str) else request
    everything = [*identity, *boundary, *(p for level in scps for p in level)]
    deny, deny_yes, deny_maybe, _ = _layer(everything, req, "Deny")
    gates: list[tuple[str, Sequence[Policy]]] = [("identity policies", identity)]
    if boundary:
        gates.append(("permission boundary", boundary))
    gates += [(f"SCP level {i + 1}", level) for i, level in enumerate(scps)]
    allowed_by: list[StatementRef] = []
    undecided = list(deny_maybe)
    result = Tri.YES
    missing_gate = ""
    missed: list[StatementRef] = []
    for gate, pols in gates:
        m, yes, maybe, near = _layer(pols, req, "Allow")
        allowed_by += yes
        if m is Tri.MAYBE:
            undecided += maybe
        if m is Tri.NO and not missing_gate:
            missing_gate = gate
            # A statement that covers the resource but whose condition failed says more than
            # one written for other resources: name it first.
            missed = sorted(near, key=lambda r: not r.reason.startswith("condition"))
        result = tri_and(result, m)
    on = f"on {req.resource}" if req.resource_type else ""
    if deny is Tri.YES:
        # allowed_by still lists the Allows it overrides: that is what IAM004 reports.
        return Verdict(req.action, req.resource, Decision.DENY, allowed_by=tuple(allowed_by),
                       denied_by=tuple(deny_yes),
                       reason="explicitly denied by " + ", ".join(r.label() for r in deny_yes)
                       + (f" ({on})" if on else ""))
    if result is Tri.NO:
        parts = [on] if on else []
        parts += [f"{r.label()}: {r.reason}" for r in missed[:2]]
        why = f"no statement in the {missing_gate} allows it" + (f" ({'; '.join(parts)})" if parts else "")
        return Verdict(req.action, req.resource, Decision.IMPLICIT_DENY, allowed_by=tuple(allowed_by),
                       near_misses=tuple(missed), reason=why)
    if deny is Tri.MAYBE or result is Tri.MAYBE:
        first = undecided[0]
        return Verdict(req.action, req.resource, Decision.UNKNOWN, allowed_by=tuple(allowed_by),
                       undecided=tuple(undecided),
                       reason=(f"{on}: " if on else "") + f"{first.label()} ({first.effect}) {first.reason}")
    return Verdict(req.action, req.resource, Decision.ALLOW, allowed_by=tuple(allowed_by),
                   reason="allowed by " + ", ".join(r.label() for r in allowed_by[:3]))


def evaluate_all(requests: Sequence[Request], identity: Sequence[Policy], boundary: Sequence[Policy] = (),
                 scps: Sequence[Sequence[Policy]] = ()) -> Verdict:
    """One action needs several requests (RunInstances: one per resource it touches). ALLOW only
    when every request is allowed; otherwise the worst verdict (DENY > IMPLICIT_DENY > UNKNOWN),
    whose reason names the resource or condition that failed."""
    if not requests:
        raise ValueError("evaluate_all needs at least one request")
    verdicts = [evaluate(r, identity, boundary, scps) for r in requests]
    order = {Decision.DENY: 0, Decision.IMPLICIT_DENY: 1, Decision.UNKNOWN: 2, Decision.ALLOW: 3}
    worst = min(verdicts, key=lambda v: order[v.decision])
    if worst.decision is Decision.ALLOW:
        refs = tuple(dict.fromkeys(r for v in verdicts for r in v.allowed_by))
        return Verdict(worst.action, worst.resource, Decision.ALLOW, allowed_by=refs,
                       reason="allowed by " + ", ".join(r.label() for r in refs[:3]))
    return worst
