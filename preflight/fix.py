"""Fixers: turn findings into a plan of AWS calls, show it, apply it only when asked, journal it.

Flow of `preflight fix`: check -> `build_plan(findings)` -> `show` (dry run, the default) ->
with `--apply`: `apply_changes` (journal line written BEFORE each call) -> re-check -> report.

The contract for fixer authors (security-group fixers here; network fixers, `preflight undo` and
`preflight launch` build on it):

- A fixer is a function registered with
  `@fixer(id="sg-open-missing-ports", fixes=("SG010",), permissions=("ec2:Authorize…",), summary=…)`
  in a module of the top-level `fixers` package, or in a plugin module named by an entry point
  of the group `preflight.fixers`. It receives `(ctx: FixContext, findings: list[Finding])` — the
  FAIL findings of one region whose rule is in `fixes` — and yields `Change`s (and `Refusal`s for
  what it will not do without a flag, such as opening an admin port to the world without
  `--allow-world`). It never calls AWS while planning: it reads `ctx.inventory` and `ctx.plan`.
- A `Change` is plain data: `description` (for humans), `call` (a `Call`: service, boto3
  operation, params, region), `cli` (the AWS CLI equivalent, derived from `call`), `undo` (the
  `Call` that reverses it, or None when nothing can), `permissions` (IAM actions the call needs),
  `before` (the previous value, JSON-able), and `safe` (False for changes touching shared
  resources, like a main route table). Optional hooks, never journalled:
  `guard(actx, change) -> Change | None` runs right before the call on fresh reads and returns the
  change to make (possibly narrowed) or None when there is nothing left to do; it is how every
  fixer stays idempotent when its plan is stale. `recover(actx, change, error) -> ALREADY | Change
  | None` handles a ClientError: ALREADY when the desired state now holds (someone else did it),
  a narrowed Change to retry, None to fail. `undo_from_response(response) -> Call | None` refines
  the undo from the call's answer (e.g. the new rule ids).
- `apply_changes` refuses the whole plan when it has more changes than `--max-changes`, stops at
  the first failure (later changes are not attempted; re-running `fix --apply` finishes the job
  because plans are computed from the account's current state), and returns one `Outcome` per
  change.

The journal (`Journal`): one JSON object per line in `<state dir>/journal/<run-id>.jsonl` (state
dir: $PREFLIGHT_STATE_DIR, else platformdirs' user state dir; $PREFLIGHT_JOURNAL_DIR names another
directory), mode 0600 in a 0700 directory: it says what exists in an account and how to change it.
Line 1 is `{"event": "run", ...}` with the command,
account, region(s) and source. Then for each call: `{"event": "begin", "seq", "change": {...}}`
written and fsynced BEFORE the call, followed by exactly one of `done` (with the final `undo`),
`already` (nothing changed by us, `undo` null), `retry` (the call conflicted and changed nothing;
a narrowed `begin` with the next `seq` follows) or `failed` (with the error code). An undo tool
reverses the `done` entries in reverse `seq` order; a `begin` with no outcome (the process died
during the call) is "in doubt": its planned undo may be tried, tolerating NotFound answers.
Journals never hold credentials; params are EC2 resource ids, CIDRs and ports.

Adding a fixer (e.g. issue 6's route-add-default): write `fixers/route_add_default.py` with
`@fixer(id="route-add-default", fixes=("NET002",), permissions=(...))`, name it in the rule's
`fixer=`, yield one `Change` per call with its `undo` (`delete_route` for `create_route`), mark
changes to shared resources `safe=False`, and give it a `guard` that re-reads the resource so a
second `--apply` is a no-op. `preflight fix` picks it up with no CLI change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight import engine
from preflight.engine import Finding
from preflight.semantics.remedies import Call, aws_cli, render  # noqa: F401  (Call, aws_cli re-exported)
from preflight.errors import PreflightError

JOURNAL_VERSION = 1
MAX_ATTEMPTS = 3


# --- calls and changes --------------------------------------------------------------------------

# One Call for rules, fixers, journals and `path`: defined with the remedies (pure, no AWS).
__all__ = ["Call", "aws_cli"]


class _Already:
    def __repr__(self) -> str:
        return "ALREADY"


ALREADY = _Already()  # recover()/guard answer: the desired state holds, nothing changed by us


@dataclass(frozen=True)
class Change:
    fixer: str
    resource: str
    description: str
    call: Call
    undo: Call | None
    permissions: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()  # rule ids whose findings this change fixes
    before: Any = None
    safe: bool = True
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # fixer-private, never journalled
    guard: Callable[[ApplyContext, Change], Change | None] | None = field(default=None, compare=False, repr=False)
    recover: Callable[[ApplyContext, Change, Exception], Any] | None = field(default=None, compare=False, repr=False)
    undo_from_response: Callable[[dict[str, Any]], Call | None] | None = field(default=None, compare=False,
                                                                                repr=False)

    @property
    def cli(self) -> str:
        return render(self.call, str(self.data.get("produces") or ""))

    def key(self) -> str:
        """What the change does, once its placeholders resolve: `$RTB` stands for the table made for
        one subnet, so `create-route --route-table-id $RTB` for subnet-1 and for subnet-2 are two
        changes, while two findings asking for the very same call are one."""
        refs = self.data.get("refs") or {}
        params = _resolved_identity(self.call.params, refs)
        return json.dumps([self.call.service, self.call.operation, self.call.region, params], sort_keys=True,
                          default=str)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixer": self.fixer, "resource": self.resource, "description": self.description,
            "rules": list(self.rules), "cli": self.cli, "call": self.call.to_dict(),
            "undo": self.undo.to_dict() if self.undo else None, "permissions": list(self.permissions),
            "before": self.before, "safe": self.safe,
        }


def _resolved_identity(value: Any, refs: dict[str, Any]) -> Any:
    """`value` with each placeholder replaced by what identifies the resource it will stand for."""
    if isinstance(value, str) and value in refs:
        return {"placeholder": value, "for": refs[value]}
    if isinstance(value, dict):
        return {k: _resolved_identity(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved_identity(v, refs) for v in value]
    return value


@dataclass(frozen=True)
class Refusal:
    """Something a fixer will not do as asked, and the flag or action that would allow it."""

    fixer: str
    resource: str
    reason: str
    rules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"fixer": self.fixer, "resource": self.resource, "reason": self.reason, "rules": list(self.rules)}


# --- registry -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixerMeta:
    id: str
    fixes: tuple[str, ...]
    permissions: tuple[str, ...]
    summary: str
    safe: bool = True
    doc: str = ""
    module: str = ""


@dataclass(frozen=True)
class Fixer:
    meta: FixerMeta
    plan: Callable[[FixContext, list[Finding]], Iterable[Change | Refusal]]

    @property
    def id(self) -> str:
        return self.meta.id


_FIXERS: dict[str, Fixer] = {}


def fixer(*, id: str, fixes: Iterable[str], permissions: Iterable[str] = (), summary: str = "",
          safe: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a fixer: `def plan(ctx: FixContext, findings) -> Iterable[Change | Refusal]`."""

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        meta = FixerMeta(id=id, fixes=tuple(fixes), permissions=tuple(permissions), summary=summary,
                         safe=safe, doc=(func.__doc__ or "").strip(), module=func.__module__)
        existing = _FIXERS.get(id)
        if existing is not None and existing.meta.module != meta.module:
            raise ValueError(f"fixer id {id} registered twice ({existing.meta.module}, {meta.module})")
        _FIXERS[id] = Fixer(meta, func)
        return func

    return deco


