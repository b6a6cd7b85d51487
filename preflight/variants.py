"""Check every launch a plan file describes, each on its own, and judge them as the launcher will.

One plan file can describe several launches: SkyPilot's `any_of`/`ordered` alternatives,
accelerator sets, per-region images, `aws.vpc_names`, and pipelines of several tasks. And a
request like `accelerators: A10G:1` is not one instance type but several candidates, found in
EC2's own DescribeInstanceTypes. Each (variant, candidate) is checked on its own inventory.

The verdict follows the launcher: the variants of one task are failover alternatives. When none
is launchable, every blocking finding stands. When some are, the launcher will fail over past the
others: their findings become info ("<launcher> will fail over past <alternative> ...; the launch
will be slower") and do not block. A variant for a cloud preflight does not check is an UNKNOWN
("not checked: kubernetes"), never read as AWS.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from preflight import engine
from preflight.errors import PreflightError
from preflight.inventory.model import Inventory
from preflight.plan import Plan, PlanError

MAX_CANDIDATES = 3  # candidate instance types checked per variant (smallest first, as SkyPilot tries them)


def needs_variants(plan: Plan | None) -> bool:
    if plan is None or (plan.cloud == "gcp" and not plan.alternatives):
        return False  # a GCP task goes to the GCP checks as it is
    return bool(plan.alternatives or plan.unchecked or _wants_candidates(plan) or _named(plan))


def _wants_candidates(plan: Plan) -> bool:
    return not plan.instance_type and bool(plan.accelerators or plan.cpus or plan.memory)


def _named(plan: Plan) -> bool:
    """Does the plan name a VPC or subnet by Name tag (to be resolved per region)?"""
    return bool((plan.vpc and not plan.vpc.startswith("vpc-"))
                or any(not s.startswith("subnet-") for s in plan.subnets))


def resolve_names(plan: Plan, inv: Inventory) -> Plan:
    """VPC and subnets named by id or Name tag -> ids. An ambiguous name is bad input (one line
    listing the matches); an unknown name is left for the rules to report as not found. SkyPilot
    names its VPC by Name tag itself: its profile maps the id back."""
    where = f"{plan.source}: " if plan.source else ""
    changes: dict[str, Any] = {}
    if plan.vpc and not plan.vpc.startswith("vpc-"):
        found = sorted(v.id for v in inv.vpcs if v.name == plan.vpc)
        if len(found) > 1:
            raise PlanError(f"{where}vpc: the name {plan.vpc!r} matches {len(found)} VPCs in {inv.region}: "
                            f"{', '.join(found)}; name one by id")
        if found:
            changes["vpc"] = found[0]
    if any(not s.startswith("subnet-") for s in plan.subnets):
        ids = []
        for name in plan.subnets:
            if name.startswith("subnet-"):
                ids.append(name)
                continue
            found = sorted(s.id for s in inv.subnets if s.name == name)
            if len(found) > 1:
                raise PlanError(f"{where}subnets: the name {name!r} matches {len(found)} subnets in {inv.region}: "
                                f"{', '.join(found)}; name one by id")
            ids.append(found[0] if found else name)
        changes["subnets"] = tuple(ids)
    return dataclasses.replace(plan, **changes) if changes else plan


@dataclasses.dataclass
class _Run:
    plan: Plan
    findings: list[engine.Finding]
    inventory: Inventory | None


def check(source: Any, plan: Plan, rules: list[engine.Rule], needs: set[str],
          config: dict[str, Any] | None, settings: Any = None, cache: Any = None) -> engine.Report:
    """Collect and check every variant of `plan`; one Report with each finding labelled.

    `cache` (optional, with get(account, region) / put(account, region, inventory)) reuses the
    network inventory of a region read shortly before (the SkyPilot admin policy's cache); the
    plan-specific extras (instance types, images, quotas...) are always read for this plan."""
    from preflight.collect import aws

    variants = list(plan.alternatives) or [plan]
    default_regions = list(source.regions) or [""]
    inventories: dict[str, Inventory] = {}
    runs: list[_Run] = []
    rule_ids = {r.id for r in rules}
    not_checked = engine.load_rules().get("LCH001")

    def inventory_for(region: str, vplan: Plan) -> Inventory:
        if source.target.snapshot:
            invs = {i.region: i for i in source.collect(needs, vplan)}
            if region not in invs:
                raise PreflightError(f"snapshot {source.target.snapshot} has no region {region}")
            return invs[region]
        src = f"sandbox:{source.target.sandbox}" if source.target.sandbox else "aws"
        if source.identity is None:
            source.identity = aws.caller_identity(source.session, region)
        account = source.identity.get("account", "")
        if region not in inventories and cache is not None:
            hit = cache.get(account, region)
            if hit is not None:
                inventories[region] = hit
        if region not in inventories:
            inventories[region] = aws.collect(source.session, region, needs, vplan, source.identity, src)
            if cache is not None:
                cache.put(account, region, inventories[region])
            return inventories[region]
        base = inventories[region]
        extra = dict(base.extra)
        unreadable = [u for u in base.unreadable if u.resource_type not in aws.EXTRA_COLLECTORS]
        for name in sorted(n for n in needs if n in aws.EXTRA_COLLECTORS):
            value = aws._run_extra(source.session, region, vplan, name)
            if hasattr(value, "resource_type") and hasattr(value, "error_code"):
                unreadable.append(value)
                extra.pop(name, None)
            else:
                extra[name] = value
        return msgspec.structs.replace(base, extra=extra, unreadable=tuple(unreadable))

    for v in variants:
        regions = [v.region] if v.region else default_regions
        for region in regions:
            vr = dataclasses.replace(v, region=region) if region and not v.region else v
            if vr.unchecked or vr.cloud not in ("aws", ""):
                runs.append(_Run(vr, _not_checked(not_checked, vr, rule_ids), None))
                continue
            for cand in _candidates(source, vr, region, rule_ids, not_checked):
                if isinstance(cand, _Run):
                    runs.append(cand)
                    continue
                inv = inventory_for(region, cand)
                resolved = resolve_names(cand, inv)
                report = engine.run([inv], rules, resolved, config,
                                    settings or getattr(source.target, "settings", None))
                runs.append(_Run(resolved, report.findings, inv))
    return _verdict(plan, runs, rules)


def _not_checked(meta_rule: Any, plan: Plan, rule_ids: set[str], message: str = "") -> list[engine.Finding]:
    if meta_rule is None or "LCH001" not in rule_ids:
        return []
    cloud = plan.unchecked or plan.cloud
    text = message or (f"not checked: {cloud} — this alternative ({plan.alternative or cloud}) runs on {cloud}, "
                       "which preflight does not check"
                       + (" here (check it with --cloud gcp)" if cloud == "gcp" else ""))
    return [engine.Finding(rule="LCH001", name=meta_rule.meta.name, severity=meta_rule.meta.severity,
                           status="UNKNOWN", resource=plan.alternative or cloud, region=plan.region or "-",
                           message=text, details={"cloud": cloud})]


def _candidates(source: Any, plan: Plan, region: str, rule_ids: set[str], meta_rule: Any) -> list[Any]:
    """The plan itself, or one plan per candidate instance type (at most MAX_CANDIDATES)."""
    if not _wants_candidates(plan):
        return [plan]
    spec = " ".join(x for x in (plan.accelerators, f"cpus {plan.cpus}" if plan.cpus else "",
                                f"memory {plan.memory}" if plan.memory else "") if x)
    if source.session is None:
        return [_Run(plan, _not_checked(meta_rule, plan, rule_ids,
                                        f"not checked: {spec} cannot be matched to instance types offline "
                                        "(a snapshot); check the account live"), None)]
    from preflight.collect.aws import Denied
    from preflight.collect.aws_compute import instance_candidates

    try:
        found = instance_candidates(source.session, region, plan.accelerators, plan.cpus, plan.memory)
    except Denied as exc:
        return [_Run(plan, _not_checked(meta_rule, plan, rule_ids,
                                        f"not checked: cannot list instance types in {region} ({exc.code}); "
                                        f"grant ec2:DescribeInstanceTypes"), None)]
    types = found["types"]
    where = f"{plan.source}: " if plan.source else ""
    gpu = plan.accelerators.partition(":")[0]
    if gpu and not any(n.lower() == gpu.lower() for n in found["gpu_names"]):
        known = ", ".join(found["gpu_names"][:12])
        raise PlanError(f"{where}resources.accelerators: unknown accelerator {gpu!r}: no EC2 instance type in {region} "
                        f"has it (GPUs there: {known or 'none'})")
    if not types:
        meta = engine.load_rules().get("LCH002")
        if meta is None or "LCH002" not in rule_ids:
            return []
        return [_Run(plan, [engine.Finding(
            rule="LCH002", name=meta.meta.name, severity=meta.meta.severity, status="FAIL",
            resource=spec, region=region,
            message=f"No instance type in {region} matches {spec}: {_launcher_title(plan)} cannot launch this "
                    "alternative here. Ask for another count or size, or another region.",
            details={"request": spec, "blocks_launch": True})], None)]
    return [dataclasses.replace(plan, instance_type=t, candidates=tuple(types),
                                given=plan.given | {"instance_type"}) for t in types[:MAX_CANDIDATES]]


def _launcher_title(plan: Plan) -> str:
    from preflight.launchers import profile_of

    return profile_of(plan).title


def _label(plan: Plan) -> str:
    parts = [p for p in (plan.task, plan.alternative) if p]
    if plan.candidates and plan.instance_type and plan.instance_type not in (plan.alternative or ""):
        parts.append(plan.instance_type)
    return " · ".join(parts)


def _verdict(plan: Plan, runs: list[_Run], rules: list[engine.Rule]) -> engine.Report:
    from preflight.launchers import profile_of

    prof = profile_of(plan)
    labelled = len(runs) > 1
    by_task: dict[str, list[_Run]] = {}
    for r in runs:
        by_task.setdefault(r.plan.task, []).append(r)
    out: list[engine.Finding] = []
    # Where each finding appears: one shared by every variant of a task (a region-level fact) is
    # reported once, unlabelled; one that only some variants have names them.
    where: dict[tuple[str, str, str, str], list[str]] = {}
    for r in runs:
        for f in r.findings:
            where.setdefault((f.rule, f.region, f.resource, f.message), []).append(_label(r.plan))
    seen: set[tuple[str, str, str, str]] = set()
    for task_runs in by_task.values():
        launchable = [r for r in task_runs if r.inventory is not None
                      and not any(prof.blocks(f) for f in r.findings)]
        for r in task_runs:
            blocked = any(prof.blocks(f) for f in r.findings)
            for f in r.findings:
                key = (f.rule, f.region, f.resource, f.message)
                if key in seen:
                    continue
                seen.add(key)
                details = dict(f.details)
                message = f.message
                severity = f.severity
                labels = where[key]
                if labelled and len(labels) < len(runs) and f.rule != "LCH001":  # LCH001 names it already
                    shown = "; ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
                    details.update(task=r.plan.task, alternative=r.plan.alternative,
                                   instance_type=r.plan.instance_type, variants=labels)
                    message = f"[{shown}] {message}"
                if launchable and blocked and prof.blocks(f):
                    ok = _label(launchable[0].plan) or "another alternative"
                    message = (f"{prof.title} will fail over past this alternative (the launch will be slower) and "
                               f"launch with {ok}: {message}")
                    severity = "info"
                    details.update(blocks_launch=False, failover=True)
                out.append(dataclasses.replace(f, message=message, severity=severity, details=details))
    out.sort(key=lambda f: (-engine.severity_rank(f.severity), f.rule, f.region, f.resource))
    invs: list[Inventory] = []
    for r in runs:  # one per region (the variants' extras differ, their network is the same read)
        if r.inventory is not None and all(r.inventory.region != i.region for i in invs):
            invs.append(r.inventory)
    return engine.Report(findings=out, inventories=invs, rules=list(rules),
                         stats={"graph_seconds": 0.0, "rules_seconds": 0.0,
                                "variants": [{"task": r.plan.task, "alternative": r.plan.alternative,
                                              "instance_type": r.plan.instance_type, "region": r.plan.region}
                                             for r in runs]})
