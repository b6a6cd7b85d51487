"""Launcher permission profiles: what SkyPilot, Ray's autoscaler and `preflight launch` call, per
cloud and capability, read from `preflight/data/launcher_permissions.yaml` (each profile cites
its source). The IAM rules check a launch by the profile of its launcher; `preflight iam-policy
--for` prints the least-privilege policy generated from the same data.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from preflight.errors import PreflightError

# The data files shipped with preflight are read with libyaml's safe loader where PyYAML has it
# (the same documents, ~8x less CPU: they are read during an account's collection, beside the
# parsing of its answers); user-given files keep the pure-Python loader's error messages.
SHIPPED_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Conditions a capability or action can be gated on; each is a fact about the plan
# (`preflight.semantics.iam_requests.LaunchFacts.uses`).
WHEN = ("buckets", "creates_buckets", "instance_profile", "replicas")


@dataclass(frozen=True)
class ActionSpec:
    """One call a launcher makes: the IAM action (or GCP permission), the resource types it is
    authorized against (None: the required ones per the Service Authorization Reference)."""

    action: str
    resources: tuple[str, ...] | None = None
    create_action: str = ""  # ec2:CreateAction for tag-on-create
    optional: bool = False  # the launcher survives a refusal: a note, never a FAIL
    when: str = ""
    note: str = ""
    key: str = ""  # the name verdicts are stored under (the action, qualified when repeated)


@dataclass(frozen=True)
class LauncherCapability:
    name: str
    description: str
    actions: tuple[ActionSpec, ...]
    when: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    sources: tuple[str, ...]
    clouds: dict[str, dict[str, LauncherCapability]]
    role: str = ""
    instance_profile: str = ""
    tags: tuple[str, ...] = ()


def _spec(raw: Any, where: str) -> ActionSpec:
    if isinstance(raw, str):
        return ActionSpec(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
        raise PreflightError(f"{where}: each action is a string or a mapping with `action`")
    res = raw.get("resources")
    if res is not None and (not isinstance(res, list) or not all(isinstance(r, str) for r in res)):
        raise PreflightError(f"{where}: resources must be a list of resource type names")
    when = str(raw.get("when", ""))
    if when and when not in WHEN:
        raise PreflightError(f"{where}: when {when!r} is not one of {', '.join(WHEN)}")
    return ActionSpec(raw["action"], tuple(res) if res is not None else None, str(raw.get("create_action", "")),
                      bool(raw.get("optional", False)), when, str(raw.get("note", "")))


def _keyed(specs: list[ActionSpec]) -> tuple[ActionSpec, ...]:
    """Verdicts are stored per action; an action listed twice (CreateTags on the instance and on
    the volume) is qualified by its resource types and create action."""
    counts: dict[str, int] = {}
    for s in specs:
        counts[s.action] = counts.get(s.action, 0) + 1
    out = []
    for s in specs:
        key = s.action
        if counts[s.action] > 1:
            quals = [*(s.resources or ()), *([f"on {s.create_action}"] if s.create_action else [])]
            key = f"{s.action} ({' '.join(quals)})" if quals else s.action
        out.append(ActionSpec(s.action, s.resources, s.create_action, s.optional, s.when, s.note, key))
    return tuple(out)


def parse_profiles(doc: Any, where: str = "launcher_permissions.yaml") -> dict[str, Profile]:
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), dict):
        raise PreflightError(f"{where}: expected `profiles:` mapping launcher names to profiles")
    out: dict[str, Profile] = {}
    for name, body in doc["profiles"].items():
        if not isinstance(body, dict) or not body.get("sources"):
            raise PreflightError(f"{where}: profile {name}: needs `sources` (where its list comes from)")
        clouds: dict[str, dict[str, LauncherCapability]] = {}
        for cloud in ("aws", "gcp"):
            caps = body.get(cloud) or {}
            clouds[cloud] = {}
            seen: list[ActionSpec] = []
            for cap_name, cap in caps.items():
                w = f"{where}: {name}.{cloud}.{cap_name}"
                acts = cap.get("actions") if isinstance(cap, dict) else None
                if not isinstance(acts, list) or not acts:
                    raise PreflightError(f"{w}: needs a non-empty `actions` list")
                specs = [_spec(a, w) for a in acts]
                seen += specs
                clouds[cloud][str(cap_name)] = LauncherCapability(str(cap_name), str(cap.get("description", "")),
                                                                  tuple(specs), str(cap.get("when", "")))
            keyed = iter(_keyed(seen))
            for cap_name, cap in list(clouds[cloud].items()):
                clouds[cloud][cap_name] = LauncherCapability(cap.name, cap.description,
                                                             tuple(next(keyed) for _ in cap.actions), cap.when)
        out[str(name)] = Profile(str(name), str(body.get("description", "")),
                                 tuple(str(s) for s in body["sources"]), clouds, str(body.get("role", "")),
                                 str(body.get("instance_profile", "")), tuple(str(t) for t in body.get("tags") or ()))
    return out


@functools.lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    text = resources.files("preflight").joinpath("data/launcher_permissions.yaml").read_text()
    return parse_profiles(yaml.load(text, Loader=SHIPPED_YAML_LOADER))


def profile(name: str) -> Profile | None:
    """The permission profile of a launcher (skypilot, ray, launch), None for others."""
    return profiles().get({"preflight": "launch"}.get(name, name))


def all_aws_actions() -> set[str]:
    return {s.action for p in profiles().values() for cap in p.clouds.get("aws", {}).values() for s in cap.actions}


def all_gcp_permissions() -> list[str]:
    return list(dict.fromkeys(s.action for p in profiles().values()
                              for cap in p.clouds.get("gcp", {}).values() for s in cap.actions))
