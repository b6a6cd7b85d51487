"""The public Python API: the same core as `preflight check`, for callers that are not a shell.

    import preflight
    report = preflight.check(plan="task.yaml", region="eu-south-1")
    report.findings      # tuple of Finding (frozen dataclasses)
    report.blocking()    # the FAILs that would stop this launch (rule metadata + launcher profile)
    report.to_dict()     # exactly the preflight/v1 JSON (`preflight schema` prints its JSON Schema)

Stable under semver (tests/unit/test_api.py pins the signatures). Never prints, never exits the
process: bad input and unusable credentials raise `preflight.PreflightError` subclasses carrying
the CLI's one-line messages. Keeps no module-global state, so many threads may call it at once,
each with its own settings (endpoint, IAM simulation, permission cache) -- except `sandbox=`,
whose in-process moto account is process-wide: sandbox checks run one at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from preflight.errors import PreflightError
from preflight.findings import Finding
from preflight.plan import Plan, load_plan, plan_from_dict
from preflight.settings import RunSettings

if TYPE_CHECKING:
    from preflight import engine
    from preflight.inventory.model import Inventory

__all__ = ["CloudError", "Report", "check", "check_inventory", "load_schema"]

PlanLike = Union[Plan, Mapping[str, Any], str, "os.PathLike[str]", None]
Codes = Union[str, Iterable[str], None]

_SANDBOX_LOCK = threading.Lock()  # moto's mock is process-wide: one sandbox check at a time


class CloudError(PreflightError):
    """The cloud SDK failed before an answer (no credentials found, endpoint unreachable...)."""


@dataclass(frozen=True)
class Report:
    """The result of one check: findings (sorted, most severe first) and what was read."""

    findings: tuple[Finding, ...]
    regions: tuple[str, ...]
    accounts: tuple[str, ...]
    launcher: Any = None  # the launcher `blocking()` judges for (profile name or object), None: the plan's
    _core: engine.Report | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, core: engine.Report, launcher: Any = None) -> Report:
        return cls(findings=tuple(core.findings), regions=tuple(core.regions),
                   accounts=tuple(sorted({i.account for i in core.inventories if i.account})),
                   launcher=launcher, _core=core)

    def _report(self) -> engine.Report:
        assert self._core is not None, "a Report is made by preflight.check() or check_inventory()"
        return self._core

    def blocking(self, launcher: Any = None) -> tuple[Finding, ...]:
        """The FAILs that would stop this launch: rules whose metadata says they block a launch, in the
        launch's scope (its VPC, subnet, group...), as refined by the launcher's profile (`launcher`,
        else the one given to check(), else the plan's)."""
        return tuple(self._report().blocking(launcher if launcher is not None else self.launcher))

    def to_dict(self) -> dict[str, Any]:
        """Exactly the preflight/v1 JSON of `preflight check --format json`."""
        from preflight.report.json import report_dict

        return report_dict(self._report())

    @property
    def summary(self) -> dict[str, Any]:
        return self._report().summary()

    def exit_code(self, fail_on: str = "low") -> int:
        """What `preflight check` would exit with: 0 clean, 1 a FAIL at or above `fail_on`, 3 incomplete."""
        return self._report().exit_code(fail_on)


def as_plan(plan: PlanLike) -> Plan | None:
    """A Plan from a Plan, a mapping of plan fields (validated like a file), or a YAML file path."""
    if plan is None or isinstance(plan, Plan):
        return plan
    if isinstance(plan, Mapping):
        return plan_from_dict(dict(plan), "plan")
    if isinstance(plan, (str, os.PathLike)):
        return load_plan(Path(plan))
    raise PreflightError(f"plan: expected a preflight.Plan, a mapping or a file path, got {type(plan).__name__}")


def _codes(value: Codes, what: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in items):
        raise PreflightError(f"{what}: expected rule ids or prefixes (strings), got {items!r}")
    return [c.strip() for item in items for c in item.split(",") if c.strip()]


def _sdk_errors(exc: Exception) -> PreflightError | None:
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return CloudError(str(exc))
    return None


def check(plan: PlanLike = None, region: str | Sequence[str] | None = None, profile: str | None = None,
          endpoint_url: str | None = None, select: Codes = None, ignore: Codes = None, launcher: Any = None, *,
          sandbox: str | None = None, enable: Codes = None, config: Mapping[str, Any] | None = None,
          simulate: bool = False, refresh: bool = False, cache: bool = True, cache_dir: str | None = None,
          settings: RunSettings | None = None) -> Report:
    """Check an account (or a sandbox scenario) for `plan` and return the findings.

    `region`: one or more regions (default: the plan's, else AWS_REGION/AWS_DEFAULT_REGION or the
    profile's). `select`/`ignore`: rule ids or prefixes, as in `--select`/`--ignore`; `enable`:
    opt-in rules to add (`enable="CMP006"` is `--dry-run-launch`). `config`: rule options as in
    `.preflight.toml` (e.g. `{"sg_rule_quota": 120}`). `settings`: a whole `RunSettings` (else
    made from `simulate`, `refresh`, `cache`, `cache_dir`, `endpoint_url` and the environment).
    """
    from preflight.runner import Target, open_target, run_check

    the_plan = as_plan(plan)
    run = settings or RunSettings.from_env(simulate=simulate, refresh=refresh, cache=cache,
                                           endpoint_url=endpoint_url, cache_dir=cache_dir)
    regions = [region] if isinstance(region, str) else list(region or [])
    target = Target(regions=regions, profile=profile, profiles=[profile] if profile else [],
                    endpoint_url=endpoint_url or run.endpoint_url, sandbox=sandbox, settings=run)
    chosen, ignored, enabled = _codes(select, "select"), _codes(ignore, "ignore"), _codes(enable, "enable")
    options = dict(config or {})
    try:
        if the_plan is not None and the_plan.cloud == "gcp":
            from preflight import engine
            from preflight.collect.gcp import non_gcp_rule_ids, open_gcp_target

            ignored += non_gcp_rule_ids(engine.load_rules())
            with open_gcp_target(target, the_plan, the_plan.project or None, None, None) as source:
                core = run_check(source, the_plan, chosen, ignored, options, enabled)
        elif sandbox:
            with _SANDBOX_LOCK, open_target(target, the_plan) as source:
                core = run_check(source, the_plan, chosen, ignored, options, enabled)
        else:
            with open_target(target, the_plan) as source:
                core = run_check(source, the_plan, chosen, ignored, options, enabled)
    except PreflightError:
        raise
    except Exception as exc:
        mapped = _sdk_errors(exc)
        if mapped is None:
            raise
        raise mapped from None
    return Report.of(core, launcher)


def check_inventory(inventory: Inventory | Sequence[Inventory] | str | os.PathLike[str], plan: PlanLike = None,
                    select: Codes = None, ignore: Codes = None, launcher: Any = None, *, enable: Codes = None,
                    config: Mapping[str, Any] | None = None, settings: RunSettings | None = None) -> Report:
    """Offline: run the rules on inventories already read (objects, or a `preflight snapshot` file).
    No cloud is called; extra data the inventory lacks (IAM, quotas...) makes those rules UNKNOWN."""
    from preflight import engine
    from preflight.inventory import snapshot
    from preflight.inventory.model import Inventory as Inv
    from preflight.runner import _missing_extras_unreadable, needs_of

    if isinstance(inventory, (str, os.PathLike)):
        inventories = snapshot.load(str(inventory))
    elif isinstance(inventory, Inv):
        inventories = [inventory]
    else:
        inventories = list(inventory)
        if not all(isinstance(i, Inv) for i in inventories):
            raise PreflightError("inventory: expected an Inventory, a list of them or a snapshot file path")
    rules = engine.select_rules(engine.load_rules(), _codes(select, "select"), _codes(ignore, "ignore"),
                                _codes(enable, "enable"))
    needs = needs_of(rules)
    inventories = [_missing_extras_unreadable(i, needs) for i in inventories]
    core = engine.run(inventories, rules, as_plan(plan), dict(config or {}), settings or RunSettings.from_env())
    return Report.of(core, launcher)


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the preflight/v1 report (what `preflight schema` prints)."""
    import json
    from importlib import resources

    return json.loads(resources.files("preflight").joinpath("data/preflight-v1.schema.json").read_text())
