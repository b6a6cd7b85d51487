"""EC2 vCPU quotas: which Service Quotas bucket an instance type draws from, and the headroom math.

EC2 limits running instances per *quota family*, in vCPUs, separately for On-Demand and Spot:
all "Standard" types (A, C, D, H, I, M, R, T, Z) share one bucket, G and VT share another, and
P, F, Inf, X, DL, Trn, high-memory (U) and HPC have their own. A launch fails with
`VcpuLimitExceeded` when the vCPUs already running (or pending) in the bucket plus the vCPUs
requested exceed the applied quota value. Instances of other families, or of the other market
(Spot vs On-Demand), do not count.

Pure: no cloud calls. Quota codes are matched first, then the quota's name, so a renamed or
re-coded quota still resolves when AWS keeps either one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# States that hold vCPUs against the quota.
COUNTED_STATES = frozenset({"pending", "running"})


@dataclass(frozen=True)
class QuotaRef:
    code: str
    name: str


@dataclass(frozen=True)
class Family:
    key: str
    label: str
    on_demand: QuotaRef
    spot: QuotaRef | None  # None: the family cannot run as Spot


_STD = "Standard (A, C, D, H, I, M, R, T, Z)"
FAMILIES: dict[str, Family] = {f.key: f for f in (
    Family("standard", _STD, QuotaRef("L-1216C47A", f"Running On-Demand {_STD} instances"),
           QuotaRef("L-34B43A08", f"All {_STD} Spot Instance Requests")),
    Family("g", "G and VT", QuotaRef("L-DB2E81BA", "Running On-Demand G and VT instances"),
           QuotaRef("L-3819A6DF", "All G and VT Spot Instance Requests")),
    Family("p", "P", QuotaRef("L-417A185B", "Running On-Demand P instances"),
           QuotaRef("L-7212CCBC", "All P Spot Instance Requests")),
    Family("f", "F", QuotaRef("L-74FC7D96", "Running On-Demand F instances"),
           QuotaRef("L-88CF9481", "All F Spot Instance Requests")),
    Family("inf", "Inf", QuotaRef("L-1945791B", "Running On-Demand Inf instances"),
           QuotaRef("L-B5D1601B", "All Inf Spot Instance Requests")),
    Family("x", "X", QuotaRef("L-7295265B", "Running On-Demand X instances"),
           QuotaRef("L-E3A00192", "All X Spot Instance Requests")),
    Family("dl", "DL", QuotaRef("L-6E869C2A", "Running On-Demand DL instances"),
           QuotaRef("L-85EED4F7", "All DL Spot Instance Requests")),
    Family("trn", "Trn", QuotaRef("L-2C3B7624", "Running On-Demand Trn instances"),
           QuotaRef("L-5480EFD2", "All Trn Spot Instance Requests")),
    Family("u", "High Memory", QuotaRef("L-43DA4232", "Running On-Demand High Memory instances"), None),
    Family("hpc", "HPC", QuotaRef("L-F7808C92", "Running On-Demand HPC instances"), None),
)}

# Multi-letter prefixes that are their own family (checked before the one-letter classes).
_LONG_PREFIXES = (("trn", "trn"), ("inf", "inf"), ("hpc", "hpc"), ("mac", None), ("dl", "dl"), ("vt", "g"))
_ONE_LETTER = {"a": "standard", "c": "standard", "d": "standard", "h": "standard", "i": "standard",
               "m": "standard", "r": "standard", "t": "standard", "z": "standard",
               "g": "g", "p": "p", "f": "f", "x": "x", "u": "u"}
_TYPE_RE = re.compile(r"^([a-z]+)[0-9a-z-]*\.[0-9a-z-]+$")


def quota_family(instance_type: str) -> str | None:
    """The quota family key of an instance type (`g4dn.xlarge` -> "g"); None if there is none.

    `mac*` types run on Dedicated Hosts only and draw from no vCPU quota; an unknown class or a
    malformed name gives None too, and callers report that as UNKNOWN, not as a pass.
    """
    t = instance_type.strip().lower()
    m = _TYPE_RE.match(t)
    if not m:
        return None
    letters = m.group(1)
    for prefix, fam in _LONG_PREFIXES:
        if letters.startswith(prefix):
            return fam
    return _ONE_LETTER.get(letters[0])


def quota_ref(family: str, spot: bool) -> QuotaRef | None:
    fam = FAMILIES.get(family)
    if fam is None:
        return None
    return fam.spot if spot else fam.on_demand


def find_quota(quotas: Mapping[str, Mapping[str, Any]], ref: QuotaRef) -> tuple[str, float] | None:
    """(code, applied value) for `ref` in ListServiceQuotas data keyed by code; by code, then by name."""
    q = quotas.get(ref.code)
    if q is not None and q.get("value") is not None:
        return ref.code, float(q["value"])
    wanted = ref.name.casefold()
    for code, q in quotas.items():
        if str(q.get("name", "")).casefold() == wanted and q.get("value") is not None:
            return code, float(q["value"])
    return None


def is_spot(lifecycle: str) -> bool:
    return lifecycle == "spot"


@dataclass(frozen=True)
class Usage:
    vcpus: int = 0
    instances: tuple[str, ...] = ()  # ids counted
    unknown_types: tuple[str, ...] = ()  # types in the family whose vCPUs are not known


def running_usage(instances: Iterable[Any], family: str, spot: bool, vcpus_of: Mapping[str, int]) -> Usage:
    """vCPUs held in one quota bucket by pending/running instances (same family, same market).

    `instances` are inventory `Instance`s (or anything with instance_type, state, lifecycle, id);
    `vcpus_of` maps instance type -> default vCPUs.
    """
    total = 0
    ids: list[str] = []
    unknown: set[str] = set()
    for inst in instances:
        if inst.state not in COUNTED_STATES or is_spot(inst.lifecycle) != spot:
            continue
        if quota_family(inst.instance_type) != family:
            continue
        n = vcpus_of.get(inst.instance_type)
        if n is None:
            unknown.add(inst.instance_type)
            continue
        total += int(n)
        ids.append(inst.id)
    return Usage(total, tuple(sorted(ids)), tuple(sorted(unknown)))


@dataclass(frozen=True)
class Headroom:
    family: str
    code: str
    quota_name: str
    quota: float
    used: int
    requested: int
    instances: tuple[str, ...] = field(default_factory=tuple)

    @property
    def needed(self) -> int:
        return self.used + self.requested

    @property
    def exceeded(self) -> bool:
        return self.needed > self.quota


def headroom(family: str, code: str, quota_name: str, quota: float, usage: Usage, count: int,
             vcpus_per_instance: int) -> Headroom:
    return Headroom(family, code, quota_name, quota, usage.vcpus, count * vcpus_per_instance, usage.instances)


@dataclass(frozen=True)
class BucketRequest:
    """What a launch of several instance types asks of one quota bucket at its largest."""

    family: str
    spot: bool
    vcpus: int
    parts: tuple[tuple[str, int], ...]  # (instance type, how many) that make up `vcpus`
    unknown_types: tuple[str, ...] = ()  # types of this bucket with no known vCPU count


def bucket_requests(groups: Iterable[Any], total: int, vcpus_of: Mapping[str, int]) -> list[BucketRequest]:
    """Per quota bucket (family, market), the most vCPUs the launch can hold at once.

    `groups` have `instance_type`, `count` (most at once), `spot` and `fixed` (always running,
    e.g. a Ray head); `total` caps all instances together (Ray's global max_workers + the head).
    In each bucket the fixed instances count, then the elastic ones fill the rest of the cap,
    largest vCPU count first: that is the worst the autoscaler can reach in that bucket.
    """
    groups = list(groups)
    fixed_all = sum(g.fixed for g in groups)
    buckets: dict[tuple[str, bool], list[Any]] = {}
    for g in groups:
        fam = quota_family(g.instance_type)
        if fam is not None:
            buckets.setdefault((fam, bool(g.spot)), []).append(g)
    out: list[BucketRequest] = []
    for (fam, spot), members in buckets.items():
        parts: dict[str, int] = {}
        vcpus = 0
        for g in members:
            if g.fixed:
                parts[g.instance_type] = parts.get(g.instance_type, 0) + g.fixed
                vcpus += g.fixed * vcpus_of.get(g.instance_type, 0)
        room = max(0, total - fixed_all)
        for g in sorted(members, key=lambda g: -vcpus_of.get(g.instance_type, 0)):
            take = min(g.count - g.fixed, room)
            if take > 0:
                parts[g.instance_type] = parts.get(g.instance_type, 0) + take
                vcpus += take * vcpus_of.get(g.instance_type, 0)
                room -= take
        unknown = tuple(sorted({g.instance_type for g in members if g.instance_type not in vcpus_of}))
        out.append(BucketRequest(fam, spot, vcpus, tuple(parts.items()), unknown))
    return out