_LOADED = False


def load_fixers() -> dict[str, Fixer]:
    """Import built-in fixers and `preflight.fixers` entry-point plugins once."""
    global _LOADED
    if not _LOADED:
        from preflight.plugins import import_all

        import_all("preflight.fixers", "preflight.fixers", "fixer")
        # a rule naming a fixer that does not fix it (or a fixer fixing an unknown rule) is a bug
        engine.check_fixers(engine.load_rules(), {f.meta.id: f.meta.fixes for f in _FIXERS.values()})
        _LOADED = True
    return dict(sorted(_FIXERS.items()))


def fixers_for(rule_id: str) -> list[Fixer]:
    return [f for f in load_fixers().values() if rule_id in f.meta.fixes]


# --- planning -------------------------------------------------------------------------------------

@dataclass
class FixContext:
    """What a fixer sees while planning: one region's inventory, the plan, config and flags."""

    inventory: Any
    plan: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # allow_world, ... (CLI flags)

    @property
    def region(self) -> str:
        return self.inventory.region

    def option(self, key: str, default: Any = None) -> Any:
        if key in self.options:
            return self.options[key]
        return self.config.get(key, default)


@dataclass
class FixPlan:
    changes: list[Change] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    unfixable: list[Finding] = field(default_factory=list)  # FAIL findings no fixer handles
    targeted: list[Finding] = field(default_factory=list)  # findings some fixer was asked to fix

    @property
    def permissions(self) -> list[str]:
        return sorted({p for c in self.changes for p in c.permissions})

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [c.to_dict() for c in self.changes],
            "refusals": [r.to_dict() for r in self.refusals],
            "permissions": self.permissions,
            "unfixable": [f.to_dict() for f in self.unfixable],
        }


