"""The fix model: plain data that fixers yield and the apply loop, journal and renderers read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from preflight.engine import Finding
from preflight.semantics.remedies import Call, render


@dataclass(frozen=True)
class AlreadyDone:
    """A guard, recover or confirm answer: the desired state holds and nothing was changed by us
    (`reason`, shown beside the outcome, says who did it, e.g. a concurrent run)."""

    reason: str = ""

    def __repr__(self) -> str:
        return f"AlreadyDone({self.reason!r})" if self.reason else "ALREADY"


ALREADY = AlreadyDone()  # recover()/guard answer: the desired state holds, nothing changed by us


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
    guard: Callable[[ApplyContext, Change], Change | AlreadyDone | None] | None = field(default=None, compare=False,
                                                                                       repr=False)
    recover: Callable[[ApplyContext, Change, Exception], Any] | None = field(default=None, compare=False, repr=False)
    undo_from_response: Callable[[dict[str, Any]], Call | None] | None = field(default=None, compare=False,
                                                                                repr=False)
    # Runs after the call answered, before its outcome is journalled: AlreadyDone when the answer shows
    # the state was someone else's doing (e.g. moto answers AssociateRouteTable for a subnet that is
    # already associated with the existing association's id instead of Resource.AlreadyAssociated);
    # None when the call did what it says; a PreflightError fails the change.
    confirm: Callable[[ApplyContext, Change, dict[str, Any]], AlreadyDone | None] | None = field(
        default=None, compare=False, repr=False)

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



@dataclass(frozen=True)
class Made:
    """A change this run made (journalled `done` as `seq`) and the call's answer."""

    seq: int
    change: Change
    response: dict[str, Any]


class ApplyContext:
    """What guards, recover and confirm hooks may use while applying one plan: clients of the
    session, what this run has made so far (`made`), the resources it chose to adopt for a
    placeholder (`pins`), and the journal, to record that the run reversed something itself."""

    def __init__(self, session: Any, journal: Any = None) -> None:
        self.session = session
        self.journal = journal
        self.made: list[Made] = []
        self.pins: dict[str, str] = {}
        # journal seq -> why: changes this run made and then reversed itself (see `withdraw`)
        self.withdrawn: dict[int, str] = {}

    def withdraw(self, seq: int, reason: str) -> None:
        """This run reversed its own change `seq` (e.g. deleted the route table it made once a
        concurrent run's won, and the routes in it): journalled `undone`, so `preflight undo` leaves
        it be, and its outcome says "withdrawn", not "applied" for something no longer there."""
        if self.journal is not None:
            self.journal.undone(seq, reason)
        self.withdrawn[seq] = reason

    def client(self, service: str, region: str) -> Any:
        return self.session.client(service, region)


# skipped: an unsafe change without --unsafe-fixes; withdrawn: applied, then reversed by the run
# itself before it ended (its table lost to a concurrent run's, see ApplyContext.withdraw)
OutcomeStatus = Literal["applied", "already", "failed", "not-attempted", "skipped", "withdrawn"]


@dataclass
class Outcome:
    change: Change
    status: OutcomeStatus
    error: str = ""
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "change": self.change.to_dict()}

