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
  resources, like a main route table). `--apply` makes only safe changes and reports the others as
  skipped; `--unsafe-fixes` makes them too. A fixer declares its safety (`@fixer(safety="safe" |
  "unsafe" | "sometimes-unsafe")`, `safe=False` for "unsafe"; every change of an unsafe fixer is
  unsafe) and says why in its docstring's *Fix safety* section, which `preflight fixers` shows.
  Optional hooks, never journalled:
  `guard(actx, change) -> Change | None` runs right before the call on fresh reads and returns the
  change to make (possibly narrowed) or None when there is nothing left to do; it is how every
  fixer stays idempotent when its plan is stale (it may also answer `AlreadyDone(reason)`).
  `recover(actx, change, error) -> ALREADY | AlreadyDone | Change | None` handles a ClientError:
  ALREADY (or `AlreadyDone("why")`) when the desired state now holds (someone else did it, e.g. a
  concurrent run: "already exists and equal" is done, not a failure), a narrowed Change to retry,
  None to fail with the error code, or it raises PreflightError to fail with a clearer message.
  `confirm(actx, change, response) -> AlreadyDone | None` checks the answer before it is journalled
  (an answer that shows the state was someone else's doing is "already").
  `undo_from_response(response) -> Call | None` refines the undo from the call's answer (e.g. the
  new rule ids). `actx.made` lists what this run made so far, `actx.pins` the resources it adopted
  (see fixers/_netfix.py: route tables made by concurrent runs are adopted by tag, not duplicated).
- `apply_changes` refuses the whole plan when it has more changes than `--max-changes`, stops at
  the first failure (later changes are not attempted; re-running `fix --apply` finishes the job
  because plans are computed from the account's current state), and returns one `Outcome` per
  change.

The journal (`Journal`): one JSON object per line in `<state dir>/journal/<run-id>.jsonl` (state
dir: $PREFLIGHT_STATE_DIR, else platformdirs' user state dir; $PREFLIGHT_JOURNAL_DIR names another
directory), mode 0600 in a 0700 directory: it says what exists in an account and how to change it.
Line 1 is `{"event": "run", ...}` with the command, account, region(s) and source. Then for each
call: `{"event": "begin", "seq", "change": {...}}`
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

The package: `model` (Change, Refusal, FixContext, FixPlan, Outcome, ApplyContext, Made, AlreadyDone,
ALREADY),
`registry` (`@fixer`, load_fixers, choose_fixer), `planning` (build_plan), `journal` (Journal,
read_journal), `apply` (apply_changes, error_code), `command` (run_fix, FixRun) and `render`
(render_fix). Every name is re-exported here, so `from preflight.fix import X` is the stable import.
"""

from __future__ import annotations

from preflight.fix.apply import MAX_ATTEMPTS, apply_changes, error_code
from preflight.fix.command import FixRun, run_fix
from preflight.fix.journal import JOURNAL_VERSION, Journal, journal_dir, new_run_id, read_journal, read_journal_lines
from preflight.fix.model import ALREADY, AlreadyDone, ApplyContext, Change, FixContext, FixPlan, Made, Outcome, Refusal
from preflight.fix.planning import build_plan
from preflight.fix.registry import (
                                    Fixer,
                                    FixerMeta,
                                    candidate_fixers,
                                    choose_fixer,
                                    fixable_rule_ids,
                                    fixer,
                                    fixers_for,
                                    load_fixers,
)
from preflight.fix.render import render_fix

# One Call for rules, fixers, journals and `path`: defined with the remedies (pure, no AWS).
from preflight.semantics.remedies import Call, aws_cli

__all__ = [
    "ALREADY", "JOURNAL_VERSION", "MAX_ATTEMPTS", "AlreadyDone", "ApplyContext", "Call", "Change", "FixContext",
    "FixPlan", "FixRun", "Fixer", "FixerMeta", "Journal", "Made", "Outcome", "Refusal", "apply_changes", "aws_cli",
    "build_plan", "candidate_fixers", "choose_fixer", "error_code", "fixable_rule_ids", "fixer", "fixers_for",
    "journal_dir", "load_fixers",
    "new_run_id", "read_journal", "read_journal_lines", "render_fix", "run_fix",
]
