"""Helpers for the CMP rule tests: collect through the real compute collectors in moto, or build
inventories whose `extra` carries collector output, and run selected rules."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import preflight.collect.aws_compute  # noqa: F401  (registers the compute extra collectors)
from preflight import engine
from preflight.inventory.model import Instance, Inventory
from preflight.plan import Plan, plan_from_dict

REGION = "eu-south-1"
CMP_NEEDS = {"instance_types", "offerings", "images", "key_pairs", "instance_profiles", "quotas", "dry_run"}


def as_plan(plan: Plan | Mapping[str, Any] | None) -> Plan | None:
    if plan is None or isinstance(plan, Plan):
        return plan
    return plan_from_dict({"region": REGION, **plan}, "launch.yaml")


def collect_seeded(seed: Callable[[Any], None], plan: Plan | Mapping[str, Any] | None,
                   quotas: Mapping[str, float] | None = None, needs: Iterable[str] = CMP_NEEDS) -> Inventory:
    """Seed moto in process, then read it with the real collector and the compute extras."""
    from moto import mock_aws

    from preflight.collect.aws import AwsSession, collect
    from preflight.collect.sandbox import Seeder
    from preflight.collect.scenarios.compute import serve_quotas

    with mock_aws():
        session = AwsSession(region=REGION)
        seeder = Seeder(session, REGION)
        seed(seeder)
        seeder.ec2.describe_key_pairs()  # single-threaded first call: see preflight.collect.sandbox
        if quotas is not None:
            serve_quotas(seeder, dict(quotas))
        return collect(session, REGION, set(needs), as_plan(plan))


def run(rule_id: str, inv: Inventory, plan: Plan | Mapping[str, Any] | None) -> list[engine.Finding]:
    rules = engine.select_rules(engine.load_rules(), [rule_id])
    return engine.run([inv], rules, as_plan(plan)).findings


def inv(*instances: Instance, **extra: Any) -> Inventory:
    return Inventory(region=REGION, account="123456789012", source="test", instances=tuple(instances),
                     extra=dict(extra))


def vm(iid: str, itype: str, state: str = "running", lifecycle: str = "") -> Instance:
    return Instance(id=iid, instance_type=itype, state=state, lifecycle=lifecycle)


def first_image(seeder: Any, architecture: str = "x86_64") -> str:
    from preflight.collect.scenarios.compute import amazon_image

    return amazon_image(seeder, architecture)


# --- two moto accounts shared by the CMP tests (collected once per process: moto is slow to start) ---

READY_PLAN = {"instance_type": "g4dn.xlarge", "count": 1, "zones": ["eu-south-1b"], "image": "ami-03cf127a",
              "key_name": "other-key", "instance_profile": "other-profile"}


@functools.lru_cache(maxsize=None)
def blockers() -> Inventory:
    """The compute-blockers sandbox scenario, read with its own plan (one fault per CMP rule)."""
    from preflight.collect.aws import collect
    from preflight.collect.sandbox import get_scenario, sandbox

    sc = get_scenario("compute-blockers")
    with sandbox("compute-blockers", REGION) as (session, _seeder):
        return collect(session, REGION, set(CMP_NEEDS), as_plan(sc.plan))


@functools.lru_cache(maxsize=None)
def ready() -> Inventory:
    """The same account, read with a plan that fits it (the near miss of every CMP rule)."""
    from preflight.collect.aws import collect
    from preflight.collect.sandbox import sandbox
    from preflight.collect.scenarios.compute import COMPUTE_QUOTAS, serve_quotas

    with sandbox("compute-blockers", REGION) as (session, seeder):
        serve_quotas(seeder, {**COMPUTE_QUOTAS, "L-DB2E81BA": 8})  # 4 running + 4 requested = 8
        return collect(session, REGION, set(CMP_NEEDS), as_plan(READY_PLAN))


def extras_in_moto(seed: Callable[[Any], None], plan: Plan | Mapping[str, Any], *names: str) -> Inventory:
    """Only the named compute extras (no network collection), read from a freshly seeded moto: fast."""
    from moto import mock_aws

    from preflight.collect.aws import EXTRA_COLLECTORS, AwsSession
    from preflight.collect.registry import load_extra_collectors

    load_extra_collectors(names)
    from preflight.collect.sandbox import Seeder

    with mock_aws():
        session = AwsSession(region=REGION)
        seed(Seeder(session, REGION))
        p = as_plan(plan)
        return Inventory(region=REGION, account="123456789012",
                         extra={n: EXTRA_COLLECTORS[n](session, REGION, p) for n in names})

