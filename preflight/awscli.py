"""The AWS CLI form of a boto3 call, for the commands findings print and fix plans show.

Pure and neutral (no fix-layer or collector imports), so rules can render their remedies without
importing the fix layer. `preflight.semantics.remedies` is to become the one home of remedies.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any


def kebab(name: str) -> str:
    """`CreateRoute` / `create_route` / `GroupId` -> `create-route` / `group-id`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).replace("_", "-").lower()


def aws_cli(service: str, operation: str, params: dict[str, Any], region: str = "") -> str:
    """The AWS CLI command equivalent to a boto3 call (structures passed as JSON)."""
    parts = ["aws", service, kebab(operation)]
    for key, value in params.items():
        flag = f"--{kebab(key)}"
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{kebab(key)}")
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
            parts += [flag, *(shlex.quote(str(v)) for v in value)]
        elif isinstance(value, (dict, list, tuple)):
            parts += [flag, shlex.quote(json.dumps(value, separators=(",", ":")))]
        else:
            parts += [flag, shlex.quote(str(value))]
    if region:
        parts += ["--region", region]
    return " ".join(parts)
