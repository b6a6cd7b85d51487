"""LCH001 launch-variant-not-checked."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule


@rule(
    id="LCH001",
    name="launch-variant-not-checked",
    severity="info",
    summary="A launch alternative of the plan could not be checked (another cloud, or no live account)",
    needs=set(),
    category="posture",
    scope="plan",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reports UNKNOWN for each alternative of the plan that preflight did not check: one that runs on a
    cloud preflight does not check here (`infra: k8s/...`, `cloud: azure`; GCP alternatives of a mixed
    task point to `--cloud gcp`), or accelerators/cpus/memory that cannot be matched to instance types
    because the check reads a snapshot. The findings are made by the variant runner (preflight/variants.py),
    which knows the alternatives; this module holds the rule's metadata and documentation.

    Why is this bad?
    It is not: it says what the verdict does not cover, so a clean report is not mistaken for a checked
    launch on another cloud. A SkyPilot task may offer alternatives on other clouds (kubernetes, gcp)
    or ask for accelerators that only the live account can map to instance types; reading such an
    alternative as AWS would judge a launch that will never happen, and skipping it silently would
    hide that it was not judged.

    Example:
    `resources: {any_of: [{infra: aws/eu-south-1}, {infra: k8s/my-context}]}` -> the AWS alternative is
    checked; the kubernetes one is reported as "not checked: kubernetes".

    Fix: check that alternative with the tool for its cloud (GCP: --cloud gcp), or check the account
    live.

    Fix safety:
    Nothing to fix.
    """
    return iter(())
