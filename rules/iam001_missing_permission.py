"""IAM001 missing-permission."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule


@rule(
    id="IAM001",
    name="missing-permission",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"iam", "gcp_permissions"},
    summary="The identity lacks a permission that a capability the launch needs requires",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",
                "https://cloud.google.com/resource-manager/reference/rest/v3/projects/testIamPermissions"),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    For each capability the launch needs (the plan's `capabilities`, or all of them: compute,
    network, storage, iam-pass-role), checks every permission the catalogue lists for it. On AWS
    it evaluates the caller's identity policies, permission boundary and SCPs locally (or asks
    IAM with `--simulate`); on GCP it asks `projects.testIamPermissions`. One finding per
    identity lists each missing permission with its capability. A permission whose verdict
    depends on something unknowable before launch (a condition on the instance type, a policy
    scoped to resources that do not exist yet) is reported as UNKNOWN, never as granted.

    Why is this bad?
    The launcher only finds out at the call that is refused — `UnauthorizedOperation` on
    RunInstances, `403 compute.firewalls.create` — usually halfway through the launch, after it has
    created security groups, firewall rules or buckets that then need cleaning up.

    Example:
    An IAM user whose policy allows `ec2:Describe*` and `ec2:CreateSecurityGroup` but not
    `ec2:RunInstances`.

    Fix: grant exactly the missing permissions (the finding prints the aws/gcloud commands).

    Fix safety:
    No automatic fix: granting permissions is a security decision. The finding prints a policy
    that grants exactly the missing permissions and nothing else.
    """
    if ctx.inventory.permission_data() is None:
        return  # nothing collected: the permission machinery is not even imported
    from preflight.permissions import DENY, cached_assessment, fix_commands, join

    a = cached_assessment(ctx)
    if a is None:
        return
    missing = {cap: a.missing(cap) for cap in a.capabilities}
    missing = {cap: perms for cap, perms in missing.items() if perms}
    undecided = {cap: a.undecided(cap) for cap in a.capabilities}
    undecided = {cap: perms for cap, perms in undecided.items() if perms}
    shown = [p for v in (*missing.values(), *undecided.values()) for p in v]
    details = {"identity": a.principal, "project": a.project, "method": a.method, "missing": missing,
               "unknown": undecided, "verdicts": {p: a.verdicts.get(p, {}) for p in shown}}
    refused = a.optional_refused()
    if refused:
        details["optional_refused"] = refused  # the launcher survives these; never a FAIL
    if missing:
        flat = list(dict.fromkeys(p for perms in missing.values() for p in perms))
        parts = []
        for cap, perms in missing.items():
            denied = [p for p in perms if a.decision(p) == DENY]
            note = f" (explicitly denied: {join(denied, 3)}; see IAM004)" if denied else ""
            # Name the resource and the statement or condition that failed, when known.
            parts.append(f"{cap}: {join([a.detail(p) for p in perms])}{note}")
        unsure = (f" Could not decide {sum(len(v) for v in undecided.values())} more "
                  f"({join([p for v in undecided.values() for p in v], 3)}).") if undecided else ""
        call = "API call" if a.cloud == "aws" else "request"
        yield ctx.fail(
            a.principal,
            f"{a.who} lacks {len(flat)} permission{'s' if len(flat) > 1 else ''} the launch needs — "
            + "; ".join(parts)
            + f". The launch would be refused at the first such {call}.{unsure}",
            path=(a.principal, *missing),
            fix=ctx.fix(*fix_commands(a, flat), fixer=None,
                        description=f"grant exactly the missing permission{'s' if len(flat) > 1 else ''}"),
            details=details,
        )
    elif undecided:
        first_cap, perms = next(iter(undecided.items()))
        reason = a.verdicts.get(perms[0], {}).get("reason", "")
        yield ctx.unknown(
            a.principal,
            f"cannot tell whether {a.who} may {join([p for v in undecided.values() for p in v], 4)} "
            f"({first_cap}): {perms[0]}: {reason}",
            path=(a.principal, *undecided),
            details=details,
        )
