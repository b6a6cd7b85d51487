"""Quota families and vCPU headroom math (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preflight.inventory.model import Instance
from preflight.semantics import quotas as q


@pytest.mark.parametrize(("itype", "family"), [
    ("m5.large", "standard"), ("t3.micro", "standard"), ("c7gn.16xlarge", "standard"), ("r7iz.large", "standard"),
    ("z1d.large", "standard"), ("d3en.xlarge", "standard"), ("i4i.large", "standard"), ("im4gn.large", "standard"),
    ("is4gen.medium", "standard"), ("h1.2xlarge", "standard"), ("a1.medium", "standard"),
    ("m7i-flex.large", "standard"),
    ("g4dn.xlarge", "g"), ("g5.48xlarge", "g"), ("gr6.4xlarge", "g"), ("vt1.3xlarge", "g"),
    ("p4d.24xlarge", "p"), ("p5en.48xlarge", "p"),
    ("f1.2xlarge", "f"), ("inf2.xlarge", "inf"), ("x2idn.16xlarge", "x"), ("x1e.xlarge", "x"),
    ("dl1.24xlarge", "dl"), ("trn1.32xlarge", "trn"), ("trn2u.48xlarge", "trn"),
    ("u-6tb1.metal", "u"), ("u7i-12tb.224xlarge", "u"), ("hpc7g.16xlarge", "hpc"),
    ("mac2.metal", None), ("", None), ("m5", None), ("bogus", None), ("9x.large", None), ("q1.large", None),
    (" G4DN.XLARGE ", "g"),
])
def test_quota_family_table(itype: str, family: str | None) -> None:
    assert q.quota_family(itype) == family


@pytest.mark.parametrize(("family", "spot", "code"), [
    ("standard", False, "L-1216C47A"), ("standard", True, "L-34B43A08"),
    ("g", False, "L-DB2E81BA"), ("g", True, "L-3819A6DF"),
    ("p", False, "L-417A185B"), ("p", True, "L-7212CCBC"),
    ("inf", False, "L-1945791B"), ("x", False, "L-7295265B"), ("f", False, "L-74FC7D96"),
    ("dl", False, "L-6E869C2A"), ("trn", False, "L-2C3B7624"),
])
def test_quota_ref_codes(family: str, spot: bool, code: str) -> None:
    ref = q.quota_ref(family, spot)
    assert ref is not None and ref.code == code


def test_families_without_spot_and_unknown_family() -> None:
    assert q.quota_ref("u", True) is None and q.quota_ref("hpc", True) is None
    assert q.quota_ref("nope", False) is None


def test_find_quota_by_code_then_by_name() -> None:
    ref = q.quota_ref("g", False)
    assert ref is not None
    assert q.find_quota({"L-DB2E81BA": {"name": "x", "value": 8.0}}, ref) == ("L-DB2E81BA", 8.0)
    # Re-coded quota: found by its name (case-insensitive).
    assert q.find_quota({"L-NEW": {"name": "running on-demand g and vt instances", "value": 64}}, ref) == (
        "L-NEW", 64.0)
    assert q.find_quota({"L-1216C47A": {"name": "Running On-Demand Standard", "value": 5}}, ref) is None
    assert q.find_quota({"L-DB2E81BA": {"name": "x", "value": None}}, ref) is None


VCPUS = {"m5.large": 2, "m5.xlarge": 4, "c5.2xlarge": 8, "g4dn.xlarge": 4, "g5.2xlarge": 8, "vt1.3xlarge": 12,
         "p3.2xlarge": 8, "inf2.xlarge": 4, "t3.micro": 2}

FLEET = [
    Instance(id="i-std1", instance_type="m5.large", state="running"),
    Instance(id="i-std2", instance_type="c5.2xlarge", state="pending"),
    Instance(id="i-std3", instance_type="m5.xlarge", state="stopped"),          # stopped: not counted
    Instance(id="i-std4", instance_type="t3.micro", state="running", lifecycle="spot"),
    Instance(id="i-g1", instance_type="g4dn.xlarge", state="running"),
    Instance(id="i-g2", instance_type="vt1.3xlarge", state="running"),          # VT shares the G bucket
    Instance(id="i-g3", instance_type="g5.2xlarge", state="running", lifecycle="spot"),
    Instance(id="i-g4", instance_type="g4dn.xlarge", state="terminated"),
    Instance(id="i-p1", instance_type="p3.2xlarge", state="running"),
    Instance(id="i-inf", instance_type="inf2.xlarge", state="stopping"),        # stopping: not counted
    Instance(id="i-odd", instance_type="g9z.large", state="running"),           # G, vCPUs unknown
]


@pytest.mark.parametrize(("family", "spot", "vcpus", "ids", "unknown"), [
    ("standard", False, 10, ("i-std1", "i-std2"), ()),
    ("standard", True, 2, ("i-std4",), ()),
    ("g", False, 16, ("i-g1", "i-g2"), ("g9z.large",)),
    ("g", True, 8, ("i-g3",), ()),
    ("p", False, 8, ("i-p1",), ()),
    ("p", True, 0, (), ()),
    ("inf", False, 0, (), ()),
    ("x", False, 0, (), ()),
])
def test_running_usage_mixed_families(family: str, spot: bool, vcpus: int, ids: tuple[str, ...],
                                      unknown: tuple[str, ...]) -> None:
    usage = q.running_usage(FLEET, family, spot, VCPUS)
    assert (usage.vcpus, usage.instances, usage.unknown_types) == (vcpus, ids, unknown)


@pytest.mark.parametrize(("quota", "used", "count", "per", "needed", "exceeded"), [
    (8, 4, 2, 4, 12, True),     # the compute-blockers case
    (12, 4, 2, 4, 12, False),   # exactly at the quota fits
    (0, 0, 1, 4, 4, True),      # new accounts: GPU buckets start at 0
    (64, 0, 16, 4, 64, False),
    (64, 1, 16, 4, 65, True),
])
def test_headroom_table(quota: float, used: int, count: int, per: int, needed: int, exceeded: bool) -> None:
    h = q.headroom("g", "L-DB2E81BA", "Running On-Demand G and VT instances", quota,
                   q.Usage(used, ("i-1",) if used else ()), count, per)
    assert (h.needed, h.exceeded, h.requested) == (needed, exceeded, count * per)


fleet_st = st.lists(st.builds(
    Instance, id=st.text("abc123", min_size=1, max_size=6).map(lambda s: f"i-{s}"),
    instance_type=st.sampled_from(sorted(VCPUS)), state=st.sampled_from(["running", "pending", "stopped"]),
    lifecycle=st.sampled_from(["", "spot"])), max_size=30)


@given(fleet_st, st.sampled_from(["standard", "g", "p", "inf"]), st.booleans())
def test_usage_is_order_independent_and_partitions_the_fleet(fleet: list[Instance], family: str, spot: bool) -> None:
    a = q.running_usage(fleet, family, spot, VCPUS)
    b = q.running_usage(list(reversed(fleet)), family, spot, VCPUS)
    assert a == b
    # Every counted instance lands in exactly one (family, market) bucket.
    total = sum(q.running_usage(fleet, f, s, VCPUS).vcpus for f in ("standard", "g", "p", "inf") for s in (False, True))
    assert total == sum(VCPUS[i.instance_type] for i in fleet if i.state in q.COUNTED_STATES)


@given(fleet_st, st.sampled_from(sorted(VCPUS)))
def test_adding_a_running_instance_never_lowers_usage(fleet: list[Instance], itype: str) -> None:
    fam = q.quota_family(itype)
    assert fam is not None
    before = q.running_usage(fleet, fam, False, VCPUS).vcpus
    after = q.running_usage([*fleet, Instance(id="i-new", instance_type=itype, state="running")], fam, False, VCPUS)
    assert after.vcpus == before + VCPUS[itype]
