"""The shapes of the extra data in `Inventory.extra`: what each extra collector (see
`preflight.collect.registry.EXTRA_PROVIDERS`) returns and the rules that `need` it read.

Plain JSON-able dicts (a snapshot stores them as they are), typed with `TypedDict` so collectors
and rules agree on the keys. `total=False`: a collector returns `{}` when the plan gives it nothing
to read (no instance type, no image...), and some keys appear only in some answers.
tests/unit/test_extra_payloads.py checks every collector's real output against these types.
"""

from __future__ import annotations

from typing import Any, TypedDict


class InstanceTypes(TypedDict, total=False):
    instance_type: str
    family: str | None
    types: dict[str, dict[str, Any]]  # name -> facts (vcpus, memory_mib, gpus, architectures...)
    cached: bool


class Offerings(TypedDict, total=False):
    instance_type: str
    zones: list[str]  # the availability zones that offer it


class Image(TypedDict, total=False):
    image: str
    found: bool
    error: str  # the API error code when the image could not be described
    message: str
    state: str
    architecture: str
    name: str
    owner: str
    deprecation_time: str


class KeyPairs(TypedDict, total=False):
    names: list[str]


class PassRole(TypedDict, total=False):
    decision: str  # allowed | denied | unknown
    principal: str
    method: str  # root | simulate
    reason: str
    permission: str
    eval_decision: str
    matched: list[Any]


class InstanceProfile(TypedDict, total=False):
    name: str
    found: bool
    arn: str
    roles: list[dict[str, str]]  # name, arn
    pass_role: PassRole


class Quota(TypedDict, total=False):
    name: str
    value: float | None
    adjustable: bool
    default: bool


class Quotas(TypedDict, total=False):
    quotas: dict[str, Quota]  # quota code (L-…) -> value


class DryRun(TypedDict, total=False):
    skipped: str  # why no dry run was made
    ok: bool
    code: str  # DryRunOperation when EC2 would accept the launch
    message: str
    params: dict[str, Any]


class Iam(TypedDict, total=False):
    principal: str
    caller_arn: str
    kind: str  # user | role | root | ...
    name: str
    account: str
    method: str  # local | simulate | cache | root | unsupported
    verdicts: dict[str, Any]  # permission -> verdict
    cache: Any
    notes: list[str]
    policies: list[Any]
    boundary: Any
    scps: Any
    skypilot: Any  # SkyPilot's cached enabled clouds, when SkyPilot runs the launch


class IamLastAccessed(TypedDict, total=False):
    principal: str
    kind: str
    applicable: bool
    services: list[dict[str, Any]]  # namespace, name, last_authenticated, entities
    generated_at: str


class PortReservation(TypedDict, total=False):
    host: str
    port: int
    owner: str
    service: str
    state: str
    pid: int
    created_at: float
    expires_at: float | None


# Extra data name -> the type of its payload.
EXTRA_PAYLOADS: dict[str, Any] = {
    "instance_types": InstanceTypes,
    "offerings": Offerings,
    "images": Image,
    "key_pairs": KeyPairs,
    "instance_profiles": InstanceProfile,
    "quotas": Quotas,
    "dry_run": DryRun,
    "iam": Iam,
    "iam_last_accessed": IamLastAccessed,
    "port_reservations": list[PortReservation],
}
