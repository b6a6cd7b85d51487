"""Applying a plan: guards, recover and confirm hooks, one journal line before each call, stop at the
first failure."""

from __future__ import annotations

from typing import Any

from preflight.errors import PreflightError
from preflight.fix.journal import Journal
from preflight.fix.model import AlreadyDone, ApplyContext, Change, Made, Outcome
from preflight.semantics.remedies import Call

MAX_ATTEMPTS = 3


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or type(exc).__name__


def _invoke(actx: ApplyContext, call: Call) -> dict[str, Any]:
    client = actx.client(call.service, call.region)
    return getattr(client, call.operation)(**call.params)


def _already(answer: AlreadyDone, code: str = "") -> str:
    """The text beside an "already" outcome: the error code that said so, and why it is done."""
    return ": ".join(x for x in (code, answer.reason) if x)


def apply_changes(changes: list[Change], session: Any, journal: Journal, *,
                  max_changes: int | None = None) -> list[Outcome]:
    """Make the changes in order, journalling each call first; stop at the first failure."""
    if max_changes is not None and len(changes) > max_changes:
        raise PreflightError(
            f"the fix plan has {len(changes)} changes, more than --max-changes {max_changes}; nothing was changed "
            "(narrow it with --select, or raise --max-changes)")
    import botocore.exceptions

    actx = ApplyContext(session, journal)
    outcomes: list[Outcome] = []
    failed = False
    for change in changes:
        if failed:
            outcomes.append(Outcome(change, "not-attempted"))
            continue
        guarded: Change | AlreadyDone | None = change
        if change.guard is not None:
            try:
                guarded = change.guard(actx, change)
            except botocore.exceptions.ClientError as exc:
                outcomes.append(Outcome(change, "failed", f"re-reading before the change: {error_code(exc)}"))
                failed = True
                continue
            except PreflightError as exc:  # e.g. a resource an earlier step made is gone: stop, keep the outcomes
                outcomes.append(Outcome(change, "failed", str(exc)))
                failed = True
                continue
        if guarded is None or isinstance(guarded, AlreadyDone):
            outcomes.append(Outcome(change, "already", _already(guarded) if guarded else ""))
            continue
        current: Change = guarded
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
                answer: Any = None
                if current.recover is not None:
                    try:
                        answer = current.recover(actx, current, exc)
                    except botocore.exceptions.ClientError as inner:
                        code = f"{code}, then {error_code(inner)} while re-reading"
                    except PreflightError as why:  # a real conflict, said in words
                        code = f"{code}: {why}"
                if isinstance(answer, AlreadyDone):
                    journal.outcome(seq, "already", error=_already(answer, code))
                    outcome = Outcome(current, "already", _already(answer, code), seq)
                    break
                if isinstance(answer, Change):
                    journal.outcome(seq, "retry", error=code)
                    current = answer
                    continue
                journal.outcome(seq, "failed", error=code)
                outcome = Outcome(current, "failed", code, seq)
                break
            outcome = _answered(actx, journal, current, seq, response)
            break
        if outcome is None:
            outcome = Outcome(current, "failed", f"still conflicting after {MAX_ATTEMPTS} attempts")
        outcomes.append(outcome)
        failed = outcome.status == "failed"
    for o in outcomes:  # a later step took it back (its table lost the race): say so, not "applied"
        if o.status == "applied" and o.seq in actx.withdrawn:
            o.status, o.error = "withdrawn", actx.withdrawn[o.seq]
    return outcomes


def _answered(actx: ApplyContext, journal: Journal, current: Change, seq: int, response: dict[str, Any]) -> Outcome:
    """The outcome of a call that answered: confirmed (or not) as ours, journalled."""
    import botocore.exceptions

    verdict: AlreadyDone | None = None
    if current.confirm is not None:
        try:
            verdict = current.confirm(actx, current, response)
        except botocore.exceptions.ClientError:
            verdict = None  # the call said it succeeded and the re-read could not say otherwise: ours
        except PreflightError as exc:  # the answer was not our doing, and the state is not what we wanted
            journal.outcome(seq, "failed", error=str(exc))
            return Outcome(current, "failed", str(exc), seq)
    if verdict is not None:
        journal.outcome(seq, "already", error=_already(verdict))
        return Outcome(current, "already", _already(verdict), seq)
    undo = current.undo
    if current.undo_from_response is not None:
        undo = current.undo_from_response(response) or current.undo
    journal.outcome(seq, "done", undo=undo)
    actx.made.append(Made(seq, current, response))
    return Outcome(current, "applied", "", seq)