def choose_fixer(finding: Finding) -> Fixer | None:
    registry = load_fixers()
    if finding.fix and finding.fix.fixer and finding.fix.fixer in registry:
        chosen = registry[finding.fix.fixer]
        if finding.rule in chosen.meta.fixes:
            return chosen
    candidates = fixers_for(finding.rule)
    return candidates[0] if candidates else None


def build_plan(findings: Iterable[Finding], inventories: Iterable[Any], plan: Any = None,
               config: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
               only: Iterable[str] = ()) -> FixPlan:
    """Ask each fixer for the changes that fix its findings, region by region. No AWS calls."""
    only = set(only)
    out = FixPlan()
    by_region = {inv.region: inv for inv in inventories}
    work: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.status != "FAIL":
            continue
        fx = choose_fixer(f)
        if fx is None or (only and fx.id not in only):
            out.unfixable.append(f)
            continue
        out.targeted.append(f)
        work.setdefault((f.region, fx.id), []).append(f)
    registry = load_fixers()
    seen: set[str] = set()
    for (region, fixer_id), group in sorted(work.items()):
        inv = by_region.get(region)
        if inv is None:
            continue
        ctx = FixContext(inventory=inv, plan=plan, config=dict(config or {}), options=dict(options or {}))
        for item in registry[fixer_id].plan(ctx, group) or ():
            if isinstance(item, Refusal):
                out.refusals.append(item)
                continue
            key = item.key()
            if key not in seen:  # two findings asking for the very same change get one
                seen.add(key)
                out.changes.append(item)
    return out


# --- journal --------------------------------------------------------------------------------------

def journal_dir() -> Path:
    """$PREFLIGHT_JOURNAL_DIR, else the `journal` directory of preflight's state dir (which follows
    $PREFLIGHT_STATE_DIR, like the port ledger and the launch records)."""
    override = os.environ.get("PREFLIGHT_JOURNAL_DIR")
    if override:
        return Path(override)
    from preflight.ports import state_dir

    return state_dir() / "journal"


def new_run_id() -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(3)}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class Journal:
    """Append-only JSON lines, flushed and fsynced line by line (see the module docstring)."""

    def __init__(self, run_id: str | None = None, directory: Path | str | None = None,
                 header: dict[str, Any] | None = None) -> None:
        self.run_id = run_id or new_run_id()
        # preflight's own directory (not one the caller or $PREFLIGHT_JOURNAL_DIR named) is tightened
        # to 0700 even if an older version left it 0755; a named one is only created private.
        self._own = directory is None and not os.environ.get("PREFLIGHT_JOURNAL_DIR")
        self.directory = Path(directory) if directory else journal_dir()
        self.path = self.directory / f"{self.run_id}.jsonl"
        self._seq = 0
        self._header = header or {}
        self._opened = False

    def _open(self) -> None:
        if self._opened:
            return
        from preflight.ports import private_dir, state_dir

        try:
            if self._own:
                private_dir(state_dir(), tighten=True)
            private_dir(self.directory, tighten=self._own)
        except OSError as exc:
            raise PreflightError(f"cannot create the journal directory {self.directory}: {exc.strerror}") from None
        self._opened = True
        self._append({"event": "run", "run": self.run_id, "time": _now(), "version": JOURNAL_VERSION,
                      **self._header})

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # 0600 whatever the umask
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def begin(self, change: Change) -> int:
        self._open()
        self._seq += 1
        self._append({"event": "begin", "run": self.run_id, "seq": self._seq, "time": _now(),
                      "change": change.to_dict()})
        return self._seq

    def outcome(self, seq: int, event: str, undo: Call | None = None, error: str = "",
                result: dict[str, Any] | None = None) -> None:
        self._append({"event": event, "run": self.run_id, "seq": seq, "time": _now(),
                      "undo": undo.to_dict() if undo else None, "error": error, "result": result or {}})


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    return read_journal_lines(path)[0]


