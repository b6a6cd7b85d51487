"""Collectors own their registry (issue 13 item 3): a rule names the data it reads (`needs=`), the
collect layer maps each name to its collector; no rule imports a collector."""

from __future__ import annotations

import importlib
import subprocess
import sys

from preflight import engine
from preflight.collect import aws
from preflight.collect.gcp import GCP_RULE_NEED
from preflight.inventory.model import RESOURCE_TYPES


def test_every_need_of_every_rule_has_a_source() -> None:
    known = set(RESOURCE_TYPES) | set(aws.EXTRA_MODULES) | {GCP_RULE_NEED}
    for rid, r in engine.load_rules().items():
        assert set(r.meta.needs) <= known, (rid, sorted(set(r.meta.needs) - known))


def test_each_extra_is_registered_by_the_module_the_registry_names() -> None:
    for name, module in aws.EXTRA_MODULES.items():
        importlib.import_module(module)
        assert aws.EXTRA_COLLECTORS[name].__module__ == module, name
    assert set(aws.EXTRA_COLLECTORS) <= set(aws.EXTRA_MODULES)


def test_extras_are_resolved_by_name_without_any_rule_importing_a_collector() -> None:
    """In a fresh interpreter: loading every rule imports no collector; asking for `iam` and
    `quotas` imports exactly their modules."""
    code = (
        "import sys\n"
        "from preflight import engine\n"
        "engine.load_rules()\n"
        "print(sorted(m for m in sys.modules if m.startswith('preflight.collect.aws_') "
        "or m == 'preflight.collect.ports_ledger'))\n"
        "from preflight.collect.aws import extra_collectors\n"
        "print(sorted(extra_collectors({'iam', 'quotas', 'subnets'})))\n"
        "print(sorted(m for m in sys.modules if m.startswith('preflight.collect.aws_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["[]", "['iam', 'quotas']", "['preflight.collect.aws_compute', 'preflight.collect.aws_iam']"]
