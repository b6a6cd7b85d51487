"""IAM005 unused-permission."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import shell

DEFAULT_DAYS = 90


@rule(
    id="IAM005",
    name="unused-permission",
    severity="low",
    category="posture",
    scope="plan",
    needs={"iam", "iam_last_accessed"},
    summary="The identity is granted services it has not used for 90 days (IAM last-accessed data)",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed.html",),
    # Last-accessed reports are generated asynchronously and polled (seconds to tens of seconds):
    # too slow for every pre-launch gate. `--select IAM005` runs it (a prefix does not).
    opt_in=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reads IAM's service last-accessed report for the caller (GenerateServiceLastAccessedDetails)
    and lists the services its policies grant that it has not used for N days (default 90,
    config `iam_unused_days`), or never since IAM started tracking. AWS only.

    Why is this bad?
    Launch credentials live on laptops and CI runners. Every unused grant is something an
    attacker with those credentials can do that the launcher never needed; removing them is the
    cheapest least-privilege win.

    Example:
    A launch user with `s3:*`, `sqs:*` and `ec2:*` that has only ever called EC2 and S3.

    Fix: remove the unused services from the identity's policies.

    Fix safety:
    No automatic fix: whether a grant is still needed (a yearly job?) is the owner's call.
    """
    from preflight.permissions import join

    data = ctx.inventory.extra.get("iam_last_accessed") or {}
    if not data.get("applicable"):
        return
    days = int(ctx.option("iam_unused_days", DEFAULT_DAYS))
    try:
        now = dt.datetime.fromisoformat(data["generated_at"])
    except (KeyError, ValueError):
        now = dt.datetime.now(dt.timezone.utc)
    stale: list[str] = []
    for s in data.get("services") or []:
        last = s.get("last_authenticated")
        if not last:
            stale.append(f"{s['namespace']} (never used)")
            continue
        age = (now - dt.datetime.fromisoformat(last)).days
        if age >= days:
            stale.append(f"{s['namespace']} (last used {last[:10]}, {age} days ago)")
    if not stale:
        return
    principal = data.get("principal", "")
    yield ctx.fail(
        principal,
        f"{principal} is granted {len(stale)} service{'s' if len(stale) > 1 else ''} it has not used in "
        f"{days} days: {join(stale, 8)}. Remove them from its policies (least privilege).",
        path=(principal,),
        fix=ctx.fix(shell("aws", "iam", "generate-service-last-accessed-details", "--arn", principal),
                    description="review the report (get-service-last-accessed-details --job-id …) and remove "
                                "the unused services from the policies",
                    fixer=None),
        details={"identity": principal, "unused": stale, "days": days},
    )
