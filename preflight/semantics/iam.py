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

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "decision": self.decision.value, "reason": self.reason,
                "allowed_by": [r.to_dict() for r in self.allowed_by],
                "denied_by": [r.to_dict() for r in self.denied_by],
                "undecided": [r.to_dict() for r in self.undecided]}


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


def resource_match(pattern: str, resource: str, service: str = "", region: str = "", account: str = "") -> Tri:
    """Does `pattern` cover `resource`? For ANY_RESOURCE (ARN not known yet) the answer is YES only
    when the pattern covers every resource of the action's service in this region and account."""
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


# Condition operators decided here. Anything else (Date*, IpAddress, ForAnyValue:..., Numeric*)
# is UNKNOWN: better an honest "cannot tell" than a wrong PASS.
def _string_op(op: str) -> tuple[bool, bool, bool] | None:
    """-> (negated, like, ignore_case) for the string/ARN family, or None."""
    table = {
        "StringEquals": (False, False, False), "StringNotEquals": (True, False, False),
        "StringEqualsIgnoreCase": (False, False, True), "StringNotEqualsIgnoreCase": (True, False, True),
        "StringLike": (False, True, False), "StringNotLike": (True, True, False),
        "ArnEquals": (False, True, False), "ArnNotEquals": (True, True, False),
        "ArnLike": (False, True, False), "ArnNotLike": (True, True, False),
        "Bool": (False, False, True),
    }
    return table.get(op)


def condition_match(op: str, key: str, values: Sequence[str], context: Mapping[str, Any]) -> Tri:
    if_exists = op.endswith("IfExists")
    base = op[: -len("IfExists")] if if_exists else op
    present = key in context or key.lower() in {k.lower() for k in context}
    actual_raw = context.get(key)
    if actual_raw is None:
        for k, v in context.items():
            if k.lower() == key.lower():
                actual_raw = v
    if base == "Null":
        want_missing = [v.lower() == "true" for v in values]
        if not present:
            return Tri.MAYBE  # the launch request's keys are not known
        return Tri.YES if False in want_missing else Tri.NO
    kind = _string_op(base)
    if kind is None or ":" in base:
        return Tri.MAYBE
    if not present:
        # AWS: a missing key fails a positive match and passes *IfExists. The context holds only
        # what is known before launch; a key outside it (ec2:InstanceType...) may well be in the
        # real request, so neither the plain nor the *IfExists form can be decided.
        return Tri.MAYBE
    negated, like, ignore_case = kind
    actual = [str(a) for a in (actual_raw if isinstance(actual_raw, (list, tuple)) else [actual_raw])]
    if like:
        hit = any(wildcard_match(v, a, ignore_case) for v in values for a in actual)
    elif ignore_case:
        hit = any(v.lower() == a.lower() for v in values for a in actual)
    else:
        hit = any(v == a for v in values for a in actual)
    return Tri.YES if hit != negated else Tri.NO


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = ANY_RESOURCE
    region: str = ""
    account: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0].lower() if ":" in self.action else ""


def statement_match(st: Statement, req: Request) -> tuple[Tri, str]:
    """Does the statement apply to the request? Returns the match and, for MAYBE, why."""
    if st.actions:
        act = Tri.YES if any(action_matches(p, req.action) for p in st.actions) else Tri.NO
    else:
        act = Tri.NO if any(action_matches(p, req.action) for p in st.not_actions) else Tri.YES
    if act is Tri.NO:
        return Tri.NO, ""
    args = (req.resource, req.service, req.region, req.account)
    if st.resources:
        res = tri_or(resource_match(p, *args) for p in st.resources)
    else:
        covered = tri_or(resource_match(p, *args) for p in st.not_resources)
        res = Tri(2 - covered)  # YES<->NO, MAYBE stays
    if res is Tri.NO:
        return Tri.NO, ""
    why = ""
    if res is Tri.MAYBE:
        why = "applies only to some resources"
    cond = Tri.YES
    for op, key, values in st.conditions:
        c = condition_match(op, key, values, req.context)
        if c is Tri.NO:
            return Tri.NO, ""
        if c is Tri.MAYBE and not why:
            why = f"condition {op} {key} cannot be decided before launch"
        cond = tri_and(cond, c)
    return tri_and(act, res, cond), why


def _layer(policies: Sequence[Policy], req: Request, effect: str) -> tuple[Tri, list[StatementRef], list[StatementRef]]:
    """Best match of `effect` statements across `policies`: (match, definite refs, maybe refs)."""
    best = Tri.NO
    yes: list[StatementRef] = []
    maybe: list[StatementRef] = []
    for pol in policies:
        for st in pol.statements:
            if st.effect != effect:
                continue
            m, why = statement_match(st, req)
            if m is Tri.NO:
                continue
            ref = StatementRef(pol.name, pol.kind, st.sid or f"#{st.index + 1}", effect, why)
            (yes if m is Tri.YES else maybe).append(ref)
            best = max(best, m)
    return best, yes, maybe


def evaluate(request: Request | str, identity: Sequence[Policy], boundary: Sequence[Policy] = (),
             scps: Sequence[Sequence[Policy]] = ()) -> Verdict:
    """Decide one request. `boundary`: the permission boundary policy (0 or 1). `scps`: one list
    of policies per level of the organisation (root, OUs, account); each level must allow."""
    req = Request(request) if isinstance(request, str) else request
    everything = [*identity, *boundary, *(p for level in scps for p in level)]
    deny, deny_yes, deny_maybe = _layer(everything, req, "Deny")
    gates: list[tuple[str, Sequence[Policy]]] = [("identity policies", identity)]
    if boundary:
        gates.append(("permission boundary", boundary))
    gates += [(f"SCP level {i + 1}", level) for i, level in enumerate(scps)]
    allowed_by: list[StatementRef] = []
    undecided = list(deny_maybe)
    result = Tri.YES
    missing_gate = ""
    for gate, pols in gates:
        m, yes, maybe = _layer(pols, req, "Allow")
        allowed_by += yes
        if m is Tri.MAYBE:
            undecided += maybe
        if m is Tri.NO and not missing_gate:
            missing_gate = gate
        result = tri_and(result, m)
    if deny is Tri.YES:
        # allowed_by still lists the Allows it overrides: that is what IAM004 reports.
        return Verdict(req.action, req.resource, Decision.DENY, allowed_by=tuple(allowed_by),
                       denied_by=tuple(deny_yes),
                       reason="explicitly denied by " + ", ".join(r.label() for r in deny_yes))
    if result is Tri.NO:
        return Verdict(req.action, req.resource, Decision.IMPLICIT_DENY, allowed_by=tuple(allowed_by),
                       reason=f"no statement in the {missing_gate} allows it")
    if deny is Tri.MAYBE or result is Tri.MAYBE:
        first = undecided[0]
        return Verdict(req.action, req.resource, Decision.UNKNOWN, allowed_by=tuple(allowed_by),
                       undecided=tuple(undecided),
                       reason=f"{first.label()} ({first.effect}) {first.reason}")
    return Verdict(req.action, req.resource, Decision.ALLOW, allowed_by=tuple(allowed_by),
                   reason="allowed by " + ", ".join(r.label() for r in allowed_by[:3]))

