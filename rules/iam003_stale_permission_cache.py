"""IAM003 stale-permission-cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from preflight.engine import Context, Finding, rule

if TYPE_CHECKING:
    from preflight.permissions import Assessment


@rule(
    id="IAM003",
    name="stale-permission-cache",
    severity="medium",
    category="hygiene",
    scope="plan",
    needs={"iam", "gcp_permissions"},
    summary="Cached permission verdicts were made for another identity (or expired and no longer hold)",
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

    When SkyPilot runs the launch, it also reads SkyPilot's own cache of enabled clouds (the
    `enabled_clouds_*` rows `sky check` writes to `~/.sky/state.db`, read without importing
    SkyPilot) and compares it with the current identity's verdict for SkyPilot's permission
    profile: a cloud SkyPilot still lists as enabled while the current identity lacks what a
    SkyPilot launch needs (SkyPilot will try it and fail), or a cloud it lists as disabled that
    the identity can now use (SkyPilot will skip it). The fix is `sky check <cloud>` once the
    permissions are right.

    Fix: nothing to undo: preflight ignored the stale verdicts and re-checked; read what changed.

    Fix safety:
    Nothing to fix: the stale verdicts were already replaced. Use `--refresh` to force a re-check
    at any time. SkyPilot's own cache is SkyPilot's: `sky check <cloud>` refreshes it.
    """
    if ctx.inventory.permission_data() is None:
        return  # nothing collected: the permission machinery is not even imported
    from preflight.permcache import describe
    from preflight.permissions import ALLOW, cached_assessment, join

    a = cached_assessment(ctx)
    if a is None:
        return
    yield from _skypilot_cache(ctx, a)
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


def _skypilot_cache(ctx: Context, a: Assessment) -> Iterator[Finding]:
    """SkyPilot's cached enabled clouds against the current identity's verdict."""
    from preflight.permissions import join

    state = a.skypilot or {}
    if not state.get("found"):
        return  # SkyPilot never ran `sky check` here: it will check on its first launch
    cloud = {"aws": "AWS", "gcp": "GCP"}.get(a.cloud, a.cloud.upper())  # SkyPilot's own spelling
    enabled = cloud in (state.get("enabled") or {}).get("compute", [])
    missing = [p for cap in a.capabilities for p in a.missing(cap)]
    works = all(a.works(cap) for cap in a.capabilities)
    owners = [o for o in state.get("owners") or [] if a.account and a.account in map(str, _flat(o))]
    others = [o for o in state.get("owners") or [] if o not in owners]
    who = f"{a.who}"
    seen = ("; SkyPilot's clusters were launched as " + ", ".join(map(str, others[:3]))) if others else ""
    details = {"skypilot_state": state.get("path", ""), "cloud": cloud, "skypilot_enabled": enabled,
               "missing": missing, "owners": state.get("owners") or []}
    fix = f"sky check {a.cloud}"
    if enabled and missing:
        yield ctx.fail(
            a.principal,
            f"SkyPilot's cache ({state.get('path')}) still lists {cloud} as enabled for compute, but {who} lacks "
            f"{len(missing)} permission{'s' if len(missing) > 1 else ''} a SkyPilot launch needs "
            f"({join(missing, 4)}){seen}: SkyPilot will pick {cloud} and fail. Grant them (IAM001), then "
            f"run `{fix}` so SkyPilot re-checks this identity.",
            path=(state.get("path", ""), cloud, a.principal),
            fix=ctx.fix(fix, fixer=None, description=f"after granting the missing permissions, refresh SkyPilot's "
                                                     f"enabled clouds for {cloud}"),
            details=details,
        )
    elif not enabled and works and not a.undecided_any():
        yield ctx.fail(
            a.principal,
            f"SkyPilot's cache ({state.get('path')}) lists {cloud} as disabled for compute, but {who} now holds "
            f"everything a SkyPilot launch needs: SkyPilot will not use {cloud} until `{fix}`.",
            path=(state.get("path", ""), cloud, a.principal),
            fix=ctx.fix(fix, fixer=None, description=f"let SkyPilot re-check {cloud} for this identity"),
            details=details,
        )


def _flat(value: object) -> list[object]:
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]
