"""IAM003 stale-permission-cache."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.permcache import describe
from preflight.permissions import ALLOW, cached_assessment, join


@rule(
    id="IAM003",
    name="stale-permission-cache",
    severity="medium",
    category="hygiene",
    scope="plan",
    needs={"iam", "gcp_permissions"},
    summary="Cached permission verdicts were made for another identity (or expired and no longer hold)",
    rationale="A launcher that trusts a verdict cached for the previous account or project launches with "
              "permissions it no longer has.",
    remediation="Nothing to undo: preflight ignored the stale verdicts and re-checked; read what changed",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    preflight caches permission verdicts per identity, keyed by a fingerprint (AWS account and
    principal ARN; GCP account email, project and a hash of the credentials file). When the
    identity checked now differs from the one the last verdicts were made for, or those verdicts
    are older than the TTL (1 hour) and no longer match, they are ignored and re-checked, and
    this rule says what changed: which account, principal, project or credentials file, and
    which permissions were granted before and are not now.

    Why is this bad?
    The incident: a launcher cached "GCP enabled" from the old account. After a switch of
    account and project it still believed it, and jobs failed with "GCP access is disabled"
    although storage uploads worked. Any cached yes/no about permissions is only true for the
    identity it was made for.

    Example:
    `gcloud config set account other@example.com` between two runs: the finding names both
    accounts and the compute permissions the new one lacks.

    Fix safety:
    Nothing to fix: the stale verdicts were already replaced. Use `--refresh` to force a re-check
    at any time.
    """
    a = cached_assessment(ctx)
    if a is None:
        return
    cache = a.cache or {}
    state = cache.get("state")
    if state not in ("identity-changed", "expired"):
        return
    scope = "global" if a.cloud == "gcp" else ctx.inventory.region
    before = (cache.get("previous_verdicts") or {}).get(scope, {})
    needed = list(dict.fromkeys(p for cap in a.capabilities.values() for p in cap.permissions))
    lost = [p for p in needed if before.get(p) == ALLOW and a.decision(p) != ALLOW]
    gained = [p for p in needed if p in before and before[p] != ALLOW and a.decision(p) == ALLOW]
    prev = cache.get("previous") or {}
    since = f" (cached {prev['created_at']})" if prev.get("created_at") else ""
    delta = ""
    if lost:
        delta += f" Granted before, not now: {join(lost)}."
    if gained:
        delta += f" Not granted before, granted now: {join(gained)}."
    details = {"state": state, "changes": cache.get("changes", []), "lost": lost, "gained": gained,
               "previous_identity": prev.get("identity", {})}
    if state == "identity-changed":
        changed = "; ".join(cache.get("changes") or ["fingerprint differs"])
        yield ctx.fail(
            a.principal,
            f"the cached permission verdicts{since} were made for {describe(prev.get('identity', {}))}, "
            f"not for {a.who} ({changed}); they were ignored and re-checked.{delta}"
            + ("" if delta else " Nothing a cached 'yes' would have hidden this time."),
            path=(describe(prev.get("identity", {})), a.principal),
            details=details,
        )
    elif lost or gained:
        ttl = int(cache.get("ttl", 3600))
        yield ctx.fail(
            a.principal,
            f"the cached permission verdicts for {a.who}{since} were older than the {ttl // 60} min TTL and "
            f"no longer hold; they were re-checked.{delta}",
            path=(a.principal,),
            details=details,
        )
