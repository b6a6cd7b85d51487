"""CMP003 image-not-found: missing, disabled and wrong-architecture images (moto) and near misses."""

from __future__ import annotations

from typing import Any

from preflight.collect.scenarios.compute import COMPUTE_PLAN, KNOWN_MOTO_IMAGES
from preflight.inventory.model import Inventory, Unreadable
from tests.rules.cmp_support import READY_PLAN, REGION, blockers, extras_in_moto, ready, run

X86_TYPES = {"types": {"g4dn.xlarge": {"vcpus": 4, "architectures": ["x86_64"]}}}


def img(**facts: Any) -> Inventory:
    data = {"image": "ami-1", "found": True, "state": "available", "architecture": "x86_64", "name": "base", **facts}
    return Inventory(region=REGION, extra={"images": data, "instance_types": X86_TYPES})


def test_image_missing_in_the_region_in_moto() -> None:
    [f] = run("CMP003", blockers(), COMPUTE_PLAN)
    assert (f.rule, f.status, f.severity, f.resource) == ("CMP003", "FAIL", "high", "ami-0abcdef1234567890")
    assert "image ami-0abcdef1234567890 does not exist in eu-south-1" in f.message
    assert "InvalidAMIID.NotFound" in f.message
    assert f.fix is not None and any(c.startswith("aws ec2 copy-image --source-region SOURCE_REGION "
                                                  "--source-image-id ami-0abcdef1234567890") for c in f.fix.commands)
    assert any("Name=architecture,Values=x86_64" in c for c in f.fix.commands)


def test_near_miss_an_available_image_of_the_right_architecture() -> None:
    assert ready().extra["images"]["architecture"] == "x86_64"
    assert run("CMP003", ready(), READY_PLAN) == []


def test_arm64_image_for_an_x86_type_and_a_disabled_image_in_moto(moto_amis: None) -> None:
    arm = KNOWN_MOTO_IMAGES["arm64"]
    i = extras_in_moto(lambda s: None, {"instance_type": "g4dn.xlarge", "image": arm}, "images", "instance_types")
    [f] = run("CMP003", i, {"instance_type": "g4dn.xlarge", "image": arm})
    assert f.resource == arm and f.path == (arm, "g4dn.xlarge")
    assert f"image {arm} (al2022-ami-2022.0.20220728.1-kernel-5.15-arm64) is arm64" in f.message
    assert "but g4dn.xlarge runs x86_64: RunInstances would fail with InvalidParameterValue" in f.message

    x86 = KNOWN_MOTO_IMAGES["x86_64"]
    i = extras_in_moto(lambda s: s.ec2.disable_image(ImageId=x86), {"instance_type": "m5.large", "image": x86},
                       "images")
    [f] = run("CMP003", i, {"instance_type": "m5.large", "image": x86})
    assert f.resource == x86 and "is in state disabled, not available" in f.message


def test_pure_variants() -> None:
    assert run("CMP003", img(), {"instance_type": "g4dn.xlarge", "image": "ami-1"}) == []
    [f] = run("CMP003", img(state="pending"), {"instance_type": "g4dn.xlarge", "image": "ami-1"})
    assert "state pending" in f.message
    # Unknown instance type facts: the architecture cannot be compared, the image itself is fine.
    assert run("CMP003", img(architecture="arm64"), {"instance_type": "zz9.large", "image": "ami-1"}) == []
    assert run("CMP003", img(), {"instance_type": "g4dn.xlarge"}) == []  # no image in the plan


def test_unreadable_images_is_unknown_with_the_permission() -> None:
    i = Inventory(region=REGION, unreadable=(Unreadable("images", "UnauthorizedOperation", "ec2:DescribeImages"),))
    [f] = run("CMP003", i, {"image": "ami-1"})
    assert f.status == "UNKNOWN" and "grant ec2:DescribeImages" in f.message