def read_journal_lines(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """(entries, number of a torn last line or 0). A crash while writing leaves the last line cut
    short: that line alone is dropped (what it recorded is in doubt); damage anywhere else is bad
    input."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise PreflightError(f"journal not found: {p}") from None
    except UnicodeDecodeError:
        raise PreflightError(f"{p}: not a preflight journal (not UTF-8 text)") from None
    except OSError as exc:
        raise PreflightError(f"cannot read the journal {p}: {exc.strerror or exc}") from None
    out = []
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    torn = 0
    for i, (n, line) in enumerate(numbered):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            following = numbered[i + 1][1] if i + 1 < len(numbered) else ""
            # The last line, or one `undo` closed with a {"event": "torn"} marker before appending.
            if n > 1 and not torn and (not following or following.startswith('{"event": "torn"')):
                torn = n
                continue
            raise PreflightError(f"{p}:{n}: not a JSON line (the journal is damaged)") from None
        if not isinstance(entry, dict):
            raise PreflightError(f"{p}:{n}: not a JSON object (the journal is damaged)")
        if entry.get("event") == "torn":
            continue
        out.append(entry)
    return out, torn


# --- applying -------------------------------------------------------------------------------------

class ApplyContext:
    """What guards and recover hooks may use while applying: counted clients of the session."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def client(self, service: str, region: str) -> Any:
        return self.session.client(service, region)


@dataclass
class Outcome:
    change: Change
    status: str  # applied | already | failed | not-attempted
    error: str = ""
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "change": self.change.to_dict()}


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or type(exc).__name__


def _invoke(actx: ApplyContext, call: Call) -> dict[str, Any]:
    client = actx.client(call.service, call.region)
    return getattr(client, call.operation)(**call.params)


def apply_changes(changes: list[Change], session: Any, journal: Journal, *,
                  max_changes: int | None = None) -> list[Outcome]:
    """Make the changes in order, journalling each call first; stop at the first failure."""
    if max_changes is not None and len(changes) > max_changes:
        raise PreflightError(
            f"the fix plan has {len(changes)} changes, more than --max-changes {max_changes}; nothing was changed "
            "(narrow it with --select, or raise --max-changes)")
    import botocore.exceptions

    actx = ApplyContext(session)
    outcomes: list[Outcome] = []
    failed = False
    for change in changes:
        if failed:
            outcomes.append(Outcome(change, "not-attempted"))
            continue
        current: Change | None = change
        if change.guard is not None:
            try:
                current = change.guard(actx, change)
            except botocore.exceptions.ClientError as exc:
                outcomes.append(Outcome(change, "failed", f"re-reading before the change: {error_code(exc)}"))
                failed = True
                continue
            except PreflightError as exc:  # e.g. a resource an earlier step made is gone: stop, keep the outcomes
                outcomes.append(Outcome(change, "failed", str(exc)))
                failed = True
                continue
        if current is None:
            outcomes.append(Outcome(change, "already"))
            continue
        outcome: Outcome | None = None
        for _ in range(MAX_ATTEMPTS):
            seq = journal.begin(current)
            try:
                response = _invoke(actx, current.call)
            except botocore.exceptions.BotoCoreError as exc:
                # No answer (connection lost, timeout...): the call may or may not have happened, so the
                # journal keeps its `begin` without an outcome (in doubt, see the module docstring).
                outcome = Outcome(current, "failed", f"{type(exc).__name__}: {exc}; in doubt (see the journal)", seq)
                break
            except botocore.exceptions.ClientError as exc:
                code = error_code(exc)
                answer = None
                if current.recover is not None:
                    try:
                        answer = current.recover(actx, current, exc)
                    except botocore.exceptions.ClientError as inner:
                        code = f"{code}, then {error_code(inner)} while re-reading"
                if answer is ALREADY:
                    journal.outcome(seq, "already", error=code)
                    outcome = Outcome(current, "already", code, seq)
                    break
                if isinstance(answer, Change):
                    journal.outcome(seq, "retry", error=code)
                    current = answer
                    continue
                journal.outcome(seq, "failed", error=code)
                outcome = Outcome(current, "failed", code, seq)
                break
            undo = current.undo
            if current.undo_from_response is not None:
                undo = current.undo_from_response(response) or current.undo
            journal.outcome(seq, "done", undo=undo)
            outcome = Outcome(current, "applied", "", seq)
            break
        if outcome is None:
            outcome = Outcome(current, "failed", f"still conflicting after {MAX_ATTEMPTS} attempts")
        outcomes.append(outcome)
        failed = outcome.status == "failed"
    return outcomes


