"""Helpers for the IAM rule tests: inventories carrying the `iam` / `gcp` extras."""

from __future__ import annotations

from typing import Any

import pytest

from preflight import engine
from preflight.inventory import model as m
from preflight.permissions import catalogue
from tests.rules.conftest import ACCOUNT, REGION, as_plan

USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
EMAIL = "launcher@proj-1.iam.gserviceaccount.com"
ALL_AWS = ["compute", "network", "storage", "iam-pass-role"]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch):
    """moto's AMI catalogue, a second per region, is never needed here. (Run settings are no longer
    module globals that tests could leak into each other: they travel with each run.)"""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    yield


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def aws_inventory(*policies: tuple[str, dict[str, Any]], boundary: dict[str, Any] | None = None,
                  scps: list[list[dict[str, Any]]] | None = None, kind: str = "user", name: str = "alice",
                  cache: dict[str, Any] | None = None, **extra: Any) -> m.Inventory:
    principal = f"arn:aws:iam::{ACCOUNT}:{'user' if kind == 'user' else 'role'}/{name}"
    data = {"principal": principal, "kind": kind, "name": name, "account": ACCOUNT, "method": "local",
            "policies": [{"name": n, "source": "inline", "document": d} for n, d in policies],
            "boundary": {"name": "boundary", "arn": f"arn:aws:iam::{ACCOUNT}:policy/boundary", "document": boundary}
            if boundary else None,
            "scps": scps, "cache": cache or {}}
    return m.Inventory(account=ACCOUNT, region=REGION, extra={"iam": data, **extra})


def gcp_inventory(granted: list[str] | tuple[str, ...], account: str = EMAIL, project: str = "proj-1",
                  cache: dict[str, Any] | None = None) -> m.Inventory:
    requested = [p for cap in catalogue()["gcp"].values() for p in cap.permissions]
    data = {"project": project, "account": account, "granted": list(granted), "requested": requested,
            "method": "testIamPermissions", "cache": cache or {}}
    return m.Inventory(cloud="gcp", account=account, region="global", extra={"gcp": data})


def perms(cloud: str, *caps: str) -> list[str]:
    return [p for c in caps for p in catalogue()[cloud][c].permissions]


def everything_but(cloud: str, *missing: str) -> list[str]:
    return [p for cap in catalogue()[cloud].values() for p in cap.permissions if p not in missing]


def check(inv: m.Inventory, select: str = "IAM", plan: dict[str, Any] | None = None) -> list[engine.Finding]:
    rules = engine.select_rules(engine.load_rules(), [select])
    return engine.run([inv], rules, as_plan(plan)).findings


def only(findings: list[engine.Finding], rule: str) -> engine.Finding:
    got = [f for f in findings if f.rule == rule]
    assert len(got) == 1, [(f.rule, f.message) for f in findings]
    return got[0]
