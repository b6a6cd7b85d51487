"""`preflight launch PLAN`: check -> fix -> security group -> run instances -> wait -> ports -> verify -> record.

Each stage has a plan step (reads only, says what it would do) and an apply step (makes the
change). Without `apply` the run is the plan steps alone: every stage says what it would do and
nothing is changed (`Pipeline.carry_out` is the one place the two modes part). With `apply`:

1. check   every rule, for the plan; FAIL findings at or above `high` block the launch, except
           SG010 (the security-group stage handles the plan's ports itself).
2. fix     (only with `fix`) the fixers' plan for the blocking findings, applied with a journal
           (undo it with `preflight undo JOURNAL`), then re-checked, a few rounds at most.
3. subnet  a subnet in the plan's scope where an instance is reachable (route + public IP).
4. group   the plan's security group (created when a named group does not exist, tagged with the
           launch id) and exactly the missing ports, through the SG010 rule and the
           `sg-open-missing-ports` fixer: every rule counts, nothing is added twice.
5. run     RunInstances with a ClientToken (a retried call never launches twice), tagged.
6. wait    until running, retrying InvalidInstanceID.NotFound with bounded exponential backoff
           and jitter (preflight.launch.retry; throttling is botocore's adaptive retries' job).
7. ports   replica ports reserved atomically in the port ledger (preflight.ports), written to the
           instances' `preflight:replica-ports` tag, released again if anything fails.
8. verify  instances running, public IPs where the launch needs them, the plan's ports open, and
           the network rules clean for the chosen subnet.
9. record  the launch record, for `preflight down LAUNCH_ID`.

Every write goes through a journal first (the launch journal for stages 4-5, the fix journal for
stage 2), so an interrupted launch can always be taken down or undone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import botocore.exceptions

from preflight import engine
from preflight.errors import PreflightError
from preflight.fix import Call, Change, FixPlan, Journal, apply_changes, build_plan
from preflight.inventory.model import Inventory, SecurityGroup, Subnet
from preflight.launch.records import GroupRecord, LaunchRecord, ReplicaRecord, new_launch_id, save_record
from preflight.launch.retry import RetryPolicy, call_with_retry, wait_until_running
from preflight.plan import Plan, PlanError
from preflight.ports import (
    BUSY_TIMEOUT_MS,
    LAUNCH_TAG,
    REPLICA_PORTS_TAG,
    Ledger,
    PortAllocator,
    PortsError,
    allocate_replicas,
    format_ports_tag,
    open_ledger,
    resolve_ledger_url,
)
from preflight.scope import LaunchScope, launch_vpcs, pick_subnet, wants_public
from preflight.semantics.routes import Topology

LEDGER_PROBE_WAIT = 5.0
FIX_ROUNDS = 3
UNSAFE_HINT = "pass --unsafe-fixes to apply them (`preflight fixers` says why each is unsafe)"
SG_FIXER = "sg-open-missing-ports"


@dataclass
class LaunchSettings:
    apply: bool = False
    fix: bool = False
    unsafe_fixes: bool = False  # --unsafe-fixes: the fix stage applies unsafe changes too
    max_changes: int | None = None
    allow_world: bool = False
    # Lowest severity of a blocking FAIL that stops the launch. Whether a FAIL blocks at all is rule
    # metadata (category, scope); this only lets a caller be more lenient.
    block_on: str = "low"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    wait_timeout: float = 600.0
    poll: float = 5.0
    lease_seconds: float = 900.0  # replica reservations until the launch is verified
    state_dir: str | None = None
    ledger: str | None = None  # port ledger URL from --ledger (then $PREFLIGHT_PORTS_LEDGER, ledger_config)
    ledger_config: str | None = None  # `ports-ledger` from the config file; neither: the local SQLite file
    ledger_wait: float = BUSY_TIMEOUT_MS / 1000  # seconds to wait for a SQLite ledger another process holds
    config: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    select: list[str] = field(default_factory=list)  # rules of the check stage (default: all)
    ignore: list[str] = field(default_factory=list)


StageStatus = Literal["ok", "planned", "skipped", "failed", "blocked"]


@dataclass
class Stage:
    name: str
    status: StageStatus
    summary: str
    lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


Progress = Callable[[Stage], None]


@dataclass
class LaunchResult:
    launch_id: str
    mode: str  # dry-run | apply
    region: str = ""
    stages: list[Stage] = field(default_factory=list)
    record: LaunchRecord | None = None
    fix_journal: str = ""
    journal: str = ""
    ok: bool = False

    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "preflight-launch/v1", "launch_id": self.launch_id, "mode": self.mode,
                "region": self.region, "ok": self.ok, "stages": [s.to_dict() for s in self.stages],
                "record": self.record.to_dict() if self.record else None, "fix_journal": self.fix_journal,
                "journal": self.journal,
                "exit_code": self.exit_code()}


T = TypeVar("T")


@dataclass
class StagePlan(Generic[T]):
    """What one stage would do: its line in a dry run, and `detail`, what its apply step carries
    out. `stop`: a dry run ends here, blocked (a real run may get further: a fix's re-check can
    clear findings no fixer handles)."""

    name: str
    detail: T
    summary: str
    lines: list[str] = field(default_factory=list)
    stop: str = ""


@dataclass
class FixStage:
    report: engine.Report
    blockers: list[engine.Finding]
    fix_plan: FixPlan
    subnet_hint: str  # the subnet the fixes make usable (picked once they are applied)


@dataclass
class GroupStage:
    ref: str  # the plan's group (id or name), or the name of the group to create
    group: SecurityGroup | None  # the existing group, None when it is to be created
    subnet: Subnet
    missing: list[int]  # ports to authorize
    source: str  # CIDR they are opened to
    ports_text: str


class LaunchStopped(Exception):
    """A stage failed; the result says why. Not an input error: exit 1, not 2."""


def validate_plan(plan: Plan | None) -> Plan:
    if plan is None:
        raise PlanError("preflight launch needs a plan file (see examples/launch.yaml)")
    where = f"{plan.source}: " if plan.source else ""
    if plan.cloud != "aws":
        raise PlanError(f"{where}cloud: preflight launch supports aws, not {plan.cloud!r}")
    for name in ("instance_type", "image"):
        if not getattr(plan, name):
            raise PlanError(f"{where}{name}: required by preflight launch (see examples/launch.yaml)")
    if plan.replicas is not None and plan.replicas.count < 0:
        raise PlanError(f"{where}replicas.count: must be 0 or more")
    return plan


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Pipeline:
    def __init__(self, source: Any, plan: Plan, settings: LaunchSettings, progress: Progress | None = None,
                 launch_id: str | None = None) -> None:
        self.source = source
        self.plan = validate_plan(plan)
        self.s = settings
        self.progress = progress
        if len(source.regions) != 1:
            raise PreflightError(f"preflight launch works in one region; got {', '.join(source.regions)}")
        self.region = source.regions[0]
        if self.plan.region and self.plan.region != self.region:
            raise PreflightError(f"the plan is for {self.plan.region}, but --region says {self.region}")
        self.session = source.session
        self.result = LaunchResult(launch_id=launch_id or new_launch_id(),
                                   mode="apply" if settings.apply else "dry-run", region=self.region)
        self.record: LaunchRecord | None = None
        self.journal: Journal | None = None
        self._ec2: Any = None
        self.ledger: Ledger | None = None
        self.cached_scope: dict[int, LaunchScope] = {}  # per inventory object (each check collects anew)
        from preflight.fix.interrupted import Written

        self.written = Written(sandbox=bool(source.target.sandbox))  # for the report if the run is cut short

    @property
    def launch_id(self) -> str:
        return self.result.launch_id

    # --- plumbing -------------------------------------------------------------------------------

    def stage(self, name: str, status: StageStatus, summary: str, lines: list[str] | None = None) -> Stage:
        st = Stage(name, status, summary, list(lines or []))
        self.result.stages.append(st)
        if self.progress is not None:
            self.progress(st)
        return st

    def stop(self, name: str, summary: str, lines: list[str] | None = None, status: StageStatus = "failed") -> None:
        self.stage(name, status, summary, lines)
        if self.record is not None:
            self.record.state = "failed"
            self.record.error = summary
            self._save()
        raise LaunchStopped(summary)

    def carry_out(self, planned: StagePlan[T], apply: Callable[[T], Any], dry: Any) -> Any:
        """The one place a dry run and a real run part: a dry run shows the stage's plan and hands
        `dry` (what later stages plan with) on; a real run applies the plan and returns the result."""
        if not self.s.apply:
            if planned.stop:
                self.stop(planned.name, planned.stop, planned.lines, status="blocked")
            self.stage(planned.name, "planned", planned.summary, planned.lines)
            return dry
        return apply(planned.detail)

    def ec2(self) -> Any:
        """The client for the launch's own calls (run, wait, tag, create group): its own object, so a
        test can inject faults into exactly these calls, and the collector's reads stay separate."""
        if self._ec2 is None:
            from preflight.collect.aws import client_config

            self._ec2 = self.session.session.client("ec2", region_name=self.region,
                                                    endpoint_url=self.session.endpoint_url, config=client_config())
            self._ec2.meta.events.register("before-call", self.session.stats.hook)
        return self._ec2

    def check(self, plan: Plan, select: list[str] | None = None) -> engine.Report:
        rules = engine.select_rules(engine.load_rules(), select or self.s.select, self.s.ignore)
        needs = set().union(*(r.meta.needs for r in rules)) if rules else set()
        inventories = self.source.collect(needs, plan)
        return engine.run(inventories, rules, plan, self.s.config, self.source.target.settings)

    def blockers(self, report: engine.Report) -> list[engine.Finding]:
        """FAILs the rule metadata (and the plan's launcher) says block, in this launch's scope, at or
        above `block_on`; not those of rules whose fixer the group stage applies itself (SG010)."""
        floor = engine.severity_rank(self.s.block_on)
        metas = {r.id: r.meta for r in report.rules}
        return [f for f in report.blocking() if engine.severity_rank(f.severity) >= floor
                and self.relevant(f, report) and metas[f.rule].fixer != SG_FIXER]

    def scope_vpcs(self, inv: Inventory) -> set[str]:
        return launch_vpcs(inv, self.plan)

    def relevant(self, f: engine.Finding, report: engine.Report) -> bool:
        """Does a finding concern this launch? Its rule's `scope` decides (preflight.scope): problems
        elsewhere in the account never block it, and --fix never touches them."""
        inv = next((i for i in report.inventories if i.region == f.region), None)
        meta = next((r.meta for r in report.rules if r.id == f.rule), None)
        if inv is None or meta is None:
            return True
        where = self.cached_scope.get(id(inv))
        if where is None:
            where = self.cached_scope[id(inv)] = LaunchScope.of(inv, self.plan)
        return where.covers(meta.scope, f.resource, f.path)

    def _journal(self) -> Journal:
        if self.journal is None:
            inv_account = (self.source.identity or {}).get("account", "")
            self.journal = Journal(run_id=self.launch_id, header={
                "command": self.s.command, "regions": [self.region], "account": inv_account,
                "source": f"sandbox:{self.source.target.sandbox}" if self.source.target.sandbox else "aws",
                "launch_id": self.launch_id})
            self.written.launch_journal = self.journal.path
            self.written.launch_id = self.launch_id
        return self.journal

    def _save(self) -> None:
        # A record exists only once the group stage applied something: a dry run never writes one.
        if self.record is not None:
            self.record.updated_at = _now()
            save_record(self.record, self.s.state_dir)

    # --- the run ---------------------------------------------------------------------------------

    def open_ledger(self) -> None:
        """Open and probe the port ledger before the first change: a ledger that cannot be reached
        (DynamoDB table missing, denied, endpoint down) or that another process holds locked stops
        the launch here, with one line and nothing created, not after instances exist."""
        r = self.plan.replicas
        if r is None or r.count < 1:
            return
        url = resolve_ledger_url(self.s.ledger, self.s.ledger_config, self.s.state_dir)
        try:
            # Fail fast: a few seconds for a lock held by another process, not the full wait.
            probe = min(self.s.ledger_wait, LEDGER_PROBE_WAIT)
            self.ledger = open_ledger(url, self.session, lease_seconds=self.s.lease_seconds, lock_timeout=probe,
                                      create=bool(self.source.target.sandbox))
            self.ledger.check()
            if isinstance(self.ledger, PortAllocator):
                self.ledger.lock_timeout = self.s.ledger_wait
        except PortsError as exc:
            if self.ledger is not None:
                self.ledger.close()
            raise PortsError(f"{exc} (launch stopped before changing anything)") from None

    def run(self) -> LaunchResult:
        from preflight.fix.interrupted import reporting_changes

        self.open_ledger()
        endpoint = getattr(self.session, "endpoint_url", None) or ""
        try:
            # Anything but a stage's own stop (a signal, the endpoint going away, a locked ledger, a
            # bug) after the first change ends with what changed and the down/undo commands, exit 1.
            with reporting_changes(self.written, endpoint, before_report=self._interrupted):
                try:
                    self._run()
                    self.result.ok = True
                except LaunchStopped:
                    self.result.ok = False
                except botocore.exceptions.ClientError as exc:  # an answer no stage expected: one line
                    self.result.ok = False
                    after = self.result.stages[-1].name if self.result.stages else "start"
                    down = f"; {self.takedown_hint()}" if self.record else ""
                    try:
                        self.stop("error", f"AWS answered {_code(exc)} after the {after} stage: {_message(exc)}{down}")
                    except LaunchStopped:
                        pass
                if not self.result.ok and self.s.apply and not self.source.target.sandbox:
                    self._changes_stage()  # (a sandbox account ends with the command: nothing to take back)
                if self.source.target.sandbox and self.record is not None:
                    self._end_sandbox()
        finally:
            if self.ledger is not None:
                self.ledger.close()
        self.result.record = self.record
        if self.journal is not None and self.journal.written:
            self.result.journal = str(self.journal.path)
        return self.result

    def _changes_stage(self) -> None:
        """A stage stopped the launch after changes were made: one last stage listing them with the
        journals and the down/undo commands, as an interrupted launch prints them."""
        from preflight.fix.interrupted import report

        failed = next((s for s in reversed(self.result.stages) if s.status in ("failed", "blocked")), None)
        summary = report(self.written, f"{failed.name} stage: {failed.summary}" if failed else "stopped")
        if summary is None:
            return
        self._ensure_record()
        self.stage("changes", "failed", summary.lines[1].rstrip(":"), summary.lines[2:])

    def _ensure_record(self) -> None:
        """A launch cut short before its record existed (e.g. while creating its group) still gets
        one, so that the `preflight down` it prints works: down finds what carries the launch tag."""
        if self.record is None and self.written.launch_id and not self.source.target.sandbox:
            self.record = LaunchRecord(
                launch_id=self.launch_id, region=self.region, state="failed", created_at=_now(),
                account=(self.source.identity or {}).get("account", ""), source="aws",
                endpoint_url=getattr(self.session, "endpoint_url", None) or "", plan=self.plan.source,
                name=self.plan.name, fix_journal=self.result.fix_journal, journal=str(self._journal().path))

    def _interrupted(self, exc: BaseException) -> None:
        """Leave the record saying the launch did not finish (best effort: we are on the way out)."""
        from preflight.fix.interrupted import cause_of

        self._ensure_record()
        if self.record is not None:
            self.record.state = "failed"
            self.record.error = cause_of(exc)
            with contextlib.suppress(Exception):
                self._save()

    def takedown_hint(self) -> str:
        """The command that takes this launch back, or why none is needed (a sandbox account ends
        with the command: `down` would refuse its record, and there is nothing left to remove)."""
        if self.source.target.sandbox:
            return "nothing to take down: the sandbox account ends with this command"
        return f"take down what was created: `preflight down {self.launch_id}`"

    def undo_hint(self, journal: Any) -> str:
        if self.source.target.sandbox:
            return "nothing to undo: the sandbox account ends with this command"
        return f"undo with `preflight undo {journal}`"

    def _end_sandbox(self) -> None:
        """The in-process sandbox account ends with this command: release its ports, close the record."""
        n, lines = self._release_ports(self.ledger) if self.ledger is not None else (0, [])
        assert self.record is not None
        self.record.state = "ended"
        self.record.ended_reason = "sandbox account ended with the command"
        self._save()
        self.stage("sandbox", "ok", f"the sandbox account ends with this command: {n} replica port(s) released, "
                                    f"record closed (nothing exists to take down)", lines)

    def _run(self) -> None:
        plan = self.plan
        report = self.check(plan)
        blockers = self.blockers(report)
        unknown = [f for f in report.findings if f.status == "UNKNOWN"]
        lines = [f"{f.rule} {f.severity} {f.resource}: {f.message}" for f in blockers]
        lines += [f"{f.rule} could not be evaluated: {f.message}" for f in unknown]
        self.stage("check", "ok" if not blockers else "blocked",
                   f"{len(report.rules)} rules: {len(blockers)} blocking finding(s)"
                   + (f", {len(unknown)} unknown" if unknown else ""), lines)

        subnet_hint, fixes_pending = "", False
        if blockers:
            if not self.s.fix:
                self.stop("fix", "blocked: fix the findings above, or pass --fix to let preflight fix what it can",
                          status="blocked")
            fixing = self.plan_fix(report, blockers)
            report, subnet_hint, fixes_pending = self.carry_out(
                fixing, self.apply_fix, (report, fixing.detail.subnet_hint, True))
        else:
            self.stage("fix", "skipped", "nothing to fix")

        inv = report.inventories[0]
        subnet = self.choose_subnet(inv, subnet_hint, fixes_pending)
        grouping = self.plan_group(inv, subnet)
        group = self.carry_out(grouping, self.apply_group, grouping.detail.group)
        instance_ids = self.carry_out(self.plan_run(subnet, group), self.apply_run, [])
        self.carry_out(self.plan_wait(instance_ids), self.apply_wait, [])
        ports = self.plan_ports(instance_ids)
        if ports is None:
            self.stage("ports", "skipped", "no replicas in the plan")
        else:
            self.carry_out(ports, self.apply_ports, None)
        self.carry_out(self.plan_verify(subnet, group), self.apply_verify, None)
        self.carry_out(StagePlan("record", None, f"would record launch {self.launch_id}"), self.apply_record, None)

    def apply_record(self, _: None) -> None:
        assert self.record is not None
        self.record.state = "running"
        self._save()
        self.stage("record", "ok", f"launch {self.launch_id} recorded" + (
            "" if self.source.target.sandbox else f"; take it down with `preflight down {self.launch_id}`"))

    # --- stage 2: fix --------------------------------------------------------------------------

    def plan_fix(self, report: engine.Report, blockers: list[engine.Finding]) -> StagePlan[FixStage]:
        fplan = build_plan(blockers, report.inventories, self.plan, self.s.config, self.fix_options())
        hint = next((c.resource for c in fplan.changes if c.resource.startswith("subnet-")), "")
        if not fplan.changes:
            refused = [f"refused: {r.resource}: {r.reason}" for r in fplan.refusals]
            self.stop("fix", f"no fixer can fix the {len(blockers)} blocking finding(s)",
                      refused + [f"{f.rule} {f.resource}: no fixer" for f in fplan.unfixable], status="blocked")
        skipped = self.skipped_unsafe(fplan)
        lines = [f"{c.description}{' (unsafe: skipped without --unsafe-fixes)' if c in skipped else ''}"
                 f"\n    $ {c.cli}" for c in fplan.changes]
        lines += [f"refused: {r.resource}: {r.reason}" for r in fplan.refusals]
        left = fplan.unfixable
        n = len(fplan.changes) - len(skipped)
        stop = (f"would apply {n} change(s), but {len(left)} blocking finding(s) have no fixer" if left
                else f"every change is unsafe: {UNSAFE_HINT}" if not n else "")
        lines += [f"{f.rule} {f.resource}: no fixer" for f in left]
        unsafe = f" ({len(skipped)} unsafe skipped: {UNSAFE_HINT})" if skipped else ""
        return StagePlan("fix", FixStage(report, blockers, fplan, hint), f"would apply {n} change(s){unsafe}",
                         lines, stop)

    def skipped_unsafe(self, fplan: FixPlan) -> list[Change]:
        """The unsafe changes the fix stage leaves out without --unsafe-fixes (see `preflight fixers`)."""
        return [] if self.s.unsafe_fixes else [c for c in fplan.changes if not c.safe]

    def fix_options(self) -> dict[str, Any]:
        return {"allow_world": self.s.allow_world}

    def apply_fix(self, planned: FixStage) -> tuple[engine.Report, str, bool]:
        """Apply the fixes, re-check, and plan again for what is left (a few rounds at most)."""
        report, blockers, fplan = planned.report, planned.blockers, planned.fix_plan
        journal = Journal(header={"command": self.s.command, "regions": [self.region],
                                  "account": report.inventories[0].account, "source": report.inventories[0].source,
                                  "launch_id": self.launch_id})
        self.result.fix_journal = str(journal.path)
        self.written.journals.append(journal.path)
        applied: list[str] = []
        skipped: dict[str, Change] = {}  # by what the change does: a later round plans it again
        budget = self.s.max_changes  # --max-changes caps the whole fix stage, every round together
        for n in range(FIX_ROUNDS):
            unsafe = self.skipped_unsafe(fplan)
            skipped.update((c.key(), c) for c in unsafe)
            changes = [c for c in fplan.changes if c not in unsafe]
            if not changes:
                break
            if n and budget is not None and len(changes) > budget:
                self.stop("fix", f"{len(changes)} more change(s) needed after "
                                 f"{(self.s.max_changes or 0) - budget} applied, beyond --max-changes "
                                 f"{self.s.max_changes}; {self.undo_hint(journal.path)}", applied, status="blocked")
            outcomes = apply_changes(changes, self.session, journal, max_changes=budget)
            if budget is not None:
                budget -= sum(1 for o in outcomes if o.status in ("applied", "withdrawn"))
            applied += [f"[{o.status}] {o.change.description}\n    $ {o.change.cli}" for o in outcomes]
            failed = [o for o in outcomes if o.status == "failed"]
            if failed:
                self.stop("fix", f"a fix failed ({failed[0].error}); {self.undo_hint(journal.path)}",
                          applied)
            # Re-check the rules that blocked (and the network rules the fixes touch), not all of them.
            report = self.check(self.plan, sorted({f.rule for f in blockers} | {"NET"}))
            blockers = self.blockers(report)
            if not blockers:
                break
            fplan = build_plan(blockers, report.inventories, self.plan, self.s.config, self.fix_options())
            if not fplan.changes:
                break
        if blockers:
            why = f"; {len(skipped)} unsafe change(s) skipped: {UNSAFE_HINT}" if skipped else ""
            self.stop("fix", f"{len(blockers)} blocking finding(s) left after fixing{why}",
                      applied + [f"skipped (unsafe): {c.description}\n    $ {c.cli}" for c in skipped.values()]
                      + [f"{f.rule} {f.resource}: {f.message}" for f in blockers], status="blocked")
        done = sum(1 for line in applied if line.startswith("[applied]"))
        self.stage("fix", "ok", f"{done} change(s) applied; journal {journal.path} "
                                f"({self.undo_hint(journal.path)})",
                   applied + [f"skipped (unsafe, not needed): {c.description}" for c in skipped.values()])
        return report, planned.subnet_hint, False

    # --- stage 3: subnet -------------------------------------------------------------------------

    def wants_public(self) -> bool:
        return wants_public(self.plan)

    def pick_subnet(self, inv: Inventory, hint: str) -> Subnet | None:
        """The subnet the launch would use now (None when no subnet in scope is usable)."""
        return pick_subnet(inv, self.plan, hint)

    def choose_subnet(self, inv: Inventory, hint: str, fixes_pending: bool = False) -> Subnet:
        """Read only, so the same in both modes; while the fixes are only planned (a dry run), the
        subnet they would make usable is the one the later stages plan with."""
        chosen = self.pick_subnet(inv, hint)
        if chosen is not None:
            self.stage("subnet", "ok", f"{chosen.id} in {chosen.vpc_id} ({chosen.availability_zone})"
                       + (" — internet-reachable" if self.wants_public() else ""))
            return chosen
        t = Topology(inv)
        if fixes_pending and hint and hint in t.subnets:
            chosen = t.subnets[hint]
            self.stage("subnet", "planned", f"{chosen.id} in {chosen.vpc_id}, once the fixes above are applied")
            return chosen
        self.stop("subnet", "no subnet in the plan's scope can host a reachable instance (see NET001 in "
                            "`preflight check --plan ...`, or pass --fix)")
        raise AssertionError("unreachable")

    # --- stage 4: security group -------------------------------------------------------------------

    def plan_group(self, inv: Inventory, subnet: Subnet) -> StagePlan[GroupStage]:
        from preflight.semantics.secgroups import (
            format_ranges,
            is_world,
            missing_ports,
            plan_admin_ports,
            ranges,
            resolve_group,
        )

        plan = self.plan
        ref = plan.security_group or f"preflight-{plan.name or 'launch'}-{self.launch_id}"
        source = plan.source_cidr or "0.0.0.0/0"
        found = resolve_group(inv.security_groups, ref, subnet.vpc_id)
        if ref.startswith("sg-") and not found:
            self.stop("group", f"security group {ref} does not exist in {subnet.vpc_id}")
        if found and found[0].vpc_id != subnet.vpc_id:
            self.stop("group", f"security group {found[0].id} is in {found[0].vpc_id}, but the subnet "
                               f"{subnet.id} is in {subnet.vpc_id}")
        group = found[0] if found else None
        admin = plan_admin_ports(self.s.config.get("admin_ports"))
        refused = [p for p in plan.ports if p in admin] if is_world(source) and not self.s.allow_world else []
        if refused:
            self.stop("group", f"not opening admin port(s) {format_ranges(ranges(refused))} to {source}: pass "
                               f"--allow-world, or set source_cidr to your own network (nothing was changed)")
        missing = missing_ports([group], plan.ports, source) if group is not None else list(plan.ports)
        open_already = [p for p in plan.ports if p not in missing]
        what = (f"reuse {group.id} ({group.group_name}), made by you: it is never deleted by down"
                if group is not None else f"create security group {ref!r} in {subnet.vpc_id}")
        ports_txt = (f"authorize tcp {format_ranges(ranges(missing))} from {source}" if missing
                     else "no port to add")
        if open_already:
            ports_txt += f" (already open: {format_ranges(ranges(open_already))})"
        return StagePlan("group", GroupStage(ref, group, subnet, missing, source, ports_txt),
                         f"would {what}; would {ports_txt}")

    def apply_group(self, planned: GroupStage) -> SecurityGroup:
        group, subnet, created = planned.group, planned.subnet, False
        if group is None:
            group = self._create_group(planned.ref, subnet.vpc_id)
            created = True
        self.record = self._new_record(subnet, group, created)
        self._save()
        lines: list[str] = []
        if planned.missing:
            lines = self._open_ports(group, subnet, planned.source)
        self.stage("group", "ok", f"{'created' if created else 'reused'} {group.id} ({group.group_name}); "
                                  f"{planned.ports_text.replace('authorize', 'authorized')}", lines)
        return group

    def _create_group(self, name: str, vpc: str) -> SecurityGroup:
        tags = [{"ResourceType": "security-group", "Tags": [{"Key": LAUNCH_TAG, "Value": self.launch_id},
                                                            {"Key": "Name", "Value": name}]}]
        params = {"GroupName": name, "Description": f"preflight launch {self.launch_id}", "VpcId": vpc,
                  "TagSpecifications": tags}
        change = Change(fixer="launch", resource=vpc, description=f"create security group {name} in {vpc}",
                        call=Call("ec2", "create_security_group", params, self.region), undo=None,
                        permissions=("ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:CreateTags"))
        journal = self._journal()
        seq = journal.begin(change)
        try:
            resp = call_with_retry(lambda: self.ec2().create_security_group(**params), self.s.retry,
                                   what=f"create security group {name}")
        except botocore.exceptions.BotoCoreError:
            raise  # no answer: the group may exist; the journal keeps the call in doubt (see run())
        except Exception as exc:
            journal.outcome(seq, "failed", error=_code(exc))
            self.stop("group", f"cannot create security group {name} in {vpc}: {_code(exc)}")
        gid = resp["GroupId"]
        journal.outcome(seq, "done", undo=Call("ec2", "delete_security_group", {"GroupId": gid}, self.region))
        return SecurityGroup(id=gid, group_name=name, vpc_id=vpc)

    def _open_ports(self, group: SecurityGroup, subnet: Subnet, source: str) -> list[str]:
        """SG010 on a fresh read of the group, and its fixer: exactly the missing ports, once."""
        plan = dataclasses.replace(self.plan, security_group=group.id, vpc=subnet.vpc_id, source_cidr=source)
        report = self.check(plan, ["SG010"])
        findings = [f for f in report.findings if f.status == "FAIL"]
        fplan = build_plan(findings, report.inventories, plan, self.s.config, {"allow_world": self.s.allow_world},
                           only=[SG_FIXER])
        if fplan.refusals:
            self.stop("group", fplan.refusals[0].reason)
        outcomes = apply_changes(fplan.changes, self.session, self._journal())
        bad = [o for o in outcomes if o.status == "failed"]
        if bad:
            self.stop("group", f"cannot open the ports on {group.id}: {bad[0].error}")
        assert self.record is not None
        for o in outcomes:
            if o.status == "applied":
                self.record.security_group.authorized.append(o.change.to_dict())
        entries = [e for e in self._journal().entries() if e.get("event") == "done" and e.get("undo")]
        self.record.security_group.undo = [e["undo"] for e in entries
                                           if e["undo"]["operation"] == "revoke_security_group_ingress"]
        self._save()
        return [f"[{o.status}] {o.change.description}\n    $ {o.change.cli}" for o in outcomes]

    def _new_record(self, subnet: Subnet, group: SecurityGroup, created: bool) -> LaunchRecord:
        return LaunchRecord(
            launch_id=self.launch_id, region=self.region, state="launching", created_at=_now(),
            account=(self.source.identity or {}).get("account", ""),
            source=f"sandbox:{self.source.target.sandbox}" if self.source.target.sandbox else "aws",
            endpoint_url=getattr(self.session, "endpoint_url", None) or "",
            plan=self.plan.source, name=self.plan.name, vpc=subnet.vpc_id, subnet=subnet.id,
            security_group=GroupRecord(id=group.id, name=group.group_name, created=created),
            fix_journal=self.result.fix_journal, journal=str(self._journal().path))

    # --- stage 5: run instances ----------------------------------------------------------------------

    def run_params(self, subnet: Subnet, group_id: str) -> dict[str, Any]:
        plan = self.plan
        name = f"{plan.name or 'preflight'}-{self.launch_id}"
        tags = [{"Key": LAUNCH_TAG, "Value": self.launch_id}, {"Key": "Name", "Value": name}]
        params: dict[str, Any] = {
            "ImageId": plan.image, "InstanceType": plan.instance_type, "MinCount": plan.count,
            "MaxCount": plan.count, "ClientToken": self.launch_id,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        if plan.public_ip is True:
            params["NetworkInterfaces"] = [{"DeviceIndex": 0, "SubnetId": subnet.id, "Groups": [group_id],
                                            "AssociatePublicIpAddress": True}]
        else:
            params["SubnetId"] = subnet.id
            params["SecurityGroupIds"] = [group_id]
        if plan.key_name:
            params["KeyName"] = plan.key_name
        if plan.instance_profile:
            key = "Arn" if plan.instance_profile.startswith("arn:") else "Name"
            params["IamInstanceProfile"] = {key: plan.instance_profile}
        if plan.spot:
            params["InstanceMarketOptions"] = {"MarketType": "spot"}
        return params

    def plan_run(self, subnet: Subnet, group: SecurityGroup | None) -> StagePlan[Change]:
        plan = self.plan
        params = self.run_params(subnet, group.id if group is not None else "$SG")
        change = Change(fixer="launch", resource=subnet.id,
                        description=f"run {plan.count} x {plan.instance_type} ({plan.image}) in {subnet.id}",
                        call=Call("ec2", "run_instances", params, self.region), undo=None,
                        permissions=("ec2:RunInstances", "ec2:CreateTags", "ec2:TerminateInstances"))
        return StagePlan("run", change, f"would {change.description}, tagged {LAUNCH_TAG}={self.launch_id}",
                         [f"$ {change.cli}"])

    def apply_run(self, change: Change) -> list[str]:
        params = change.call.params
        journal = self._journal()
        seq = journal.begin(change)
        try:
            # ClientToken: a retry after a lost answer returns the same instances, never new ones.
            resp = call_with_retry(lambda: self.ec2().run_instances(**params), self.s.retry,
                                   what="run instances")
        except botocore.exceptions.BotoCoreError:
            raise  # no answer: instances may be starting; in doubt, found by their tag by `down`
        except PreflightError as exc:
            journal.outcome(seq, "failed", error=getattr(exc, "code", ""))
            self.stop("run", str(exc))
        except Exception as exc:
            journal.outcome(seq, "failed", error=_code(exc))
            self.stop("run", f"RunInstances failed: {_code(exc)}: {_message(exc)}")
        ids = [i["InstanceId"] for i in resp["Instances"]]
        journal.outcome(seq, "done", undo=Call("ec2", "terminate_instances", {"InstanceIds": ids}, self.region))
        assert self.record is not None
        self.record.instances = ids
        self._save()
        self.stage("run", "ok", f"{len(ids)} instance(s): {', '.join(ids)}")
        return ids

    # --- stage 6: wait ---------------------------------------------------------------------------

    def plan_wait(self, ids: list[str]) -> StagePlan[list[str]]:
        p = self.s.retry
        return StagePlan("wait", ids, f"would wait until running (NotFound retried {p.attempts} times, "
                                      f"{p.base:g}s base backoff with {p.jitter:g}s jitter)")

    def apply_wait(self, ids: list[str]) -> list[dict[str, Any]]:
        retries: list[str] = []

        def note(n: int, code: str, pause: float) -> None:
            retries.append(f"retry {n}: {code}, waiting {pause:.1f}s")

        try:
            described = wait_until_running(self.ec2(), ids, self.s.retry, timeout=self.s.wait_timeout,
                                           poll=self.s.poll, on_retry=note)
        except PreflightError as exc:
            self.stop("wait", str(exc), retries + [self.takedown_hint()])
        after = f" after {len(retries)} retr{'y' if len(retries) == 1 else 'ies'}" if retries else ""
        self.stage("wait", "ok", f"{len(described)} running{after}", retries)
        return described

    # --- stage 7: replica ports ------------------------------------------------------------------------

    def plan_ports(self, ids: list[str]) -> StagePlan[list[str]] | None:
        """None when the plan has no replicas (the stage is skipped in both modes)."""
        r = self.plan.replicas
        if r is None or r.count < 1:
            return None
        lo, hi = r.port_range
        return StagePlan("ports", ids, f"would reserve {r.count} replica port(s) of {r.service or 'the service'} "
                                       f"in {lo}-{hi} over the {self.plan.count} new instance(s)")

    def apply_ports(self, ids: list[str]) -> None:
        r = self.plan.replicas
        assert r is not None
        lo, hi = r.port_range
        ledger = self.ledger
        assert ledger is not None and self.record is not None
        self.record.ledger = ledger.url
        try:
            if r.ports:
                placed = []
                for i, port in enumerate(r.ports[: r.count]):
                    host = ids[i % len(ids)]
                    if not ledger.reserve(host, port, self.launch_id, service=r.service):
                        self.stop("ports", f"port {port} on {host} is already taken (replica {i}); see PORT001",
                                  [*self._release_ports(ledger)[1],
                                   self.takedown_hint()])
                    placed.append((host, port))
            else:
                placed = allocate_replicas(ledger, self.launch_id, ids, r.count, (lo, hi), service=r.service)
            by_host: dict[str, list[int]] = {}
            for host, port in placed:
                by_host.setdefault(host, []).append(port)
            for host, ports in by_host.items():
                call_with_retry(lambda h=host, p=ports: self.ec2().create_tags(  # type: ignore[misc]
                    Resources=[h], Tags=[{"Key": REPLICA_PORTS_TAG, "Value": format_ports_tag(p)}]),
                    self.s.retry, what="tag replica ports", ids=[host])
            ledger.activate(self.launch_id)
        except PreflightError as exc:
            self.stop("ports", str(exc), [*self._release_ports(ledger)[1],
                                          self.takedown_hint()])
        self.record.replicas = [ReplicaRecord(replica=i, service=r.service, host=h, port=p)
                                for i, (h, p) in enumerate(placed)]
        self._save()
        lines = [f"{h}: {', '.join(str(p) for p in ps)}" for h, ps in by_host.items()] + [f"ledger: {ledger.url}"]
        self.stage("ports", "ok", f"{len(placed)} replica port(s) reserved, no two on one host and port", lines)

    def _release_ports(self, ledger: Ledger) -> tuple[int, list[str]]:
        """Give back what this launch reserved; if the ledger refuses (locked, unreachable), say so
        and how to do it later, rather than let a second error hide the first."""
        try:
            return ledger.release_owner(self.launch_id), []
        except PortsError as exc:
            return 0, [f"could not release this launch's reservations ({exc}); release them with "
                       f"`preflight ports release --owner {self.launch_id}` (or they expire with their lease)"]

    # --- stage 8: verify --------------------------------------------------------------------------

    def plan_verify(self, subnet: Subnet,
                    group: SecurityGroup | None) -> StagePlan[tuple[Subnet, SecurityGroup | None]]:
        return StagePlan("verify", (subnet, group), "would verify: instances running with public IPs, ports open, "
                                                    "network rules clean for the subnet")

    def apply_verify(self, where: tuple[Subnet, SecurityGroup | None]) -> None:
        from preflight.semantics.secgroups import missing_ports

        subnet, group = where

        problems: list[str] = []
        # The launch-blocking rules about the network the instances now sit in (metadata, not ids).
        network = [r.id for r in engine.load_rules().values()
                   if r.meta.blocks_launch and r.meta.scope in ("region", "vpc", "subnet", "group")
                   and not r.meta.opt_in]
        fresh = self.check(dataclasses.replace(self.plan, subnets=(subnet.id,), vpc=subnet.vpc_id,
                                               security_group=group.id if group else ""), network)
        inv = fresh.inventories[0]
        self.cached_scope[id(inv)] = LaunchScope.of(inv, fresh.plan, vpcs={subnet.vpc_id}, subnets={subnet.id})
        by_id = {i.id: i for i in inv.instances}
        ids = self.record.instances if self.record else []
        for iid in ids:
            inst = by_id.get(iid)
            if inst is None or inst.state != "running":
                problems.append(f"{iid} is {inst.state if inst else 'not listed yet'}")
            elif self.wants_public() and not inst.public_ip:
                problems.append(f"{iid} has no public IP")
        groups = {g.id: g for g in inv.security_groups}
        if group is not None and group.id in groups:
            still = missing_ports([groups[group.id]], self.plan.ports, self.plan.source_cidr or "0.0.0.0/0")
            if still:
                problems.append(f"ports {', '.join(map(str, still))} are not open on {group.id}")
        net = [f for f in fresh.blocking() if self.relevant(f, fresh)]
        problems += [f"{f.rule} {f.resource}: {f.message}" for f in net]
        if problems:
            self.stop("verify", f"{len(problems)} problem(s) after launch", problems)
        ips = ", ".join(f"{i}={by_id[i].public_ip or by_id[i].private_ip}" for i in ids if i in by_id)
        ports = ",".join(map(str, self.plan.ports)) or "none"
        self.stage("verify", "ok", f"running, reachable ({ips}); ports {ports} open; network rules clean")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or type(exc).__name__


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", ""))[:200]


def launch(source: Any, plan: Plan, settings: LaunchSettings, progress: Progress | None = None) -> LaunchResult:
    return Pipeline(source, plan, settings, progress).run()