# --- the `preflight fix` command's core (the CLI only parses flags and calls this) --------------

@dataclass
class FixRun:
    mode: str  # "dry-run" | "apply"
    fix_plan: FixPlan
    outcomes: list[Outcome] = field(default_factory=list)
    journal: str = ""
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    unknown: list[Finding] = field(default_factory=list)  # could not be evaluated (unreadable data)

    def exit_code(self) -> int:
        """Dry run: 0 nothing to change, 1 changes or refusals pending. Apply: 0 every targeted
        finding is gone on the re-check and nothing failed, else 1. Either way 3 instead of 0 when
        something could not be evaluated (never a silent "nothing to fix")."""
        if self.mode == "dry-run":
            if self.fix_plan.changes or self.fix_plan.refusals:
                return 1
        elif any(o.status == "failed" for o in self.outcomes) or self.remaining:
            return 1
        return 3 if self.unknown else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "preflight-fix/v1", "mode": self.mode, "regions": self.regions,
            **self.fix_plan.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes], "journal": self.journal,
            "recheck": {"fixed": [f.to_dict() for f in self.fixed], "remaining": [f.to_dict() for f in self.remaining]},
            "unknown": [f.to_dict() for f in self.unknown],
            "exit_code": self.exit_code(),
        }


def fixable_rule_ids() -> set[str]:
    return {rid for f in load_fixers().values() for rid in f.meta.fixes}


def _validate_plan_group(inventories: list[Any], plan: Any) -> None:
    """A --security-group / plan group that does not exist is bad input for `fix` (exit 2)."""
    from preflight.semantics.secgroups import plan_group_ref, resolve_group

    refs = [(inv, plan_group_ref(plan, inv.region)) for inv in inventories]
    refs = [(inv, ref) for inv, ref in refs if ref]
    if not refs:
        return
    ref = refs[0][1]
    vpc = getattr(plan, "vpc", "")
    if not any(resolve_group(inv.security_groups, ref, vpc) for inv, _ in refs):
        where = f" in {vpc}" if vpc else ""
        regions = ", ".join(inv.region for inv, _ in refs)
        raise PreflightError(f"security group {ref!r} not found{where} in {regions}: check --security-group or the "
                             "plan's security_group (nothing was changed)")


def run_fix(source: Any, plan: Any, select: list[str], ignore: list[str], *, apply: bool = False,
            options: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
            max_changes: int | None = None, only: Iterable[str] = (), command: str = "") -> FixRun:
    """check -> plan -> (apply with journal -> re-check). `source` is a runner.Source kept open."""
    from preflight import engine

    if max_changes is not None and max_changes < 0:
        raise PreflightError(f"--max-changes: must be 0 or more, got {max_changes}")
    if apply and getattr(source.target, "snapshot", None):
        raise PreflightError("--apply needs a live account or --sandbox, not --snapshot (a snapshot cannot change)")
    registry = load_fixers()
    unknown = [f for f in only if f not in registry]
    if unknown:
        raise PreflightError(f"unknown fixer {unknown[0]!r} (known: {', '.join(registry)})")
    all_rules = engine.load_rules()
    chosen = engine.select_rules(all_rules, select, ignore)
    fixable = fixable_rule_ids()
    rule_ids = [r.id for r in chosen if r.id in fixable]
    if not rule_ids:
        raise PreflightError("no selected rule has a fixer (fixable: " + ", ".join(sorted(fixable)) + ")")

    def check() -> engine.Report:
        rules = [all_rules[rid] for rid in rule_ids]
        needs = set().union(*(r.meta.needs for r in rules))
        inventories = source.collect(needs, plan)
        return engine.run(inventories, rules, plan, config, getattr(source.target, "settings", None))

    report = check()
    _validate_plan_group(report.inventories, plan)
    fplan = build_plan(report.findings, report.inventories, plan, config, options, only)
    regions = [inv.region for inv in report.inventories]
    run = FixRun(mode="apply" if apply else "dry-run", fix_plan=fplan, regions=regions,
                 unknown=[f for f in report.findings if f.status == "UNKNOWN"])
    if not apply:
        return run
    header = {"command": command, "regions": regions, "account": report.inventories[0].account if report.inventories
              else "", "source": report.inventories[0].source if report.inventories else ""}
    journal = Journal(header=header)
    from preflight.interrupted import Written, reporting_changes

    # A signal, the endpoint going away or any error from here on, once something changed, ends
    # with the list of changes, the journal and the undo command (exit 1), never "nothing changed".
    written = Written(journals=[journal.path], sandbox=bool(getattr(source.target, "sandbox", None)))
    with reporting_changes(written, getattr(source.session, "endpoint_url", None) or ""):
        run.outcomes = apply_changes(fplan.changes, source.session, journal, max_changes=max_changes)
        run.journal = str(journal.path) if journal._opened else ""
        after = check()
    run.unknown = [f for f in after.findings if f.status == "UNKNOWN"]
    still = {f.key() for f in after.findings if f.status == "FAIL"}
    run.fixed = [f for f in fplan.targeted if f.key() not in still]
    run.remaining = [f for f in after.findings if f.status == "FAIL" and f.rule in fixable
                     and (not only or (choose_fixer(f) is not None and choose_fixer(f).id in set(only)))]
    return run


