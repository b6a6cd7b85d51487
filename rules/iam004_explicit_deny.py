"""IAM004 explicit-deny."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule


def _refs(refs: list[dict[str, str]]) -> str:
    out = []
    for r in refs:
        kind = {"boundary": "permission boundary ", "scp": "SCP "}.get(r.get("kind", ""), "")
        sid = f" statement {r['sid']}" if r.get("sid") else ""
        out.append(f"{kind}{r.get('policy', '?')}{sid}")
    return ", ".join(dict.fromkeys(out))


@rule(
    id="IAM004",
    name="explicit-deny",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"iam"},
    summary="An action the launch needs is allowed by one policy but denied by another, a boundary or an SCP",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reports each permission the launch needs that an identity policy allows but that is still
    refused: by an explicit `Deny` statement (in any identity policy, the permission boundary or
    an SCP), or because the permission boundary or an SCP level does not allow it. Names the
    denying statement (policy and Sid). AWS only.

    Why is this bad?
    The usual reaction to "access denied" is to attach one more policy, which cannot work here:
    an explicit deny always wins, and a boundary caps whatever the policies grant. Whoever fixes it
    must know which statement blocks the action.

    Example:
    A user with `AdministratorAccess` and a guardrail policy `Deny ec2:RunInstances` unless the
    instance type is approved; or a permission boundary that allows only `s3:*`.

    Fix: narrow or remove the named Deny statement, or widen the boundary / SCP (owner decision).

    Fix safety:
    No automatic fix: deny statements, boundaries and SCPs are guardrails someone set on
    purpose. The finding names them so their owner can decide.
    """
    if ctx.inventory.permission_data() is None:
        return  # nothing collected: the permission machinery is not even imported
    from preflight.permissions import DENY, IMPLICIT_DENY, cached_assessment

    a = cached_assessment(ctx)
    if a is None or a.cloud != "aws":
        return
    parts: list[str] = []
    denied: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for cap in a.capabilities.values():
        for p in cap.permissions:
            v = a.verdicts.get(p, {})
            # Boundaries and SCPs only limit; the grant comes from an identity policy.
            allowed = [r for r in v.get("allowed_by") or [] if r.get("kind", "identity") == "identity"]
            if p in seen or not allowed:
                continue
            seen.add(p)
            if v.get("decision") == DENY:
                by = _refs(v.get("denied_by") or [])
                parts.append(f"{p} is allowed by {_refs(allowed)} but explicitly denied by {by}")
                denied[p] = {"capability": cap.name, "denied_by": by, "allowed_by": _refs(allowed)}
            elif v.get("decision") == IMPLICIT_DENY and any(w in v.get("reason", "") for w in ("boundary", "SCP")):
                parts.append(f"{p} is allowed by {_refs(allowed)} but {v['reason']}")
                denied[p] = {"capability": cap.name, "denied_by": v["reason"], "allowed_by": _refs(allowed)}
    if not parts:
        return
    yield ctx.fail(
        a.principal,
        f"{a.principal}: " + "; ".join(parts[:5]) + (f"; … ({len(parts) - 5} more)" if len(parts) > 5 else "")
        + ". Another Allow will not help: change the denying statement or the boundary/SCP.",
        path=(a.principal, *dict.fromkeys(d["denied_by"] for d in denied.values())),
        fix=ctx.fix(description="narrow or remove the denying statement named above (its owner's decision)",
                    fixer=None),
        details={"identity": a.principal, "denied": denied},
    )
