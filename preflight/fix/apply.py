"""Applying a plan: guards, recover hooks, one journal line before each call, stop at the first failure."""

from __future__ import annotations

from typing import Any

from preflight.errors import PreflightError
from preflight.fix.journal import Journal
from preflight.fix.model import ALREADY, ApplyContext, Change, Outcome
from preflight.semantics.remedies import Call

MAX_ATTEMPTS = 3


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

