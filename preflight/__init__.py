"""preflight: find what will make a cloud launch fail, before it fails.

The public Python API (see preflight.api and the README's "Python API" section):

    import preflight
    report = preflight.check(plan="task.yaml", region="eu-south-1")
    report.blocking()

Importing `preflight` is cheap: the API is loaded on first use (no boto3 or networkx at import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from preflight.errors import CredentialsError, PreflightError

__version__ = "0.1.0"

__all__ = [
    "CloudError", "CredentialsError", "Finding", "Fix", "Plan", "PlanError", "PreflightError", "Report",
    "RunSettings", "__version__", "check", "check_inventory",
]

if TYPE_CHECKING:
    from preflight.api import CloudError, Report, check, check_inventory
    from preflight.findings import Finding, Fix
    from preflight.plan import Plan, PlanError
    from preflight.settings import RunSettings

_LAZY = {
    "check": "preflight.api", "check_inventory": "preflight.api", "Report": "preflight.api",
    "CloudError": "preflight.api", "Finding": "preflight.findings", "Fix": "preflight.findings",
    "Plan": "preflight.plan", "PlanError": "preflight.plan", "RunSettings": "preflight.settings",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "api":  # `import preflight; preflight.api.load_schema()`
        return importlib.import_module("preflight.api")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'preflight' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
