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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from preflight import engine
from preflight.errors import PreflightError
from preflight.inventory import snapshot
from preflight.inventory.model import Inventory
from preflight.plan import Plan

MAX_REGION_WORKERS = 4


@dataclass
class Target:
    regions: list[str] = field(default_factory=list)
    profile: str | None = None
    endpoint_url: str | None = None
    sandbox: str | None = None
    snapshot: str | None = None
    all_regions: bool = False


@dataclass
class Source:
    target: Target
    session: Any = None  # AwsSession, None for snapshots
    seeder: Any = None  # sandbox Seeder
    regions: list[str] = field(default_factory=list)
    identity: dict[str, str] | None = None

    def collect(self, needs: set[str] | None = None, plan: Plan | None = None) -> list[Inventory]:
        """Read every region (concurrently, bounded) or load the snapshot."""
        if self.target.snapshot:
            invs = snapshot.load(self.target.snapshot)
            if self.target.regions:
                invs = [i for i in invs if i.region in self.target.regions]
                if not invs:
                    raise PreflightError(
                        f"snapshot {self.target.snapshot} has no region {', '.join(self.target.regions)}")
            return invs
        from preflight.collect import aws

        if self.identity is None:
            self.identity = aws.caller_identity(self.session, self.regions[0])
        src = f"sandbox:{self.target.sandbox}" if self.target.sandbox else "aws"
        with ThreadPoolExecutor(max_workers=min(MAX_REGION_WORKERS, len(self.regions))) as pool:
            futures = [pool.submit(aws.collect, self.session, r, needs, plan, self.identity, src)
                       for r in self.regions]
            return [f.result() for f in futures]


def resolve_regions(target: Target, plan: Plan | None, session: Any) -> list[str]:
    from preflight.collect import aws

    regions = list(dict.fromkeys(target.regions))
    if target.all_regions:
        regions = aws.known_regions(session)
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
        with sandbox(target.sandbox, region) as (session, seeder):
            session.stats.calls.clear()  # count what preflight reads, not what the seeding wrote
            regions = resolve_regions(Target(regions=target.regions or [region]), plan, session)
            yield Source(target, session=session, seeder=seeder, regions=regions)
        return
    from preflight.collect.aws import AwsSession

    endpoint = target.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    session = AwsSession(profile=target.profile, endpoint_url=endpoint)
    yield Source(target, session=session, regions=resolve_regions(target, plan, session))


def needs_of(rules: list[engine.Rule]) -> set[str]:
    return set().union(*(r.meta.needs for r in rules)) if rules else set()


def run_check(source: Source, plan: Plan | None, select: list[str], ignore: list[str],
              config: dict[str, Any] | None = None) -> engine.Report:
    """Collect and run the selected rules; stats include API calls and stage timings."""
    rules = engine.select_rules(engine.load_rules(), select, ignore)
    t0 = time.perf_counter()
    inventories = source.collect(needs_of(rules), plan)
    t1 = time.perf_counter()
    report = engine.run(inventories, rules, plan, config)
    report.stats["collect_seconds"] = t1 - t0
    if source.session is not None:
        report.stats["api_calls"] = dict(sorted(source.session.stats.calls.items()))
        report.stats["api_calls_total"] = source.session.stats.total
    return report