_MARK = {"applied": "applied", "already": "already ok", "failed": "FAILED", "not-attempted": "not attempted"}


def render_fix(run: FixRun, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(run.to_dict(), indent=2, sort_keys=False, default=str) + "\n"
    p = run.fix_plan
    lines: list[str] = []
    if run.mode == "dry-run":
        lines.append(f"preflight fix: {len(p.changes)} change(s) planned in {', '.join(run.regions)} "
                     "(dry run, nothing changed; add --apply to make them)")
    else:
        lines.append(f"preflight fix --apply: {len(p.changes)} change(s) in {', '.join(run.regions)}")
    lines.append("")
    status = {id(o.change): o for o in run.outcomes}
    for n, c in enumerate(p.changes, 1):
        outcome = run.outcomes[n - 1] if run.mode == "apply" and n <= len(run.outcomes) else status.get(id(c))
        if outcome is not None:
            c = outcome.change  # a guard may have narrowed it to what was really missing
        tag = f"[{_MARK.get(outcome.status, outcome.status)}] " if outcome else ""
        err = f" ({outcome.error})" if outcome and outcome.error else ""
        lines.append(f"{n}. {tag}{c.description}{err}")
        lines.append(f"   fixes {', '.join(c.rules)} with {c.fixer}{'' if c.safe else ' (UNSAFE: shared resource)'}")
        lines.append(f"   $ {c.cli}")
        if c.undo:
            lines.append(f"   undo: {c.undo.cli()}")
    if not p.changes:
        lines.append("nothing to change.")
    if p.refusals:
        lines += ["", "Refused:"]
        lines += [f"  - {r.resource}: {r.reason}" for r in p.refusals]
    if p.changes:
        lines += ["", f"Permissions needed: {', '.join(p.permissions)}"]
    if p.unfixable:
        shown = ", ".join(f"{f.rule} {f.resource}" for f in p.unfixable[:8])
        more = f" and {len(p.unfixable) - 8} more" if len(p.unfixable) > 8 else ""
        lines += ["", f"Not handled by the fixers run: {len(p.unfixable)} finding(s): {shown}{more} "
                      "(see preflight check)"]
    if run.unknown:
        lines += ["", f"Could not evaluate {len(run.unknown)} check(s), so this is not a clean bill:"]
        lines += [f"  - {f.rule} {f.resource}: {f.message}" for f in run.unknown[:8]]
    if run.mode == "apply":
        lines.append("")
        if run.journal:
            lines.append(f"Journal: {run.journal}")
        fixed = ", ".join(f"{f.rule} {f.resource}" for f in run.fixed) or "none"
        remaining = ", ".join(f"{f.rule} {f.resource}" for f in run.remaining) or "none"
        lines.append(f"Re-check: fixed {fixed}; remaining {remaining}")
    return "\n".join(lines) + "\n"
