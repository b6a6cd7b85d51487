"""Helpers for network fixer and journal tests: an in-process moto account, check, fix, snapshots."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from moto import mock_aws

from preflight import engine
from preflight.collect import aws
from preflight.collect.sandbox import Seeder
from preflight.fix import FixPlan, Journal, Outcome, apply_changes, build_plan
from preflight.inventory import snapshot
from preflight.inventory.model import Inventory

REGION = "eu-south-1"


@contextlib.contextmanager
def account(seed: Callable[[Seeder], Any]) -> Iterator[tuple[aws.AwsSession, Seeder]]:
    with mock_aws():
        session = aws.AwsSession(region=REGION)
        seeder = Seeder(session, REGION)
        seed(seeder)
        yield session, seeder


def inventory(session: aws.AwsSession, plan: Any = None) -> Inventory:
    return aws.collect(session, REGION, set(), plan)


def check(session: aws.AwsSession, select: tuple[str, ...] = ("NET",), plan: Any = None) -> engine.Report:
    rules = engine.select_rules(engine.load_rules(), list(select))
    return engine.run([inventory(session, plan)], rules, plan)


def plan_fixes(session: aws.AwsSession, select: tuple[str, ...] = ("NET",), plan: Any = None,
               only: tuple[str, ...] = ()) -> FixPlan:
    report = check(session, select, plan)
    return build_plan(report.findings, report.inventories, plan, only=only)


def apply(session: aws.AwsSession, directory: Path, select: tuple[str, ...] = ("NET",), plan: Any = None,
          max_changes: int | None = None) -> tuple[FixPlan, list[Outcome], Journal]:
    fplan = plan_fixes(session, select, plan)
    journal = Journal(directory=directory, header={"command": "test", "source": "sandbox:test", "account": ""})
    outcomes = apply_changes(fplan.changes, session, journal, max_changes=max_changes)
    return fplan, outcomes, journal


def state(session: aws.AwsSession) -> dict[str, Any]:
    """The account as a comparable value (a snapshot without its timestamp)."""
    data = snapshot.to_dict(inventory(session))
    data.pop("collected_at", None)
    return data


def fails(report: engine.Report) -> list[tuple[str, str]]:
    return sorted((f.rule, f.resource) for f in report.findings if f.status == "FAIL")
