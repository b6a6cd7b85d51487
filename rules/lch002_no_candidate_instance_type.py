"""LCH002 no-candidate-instance-type."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule


@rule(
    id="LCH002",
    name="no-candidate-instance-type",
    severity="high",
    summary="No instance type in the region matches the plan's accelerators, cpus and memory",
    references=("https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypes.html",),
    needs=set(),
    category="launch-blocker",
    scope="plan",
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Matches the plan's `accelerators` (GPU name and count), `cpus` and `memory` (`4` exactly, `4+` at
    least) against EC2's own DescribeInstanceTypes for the region, and fails when nothing matches.
    The matching candidates (smallest first) are what the compute rules (CMP001-CMP003) check. The
    findings are made by the variant runner (preflight/variants.py); this module holds the rule's
    metadata and documentation.

    Why is this bad?
    The launcher fails before launching anything ("Resources ... not available"), after the user
    waited for its optimizer; with alternatives, it silently moves to the next one.

    Example:
    `accelerators: A10G:3` in eu-south-1: g5 types have 1, 4 or 8 A10G GPUs, so nothing matches.

    Fix: ask for a count or size that exists (aws ec2 describe-instance-types), or another region.

    Fix safety:
    Nothing to fix automatically: pick a count or size from the listed instance types.
    """
    return iter(())
