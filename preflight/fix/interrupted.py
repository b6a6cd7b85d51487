"""Telling the truth when a write path stops half-way (issue 16, items 16 and 17).

SIGINT, SIGTERM, an endpoint that goes away, a ledger that stays locked or any other exception
during `fix --apply` or `launch --apply` used to end with "preflight: interrupted" (exit 130) or
"cannot reach the EC2 endpoint" (exit 2, documented as "nothing changed") although changes had
been made. A write path wraps its changing part in `reporting_changes(...)`: if the part stops with
any exception after something was changed, the exception becomes `ChangesInterrupted` (exit 1),
whose lines say what changed (read back from the journals, which are written before each call),
what is in doubt, the journal paths, the launch id and the exact `preflight undo`/`preflight down`
commands. Nothing changed: the original exception goes on untouched (exit 130 / 2 as before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from preflight.errors import PreflightError, Terminated


class ChangesInterrupted(PreflightError):
    """A write path stopped after changing something: exit 1 (never 2: the account did change)."""

    exit_code = 1

    def __init__(self, cause: str, lines: list[str]) -> None:
        super().__init__(cause)
        self.cause = cause
        self.lines = lines


@dataclass
class Written:
    """What a run has written so far, for the report: filled in as the run goes."""

    journals: list[Path] = field(default_factory=list)  # fix journals: `preflight undo` each
    launch_journal: Path | None = None  # the launch's own changes: listed, taken back by `preflight down`
    launch_id: str = ""  # set once the launch starts changing things: `preflight down` it
    sandbox: bool = False  # the in-process sandbox account ends with the command


def cause_of(exc: BaseException, endpoint: str = "") -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT)"
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)"
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.BotoCoreError):
        from preflight.collect.aws import endpoint_problem

        problem = endpoint_problem(exc, endpoint)
        return f"stopped: {problem or exc}"
    if isinstance(exc, PreflightError):
        return f"stopped: {exc}"
    return f"stopped by an unexpected error: {type(exc).__name__}: {exc}"


def journal_changes(path: Path) -> tuple[list[str], list[str]]:
    """(changes made, changes in doubt) recorded in a journal, oldest first; ([], []) when the
    journal was never written or cannot be read (the report must not fail in its turn)."""
    from preflight.undo import plan_undo

    if not path.exists():
        return [], []
    try:
        steps = list(reversed(plan_undo(path).steps))
    except PreflightError:
        return [f"(the journal {path} could not be read back: see it for what changed)"], []
    return [s.description for s in steps if not s.in_doubt], [s.description for s in steps if s.in_doubt]


def report(written: Written, cause: str) -> ChangesInterrupted | None:
    done: list[str] = []
    doubt: list[str] = []
    for j in [*written.journals, *([written.launch_journal] if written.launch_journal else [])]:
        d, q = journal_changes(j)
        done += d
        doubt += q
    if not done and not doubt and not written.launch_id:
        return None
    lines = [f"preflight: {cause}",
             f"{len(done)} change(s) made" + (f", {len(doubt)} in doubt" if doubt else "") + " before it stopped:"]
    lines += [f"  changed: {d}" for d in done]
    lines += [f"  in doubt (the call was under way; it may or may not have happened): {d}" for d in doubt]
    lines += [f"journal: {j}" for j in written.journals if j.exists()]
    if written.launch_journal is not None and written.launch_journal.exists():
        lines.append(f"launch journal: {written.launch_journal}")
    if written.launch_id:
        lines.append(f"launch id: {written.launch_id}")
    if written.sandbox:
        lines.append("nothing to take back: the sandbox account ended with the command")
        return ChangesInterrupted(cause, lines)
    if written.launch_id:
        lines.append(f"take the launch down: preflight down {written.launch_id}")
    for j in written.journals:
        if j.exists():
            lines.append(f"undo the fixes: preflight undo {j}")
    return ChangesInterrupted(cause, lines)


@contextmanager
def reporting_changes(written: Written, endpoint: str = "",
                      before_report: Callable[[BaseException], None] | None = None) -> Iterator[Written]:
    """Turn any exception escaping the block into ChangesInterrupted once something was written."""
    try:
        yield written
    except ChangesInterrupted:
        raise
    except BaseException as exc:
        out = report(written, cause_of(exc, endpoint))
        if out is None:
            raise
        if before_report is not None:
            before_report(exc)
        raise out from None
