"""Glue between the CLI and the core: where inventories come from, and running a check.

A `Target` says where to read (AWS account, sandbox scenario, or snapshot file); `open_target`
yields a `Source` that stays open for the whole command, so `fix --apply` and `launch` in the
sandbox change the same in-process account that the check read.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from preflight import engine
from preflight.errors import PreflightError
from preflight.inventory import snapshot
from preflight.inventory.model import Inventory, Unreadable
from preflight.plan import Plan
from preflight.settings import RunSettings

MAX_REGION_WORKERS = 4


@dataclass
class Target:
    regions: list[str] = field(default_factory=list)
    profile: str | None = None
    endpoint_url: str | None = None
    sandbox: str | None = None
    snapshot: str | None = None
    all_regions: bool = False
    profiles: list[str] = field(default_factory=list)  # several accounts: --profile repeated
    settings: RunSettings = field(default_factory=RunSettings)  # travels with the run (no globals)


class CheckSource(Protocol):
    """What a check reads from: `Source` (AWS, a sandbox or a snapshot) or `collect.gcp.GcpSource`."""

    @property
    def target(self) -> Any: ...

    def sessions(self) -> list[Any]: ...

    def collect(self, needs: set[str] | None = None, plan: Plan | None = None) -> list[Inventory]: ...


@dataclass
class Source:
    target: Target
    session: Any = None  # AwsSession, None for snapshots
    seeder: Any = None  # sandbox Seeder
    regions: list[str] = field(default_factory=list)
    identity: dict[str, str] | None = None
    others: list[Source] = field(default_factory=list)  # one Source per further --profile (account)

    def sessions(self) -> list[Any]:
        return [s.session for s in (self, *self.others) if s.session is not None]

    def collect(self, needs: set[str] | None = None, plan: Plan | None = None) -> list[Inventory]:
        """Read every region (concurrently, bounded) or load the snapshot."""
        if self.target.snapshot:
            invs = snapshot.load(self.target.snapshot)
            if self.target.regions:
                invs = [i for i in invs if i.region in self.target.regions]
                if not invs:
                    raise PreflightError(
                        f"snapshot {self.target.snapshot} has no region {', '.join(self.target.regions)}")
            return [_missing_extras_unreadable(i, needs or set()) for i in invs]
        from concurrent.futures import ThreadPoolExecutor

        from preflight.collect import aws

        src = f"sandbox:{self.target.sandbox}" if self.target.sandbox else "aws"
        if not self.others and len(self.regions) == 1:
            # One account, one region: the collector asks who the caller is beside its reads
            # rather than before them (one round trip less).
            inv = aws.collect(self.session, self.regions[0], needs, plan, self.identity, src)
            self.identity = self.identity or self.session.identity
            return [inv]
        sources: list[Source] = []
        for s in (self, *self.others):
            if s.identity is None:
                s.identity = aws.caller_identity(s.session, s.regions[0])
            # Two profiles for the same account would report every finding twice.
            if all(s.identity.get("account") != o.identity.get("account") for o in sources if o.identity):
                sources.append(s)
        jobs = [(s, r) for s in sources for r in s.regions]
        with ThreadPoolExecutor(max_workers=min(MAX_REGION_WORKERS, len(jobs))) as pool:
            futures = [pool.submit(aws.collect, s.session, r, needs, plan, s.identity, src) for s, r in jobs]
            return [f.result() for f in futures]


def _missing_extras_unreadable(inv: Inventory, needs: set[str]) -> Inventory:
    """A snapshot holds only the extra data (IAM, quotas, offerings...) collected when it was taken:
    what a selected rule needs but the snapshot lacks is unreadable (UNKNOWN), never an empty pass."""

    from preflight.collect.registry import EXTRA_PROVIDERS as EXTRA_MODULES  # no SDK import offline

    if inv.cloud != "aws":
        return inv
    have = set(inv.extra) | inv.unreadable_types()
    missing = sorted(n for n in needs if n in EXTRA_MODULES and n not in have)
    if not missing:
        return inv
    added = tuple(Unreadable(resource_type=n, error_code="NotInSnapshot", permission="",
                             message="the snapshot was taken without this data; check the account itself")
                  for n in missing)
    return msgspec.structs.replace(inv, unreadable=tuple(inv.unreadable) + added)


def resolve_regions(target: Target, plan: Plan | None, session: Any) -> list[str]:
    from preflight.collect import aws

    regions = list(dict.fromkeys(target.regions))
    if target.all_regions:
        regions = enabled_regions(session)
    if not regions and plan is not None and plan.region:
        regions = [plan.region]
    if not regions:
        env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or session.session.region_name
        if env:
            regions = [env]
    if not regions:
        raise PreflightError("no region given: pass --region (for example --region eu-south-1)")
    for r in regions:
        aws.check_region(session, r)
    return regions


def enabled_regions(session: Any) -> list[str]:
    """The regions enabled for the account (DescribeRegions, one call): opt-in regions that are not
    enabled would only answer AuthFailure."""
    from preflight.collect import aws

    home = session.session.region_name or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    try:
        found = session.client("ec2", home).describe_regions()["Regions"]
    except Exception as exc:  # noqa: BLE001 - one line for any botocore failure
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise PreflightError(f"--all-regions: cannot list the account's regions ({code}); "
                             "grant ec2:DescribeRegions or pass --region") from None
    known = set(aws.known_regions(session))
    return sorted(r["RegionName"] for r in found if r.get("RegionName") in known)


@contextlib.contextmanager
def open_target(target: Target, plan: Plan | None = None) -> Iterator[Source]:
    if target.snapshot and target.sandbox:
        raise PreflightError("--snapshot and --sandbox cannot be used together")
    if target.snapshot:
        yield Source(target, regions=list(target.regions))
        return
    if target.sandbox:
        from preflight.collect.sandbox import DEFAULT_REGION, sandbox

        region = (target.regions or [plan.region if plan and plan.region else DEFAULT_REGION])[0]
        with sandbox(target.sandbox, region, amis=bool(plan and plan.image), settings=target.settings) as (
                session, seeder):
            session.stats.clear()  # count what preflight reads, not what the seeding wrote
            regions = resolve_regions(Target(regions=target.regions or [region]), plan, session)
            yield Source(target, session=session, seeder=seeder, regions=regions)
        return
    from preflight.collect.aws import AwsSession

    endpoint = target.endpoint_url or target.settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    profiles: list[str | None] = [*dict.fromkeys(target.profiles)] or [target.profile]
    sessions = [AwsSession(profile=p, endpoint_url=endpoint, settings=target.settings) for p in profiles]
    sources = [Source(target, session=s, regions=resolve_regions(target, plan, s)) for s in sessions]
    sources[0].others = sources[1:]
    yield sources[0]


def needs_of(rules: list[engine.Rule]) -> set[str]:
    return set().union(*(r.meta.needs for r in rules)) if rules else set()


def run_check(source: CheckSource, plan: Plan | None, select: list[str], ignore: list[str],
              config: dict[str, Any] | None = None, enable: list[str] | None = None) -> engine.Report:
    """Collect and run the selected rules (plus the opt-in ones `enable` names); stats include API
    calls and stage timings."""
    rules = engine.select_rules(engine.load_rules(), select, ignore, enable or ())
    t0 = time.perf_counter()
    from preflight import variants

    settings = source.target.settings
    # Several launches in one plan, candidates, names: each on its own. A plan checked with an
    # inventory cache goes the same way: the variant runner is where base inventories are reused.
    cached = settings.inventory_cache is not None and plan is not None and plan.cloud != "gcp"
    if plan is not None and (variants.needs_variants(plan) or cached):
        report = variants.check(source, plan, rules, needs_of(rules), config, settings,
                                cache=settings.inventory_cache)
        inventories = report.inventories
        t1 = time.perf_counter()
    else:
        inventories = source.collect(needs_of(rules), plan)
        t1 = time.perf_counter()
        report = engine.run(inventories, rules, plan, config, source.target.settings)
    report.stats["collect_seconds"] = t1 - t0
    report.stats["resources"] = resources_seen(inventories)
    sessions = source.sessions()
    if sessions:
        calls: dict[str, int] = {}
        pages: dict[str, int] = {}
        for s in sessions:
            for name, n in s.stats.calls.items():
                calls[name] = calls.get(name, 0) + n
            for name, n in s.stats.pages.items():
                pages[name] = pages.get(name, 0) + n
        report.stats["api_calls"] = dict(sorted(calls.items()))
        report.stats["api_calls_total"] = sum(calls.values())
        report.stats["api_pages"] = dict(sorted(pages.items()))
        report.stats["api_pages_total"] = sum(pages.values())
        report.stats["api_retries"] = sum(s.stats.retries for s in sessions)
        report.stats["collect_seconds_by_region"] = {
            k.split(":", 1)[1]: v for s in sessions for k, v in s.stats.seconds.items() if k.startswith("collect:")}
    return report


def resources_seen(inventories: list[Inventory]) -> dict[str, int]:
    from preflight.inventory.model import RESOURCE_TYPES

    counts = {t: sum(len(getattr(inv, t)) for inv in inventories) for t in RESOURCE_TYPES}
    counts["security_group_rules"] = sum(len(g.rules) for inv in inventories for g in inv.security_groups)
    return counts


@dataclass
class Gate:
    """What decides the exit code of `check`: config file, rule selection, threshold, baseline."""

    config: Any  # preflight.config.Config
    select: list[str]
    ignore: list[str]
    fail_on: str
    baseline: set[tuple[str, str, str, str]] | None = None
    anchor_file: str | None = None
    enable: list[str] = field(default_factory=list)  # opt-in rules switched on by a flag (CMP006)


def _relative_to_cwd(path: str | os.PathLike[str] | None) -> str | None:
    if not path:
        return None
    full = os.path.abspath(path)
    cwd = os.getcwd()
    return os.path.relpath(full, cwd).replace(os.sep, "/") if full.startswith(cwd + os.sep) else None


def gate_settings(config_file: str | None, select: list[str], ignore: list[str], fail_on: str | None,
                  baseline_file: str | None = None, plan_file: str | None = None,
                  enable: list[str] | None = None) -> Gate:
    """Merge the config file with the command line (which wins for select and fail-on, and adds to
    ignore), check every rule code, and load the baseline: all before reading the account."""
    from preflight import baseline
    from preflight.config import load_config

    cfg = load_config(config_file)
    cfg.check_rule_codes(engine.load_rules())
    chosen = fail_on or cfg.fail_on or "low"
    if chosen not in engine.SEVERITIES:
        raise PreflightError(f"--fail-on: {chosen!r} is not one of {', '.join(engine.SEVERITIES)}")
    keys = baseline.load(baseline_file) if baseline_file else None
    # SARIF consumers (GitHub code scanning) need a file in the repository to hang results on.
    anchor = _relative_to_cwd(plan_file) or _relative_to_cwd(cfg.path) or _relative_to_cwd(baseline_file)
    gate = Gate(cfg, list(select) or list(cfg.select), [*cfg.ignore, *ignore], chosen, keys, anchor,
                list(enable or []))
    # unknown codes: exit 2 before any call
    engine.select_rules(engine.load_rules(), gate.select, gate.ignore, gate.enable)
    return gate


def run_gate(source: CheckSource, plan: Plan | None, gate: Gate,
             write_baseline: str | None = None) -> tuple[engine.Report, list[str]]:
    """Check, then apply suppressions and the baseline. Returns the report and lines for stderr."""
    from preflight import baseline

    report = run_check(source, plan, gate.select, gate.ignore, gate.config.rule_options(), gate.enable)
    if gate.anchor_file:
        report.gate.anchor_file = gate.anchor_file
    notes = [f"warning: {w}" for w in gate.config.apply_suppressions(report)]
    if report.gate.suppressed:
        notes.append(f"{len(report.gate.suppressed)} finding(s) suppressed by {gate.config.path}")
    if write_baseline:
        n = baseline.write(write_baseline, report.findings)
        notes.append(f"baseline of {n} finding(s) written to {write_baseline}")
    if gate.baseline is not None:
        st = baseline.apply(report, gate.baseline)
        notes.append(f"baseline: {st['known']} known finding(s) hidden, {st['new']} new")
        for e in st["fixed"]:
            notes.append(f"baseline: {e['rule']} on {e['resource']} ({e['region']}) is fixed; "
                         "remove it from the baseline (or rewrite it with --write-baseline)")
    return report, notes


def render_stats(report: engine.Report) -> str:
    """`--stats`: API calls and pages, seconds per stage, resources seen (for stderr)."""
    st = report.stats
    lines = [f"stats: {len(report.inventories)} inventor{'y' if len(report.inventories) == 1 else 'ies'} "
             f"({', '.join(report.regions) or '-'}), {len(report.rules)} rules"]
    if "api_calls_total" in st:
        lines.append(f"  api calls: {st['api_calls_total']}, pages: {st.get('api_pages_total', 0)}, "
                     f"retries: {st.get('api_retries', 0)}")
        pages = st.get("api_pages", {})
        for name, n in st["api_calls"].items():
            lines.append(f"    {name:<45} {n:>5} calls {pages.get(name, 0):>5} pages")
    stages = [("collect", st.get("collect_seconds")), ("graph", st.get("graph_seconds")),
              ("rules", st.get("rules_seconds")), ("report", st.get("report_seconds"))]
    known = [(k, v) for k, v in stages if v is not None]
    lines.append("  seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in known)
                 + f", total {sum(v for _, v in known):.3f}")
    res = st.get("resources", {})
    if res:
        lines.append("  resources: " + (", ".join(f"{k} {v}" for k, v in res.items() if v) or "none"))
    return "\n".join(lines) + "\n"
