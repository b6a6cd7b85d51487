"""IAM002 partial-cloud-access."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule


@rule(
    id="IAM002",
    name="partial-cloud-access",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"iam", "gcp_permissions"},
    summary="Some capabilities are fully granted and others are not (e.g. storage works, compute does not)",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Splits the launch's permissions by capability and reports when at least one capability is
    fully granted while another is missing permissions, in plain words: "storage works, compute
    does not: missing compute.firewalls.create, …".

    Why is this bad?
    It is the shape of a real incident: after switching GCP account, uploads to the job's bucket
    still worked, so everything looked fine, but the new account lacked compute permissions such
    as `compute.firewalls.create` and every job died in its precheck with a misleading "GCP access
    is disabled". Partial access is easy to mistake for working access.

    Example:
    A service account with `roles/storage.admin` only, used to launch VMs.

    Fix: grant the missing permissions of the failing capabilities (see the commands).

    Fix safety:
    No automatic fix: granting permissions is a security decision. The finding prints the
    commands that grant exactly what the failing capabilities miss.
    """
    if ctx.inventory.permission_data() is None:
        return  # nothing collected: the permission machinery is not even imported
    from preflight.permissions import and_list, cached_assessment, fix_commands, join

    a = cached_assessment(ctx)
    if a is None or len(a.capabilities) + len(a.unused) < 2:
        return
    # A capability the launch does not use still tells "it works for storage" apart from "it
    # works"; only the capabilities it uses can fail.
    works = [cap for cap in (*a.capabilities, *a.unused) if a.works(cap)]
    failing = {cap: a.missing(cap) for cap in a.capabilities}
    failing = {cap: perms for cap, perms in failing.items() if perms}
    if not works or not failing:
        return
    said_works = f"{and_list(works)} {'works' if len(works) == 1 else 'work'}"
    if len(failing) == 1:
        cap, perms = next(iter(failing.items()))
        said_fails = f"{cap} does not: missing {join(perms)}"
    else:
        said_fails = (f"{and_list(list(failing))} do not: "
                      + "; ".join(f"{cap} is missing {join(perms)}" for cap, perms in failing.items()))
    flat = list(dict.fromkeys(p for perms in failing.values() for p in perms))
    yield ctx.fail(
        a.principal,
        f"{said_works}, {said_fails}. {a.who} can use {and_list(works)}, so a successful "
        f"{works[0]} call proves nothing: the launch will fail at its first {next(iter(failing))} call.",
        path=(a.principal, *failing),
        fix=ctx.fix(*fix_commands(a, flat), fixer=None,
                    description=f"grant what {and_list(list(failing))} {'is' if len(failing) == 1 else 'are'} missing"),
        details={"identity": a.principal, "project": a.project, "works": works, "missing": failing},
    )
