"""CMP001 vcpu-quota-exceeded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import shell

if TYPE_CHECKING:
    from preflight.semantics import quotas as q


@rule(
    id="CMP001",
    name="vcpu-quota-exceeded",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"instances", "instance_types", "quotas"},
    summary="The plan's vCPUs plus those already running in the same quota family exceed the EC2 vCPU quota",
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

    Fix: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-…
    --desired-value N --region R (or launch fewer or smaller instances).

    Fix safety:
    No automatic fix: a quota increase is a request to AWS. The finding gives the exact
    `aws service-quotas request-service-quota-increase` command with the value needed.
    """
    plan = ctx.plan
    if plan is None or not (plan.instance_type or plan.nodes):
        return
    from preflight.semantics import quotas as q
    region = ctx.region
    extra = ctx.inventory.extra
    types_data = extra.get("instance_types") or {}
    quota_data = extra.get("quotas") or {}
    groups = tuple(getattr(plan, "nodes", ()) or ())
    itypes = list(dict.fromkeys(g.instance_type for g in groups)) if groups else [plan.instance_type]
    for itype in itypes:
        if q.quota_family(itype) is None:
            if itype.startswith("mac"):
                continue  # Mac instances run on Dedicated Hosts and draw from no vCPU quota
            yield ctx.unknown(itype, f"cannot check the vCPU quota for {itype}: preflight does not know its quota "
                                     "family (is the instance type name right?)")
            return
    itypes = [t for t in itypes if q.quota_family(t) is not None]
    if not itypes:
        return
    label = itypes[0]
    if not types_data or "quotas" not in quota_data:
        yield ctx.unknown(label, f"cannot check the vCPU quota for {', '.join(itypes)} in {region}: this inventory "
                                 "has no instance-type or quota data (not in this snapshot: check the account live "
                                 "with --plan)")
        return
    known = types_data.get("types") or {}
    absent = [t for t in itypes if t not in known and q.quota_family(t) is not None]
    if absent:
        yield ctx.unknown(absent[0], f"cannot check the vCPU quota: DescribeInstanceTypes does not list {absent[0]} "
                                     f"in {region} (see CMP002)")
        return
    vcpus_of = {t: int(f.get("vcpus") or 0) for t, f in known.items()}
    if groups:
        requests = q.bucket_requests(groups, plan.count, vcpus_of)
    else:
        fam = q.quota_family(plan.instance_type)
        requests = [] if fam is None else [q.BucketRequest(fam, plan.spot, plan.count * vcpus_of[plan.instance_type],
                                                           ((plan.instance_type, plan.count),))]
    for req in requests:
        yield from _check_bucket(ctx, req, quota_data, vcpus_of, cluster=bool(groups))


def _check_bucket(ctx: Context, req: q.BucketRequest, quota_data: dict, vcpus_of: dict[str, int],
                  cluster: bool) -> Iterator[Finding]:
    from preflight.semantics import quotas as q

    region, family = ctx.region, req.family
    fam = q.FAMILIES[family]
    market = "Spot" if req.spot else "On-Demand"
    ref = q.quota_ref(family, req.spot)
    first = req.parts[0][0] if req.parts else family
    if ref is None:
        yield ctx.fail(first, f"{first} ({fam.label} family) cannot run as Spot, but the plan asks for Spot; "
                              "set spot: false in the plan", details={"family": family})
        return
    usage = q.running_usage(ctx.inventory.instances, family, req.spot, vcpus_of)
    found = q.find_quota(quota_data["quotas"], ref)
    if found is None:
        yield ctx.unknown(ref.code, f"cannot check the vCPU quota: Service Quotas does not list '{ref.name}' "
                                    f"({ref.code}) in {region}", details={"family": family, "code": ref.code})
        return
    code, value = found
    h = q.Headroom(family, code, ref.name, value, usage.vcpus, req.vcpus, usage.instances)
    details = {"family": family, "market": market.lower(), "code": code, "quota": value, "used": h.used,
               "requested": h.requested, "needed": h.needed, "running_instances": list(h.instances),
               "instances": [{"instance_type": t, "count": n} for t, n in req.parts]}
    if h.exceeded:
        running = (f"{h.used} vCPUs already run in that bucket ({len(h.instances)} instance"
                   f"{'s' if len(h.instances) != 1 else ''}: {', '.join(h.instances[:5])}"
                   f"{', …' if len(h.instances) > 5 else ''})" if h.instances else "nothing runs in that bucket yet")
        if cluster:
            what = ("the cluster at its maximum size ("
                    + " + ".join(f"{n} × {t}" for t, n in req.parts) + f") needs {h.requested} vCPUs of that bucket")
            smaller = f"or lower max_workers so the cluster needs at most {max(0, int(value - h.used))} vCPUs there"
        else:
            itype, count = req.parts[0]
            per = vcpus_of.get(itype, 0)
            fits = max(0, int((value - h.used) // per)) if per else 0
            what = f"{count} × {itype} needs {h.requested} vCPUs"
            smaller = f"or launch at most {fits} instance{'s' if fits != 1 else ''}"
        msg = (f"{what} and {running}; the applied quota "
               f"'{ref.name}' ({code}) is {value:g} vCPUs in {region}: {h.used} + {h.requested} = {h.needed} > "
               f"{value:g}, so RunInstances would fail with VcpuLimitExceeded. Request at least {h.needed} vCPUs "
               f"({smaller}).")
        yield ctx.fail(code, msg, path=(*(t for t, _ in req.parts), *h.instances, code), details=details,
                       fix=ctx.fix(
            shell("aws", "service-quotas", "request-service-quota-increase", "--service-code", "ec2",
                  "--quota-code", code, "--desired-value", h.needed, "--region", region),
            description=f"ask AWS to raise {code} to {h.needed} vCPUs (reviewed by AWS; can take hours)"))
    elif usage.unknown_types:
        yield ctx.unknown(code, f"cannot total the vCPUs running in {code}: no vCPU count for "
                                f"{', '.join(usage.unknown_types)}", details=details)
