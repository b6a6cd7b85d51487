"""CMP001 vcpu-quota-exceeded."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics import quotas as q


@rule(
    id="CMP001",
    name="vcpu-quota-exceeded",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"instances", "instance_types", "quotas"},
    summary="The plan's vCPUs plus those already running in the same quota family exceed the EC2 vCPU quota",
    rationale="EC2 refuses the launch with VcpuLimitExceeded when running plus requested vCPUs in one "
              "quota bucket (Standard, G and VT, P, ..., On-Demand and Spot apart) exceed the applied quota.",
    remediation="aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-… "
                "--desired-value N --region R (or launch fewer or smaller instances)",
    references=("https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Adds the vCPUs the plan asks for (count × the type's default vCPUs, from DescribeInstanceTypes)
    to the vCPUs of pending and running instances in the same quota family and market (On-Demand
    or Spot), and compares the sum with the applied Service Quotas value for that bucket.

    Why is this bad?
    The launch fails with `VcpuLimitExceeded`, often after other resources were already created,
    and GPU buckets (G and VT, P) start at 0 vCPUs in new accounts. Quota increases take hours to
    days, so this is worth knowing before the launch.

    Example:
    2 × g4dn.xlarge (4 vCPUs each) with one g4dn.xlarge running and "Running On-Demand G and VT
    instances" (L-DB2E81BA) at 8: 4 + 8 = 12 > 8.

    Fix safety:
    No automatic fix: a quota increase is a request to AWS. The finding gives the exact
    `aws service-quotas request-service-quota-increase` command with the value needed.
    """
    plan = ctx.plan
    if plan is None or not plan.instance_type:
        return
    region = ctx.region
    itype = plan.instance_type
    extra = ctx.inventory.extra
    types_data = extra.get("instance_types") or {}
    quota_data = extra.get("quotas") or {}
    family = q.quota_family(itype)
    if family is None:
        if itype.startswith("mac"):
            return  # Mac instances run on Dedicated Hosts and draw from no vCPU quota
        yield ctx.unknown(itype, f"cannot check the vCPU quota for {itype}: preflight does not know its quota "
                                 "family (is the instance type name right?)")
        return
    if not types_data or "quotas" not in quota_data:
        yield ctx.unknown(itype, f"cannot check the vCPU quota for {itype} in {region}: this inventory has no "
                                 "instance-type or quota data (not in this snapshot: check the account live "
                                 "with --plan)")
        return
    facts = (types_data.get("types") or {}).get(itype)
    if not facts:
        yield ctx.unknown(itype, f"cannot check the vCPU quota: DescribeInstanceTypes does not list {itype} in "
                                 f"{region} (see CMP002)")
        return
    fam = q.FAMILIES[family]
    market = "Spot" if plan.spot else "On-Demand"
    ref = q.quota_ref(family, plan.spot)
    if ref is None:
        yield ctx.fail(itype, f"{itype} ({fam.label} family) cannot run as Spot, but the plan asks for Spot; "
                              "set spot: false in the plan", details={"family": family})
        return
    vcpus_of = {t: int(f.get("vcpus") or 0) for t, f in (types_data.get("types") or {}).items()}
    usage = q.running_usage(ctx.inventory.instances, family, plan.spot, vcpus_of)
    found = q.find_quota(quota_data["quotas"], ref)
    if found is None:
        yield ctx.unknown(ref.code, f"cannot check the vCPU quota: Service Quotas does not list '{ref.name}' "
                                    f"({ref.code}) in {region}", details={"family": family, "code": ref.code})
        return
    code, value = found
    h = q.headroom(family, code, ref.name, value, usage, plan.count, int(facts["vcpus"]))
    details = {"family": family, "market": market.lower(), "code": code, "quota": value, "used": h.used,
               "requested": h.requested, "needed": h.needed, "running_instances": list(h.instances)}
    if h.exceeded:
        running = (f"{h.used} vCPUs already run in that bucket ({len(h.instances)} instance"
                   f"{'s' if len(h.instances) != 1 else ''}: {', '.join(h.instances[:5])}"
                   f"{', …' if len(h.instances) > 5 else ''})" if h.instances else "nothing runs in that bucket yet")
        fits = max(0, int((value - h.used) // int(facts["vcpus"]))) if facts["vcpus"] else 0
        msg = (f"{plan.count} × {itype} needs {h.requested} vCPUs and {running}; the applied quota "
               f"'{ref.name}' ({code}) is {value:g} vCPUs in {region}: {h.used} + {h.requested} = {h.needed} > "
               f"{value:g}, so RunInstances would fail with VcpuLimitExceeded. Request at least {h.needed} vCPUs "
               f"(or launch at most {fits} instance{'s' if fits != 1 else ''}).")
        yield ctx.fail(code, msg, path=(itype, *h.instances, code), details=details, fix=ctx.fix(
            f"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {code} "
            f"--desired-value {h.needed} --region {region}",
            description=f"ask AWS to raise {code} to {h.needed} vCPUs (reviewed by AWS; can take hours)"))
    elif usage.unknown_types:
        yield ctx.unknown(code, f"cannot total the vCPUs running in {code}: no vCPU count for "
                                f"{', '.join(usage.unknown_types)}", details=details)
