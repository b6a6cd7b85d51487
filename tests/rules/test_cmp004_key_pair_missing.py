"""CMP004 key-pair-missing: key pairs from moto, and the plan's local private key file."""

from __future__ import annotations

from pathlib import Path

from preflight.collect.scenarios.compute import COMPUTE_PLAN
from preflight.inventory.model import Inventory, Unreadable
from tests.rules.cmp_support import READY_PLAN, REGION, blockers, ready, run


def keys(*names: str) -> Inventory:
    return Inventory(region=REGION, extra={"key_pairs": {"names": sorted(names)}})


def test_key_pair_missing_in_moto() -> None:
    assert blockers().extra["key_pairs"]["names"] == ["other-key"]
    [f] = run("CMP004", blockers(), COMPUTE_PLAN)
    assert (f.rule, f.status, f.severity, f.resource) == ("CMP004", "FAIL", "medium", "compute-key")
    assert "key pair compute-key does not exist in eu-south-1" in f.message and "InvalidKeyPair.NotFound" in f.message
    assert f.fix is not None and f.fix.commands == (
        "aws ec2 import-key-pair --region eu-south-1 --key-name compute-key --public-key-material "
        "'fileb://~/.ssh/compute-key.pub'",)


def test_near_miss_key_pair_exists_in_moto() -> None:
    assert run("CMP004", ready(), READY_PLAN) == []


def test_names_are_case_sensitive_and_the_hint_says_so() -> None:
    [f] = run("CMP004", keys("Deploy"), {"key_name": "deploy"})
    assert "(a key pair named 'Deploy' exists: names are case-sensitive)" in f.message


def test_key_file_missing_or_too_open(tmp_path: Path) -> None:
    missing = tmp_path / "gone.pem"
    [f] = run("CMP004", keys("k"), {"key_name": "k", "key_file": str(missing)})
    assert f.resource == str(missing) and "does not exist" in f.message

    loose = tmp_path / "loose.pem"
    loose.write_text("not a real key")
    loose.chmod(0o644)
    [f] = run("CMP004", keys("k"), {"key_name": "k", "key_file": str(loose)})
    assert f.resource == str(loose) and "has mode 0644, wider than 0600" in f.message
    assert f.fix is not None and f.fix.commands == (f"chmod 600 -- {loose}",)
    # The import command uses the plan's own public key next to the private one.
    [f] = [x for x in run("CMP004", keys(), {"key_name": "k", "key_file": str(loose)}) if x.resource == "k"]
    assert f.fix is not None and f"fileb://{loose}.pub" in f.fix.commands[0]


def test_near_miss_key_file_0600_and_0400(tmp_path: Path) -> None:
    for mode in (0o600, 0o400):
        key = tmp_path / f"k{mode:o}.pem"
        key.write_text("not a real key")
        key.chmod(mode)
        assert run("CMP004", keys("k"), {"key_name": "k", "key_file": str(key)}) == []


def test_unreadable_key_pairs_is_unknown_with_the_permission() -> None:
    i = Inventory(region=REGION, unreadable=(Unreadable("key_pairs", "UnauthorizedOperation", "ec2:DescribeKeyPairs"),))
    [f] = run("CMP004", i, {"key_name": "k"})
    assert f.status == "UNKNOWN" and "grant ec2:DescribeKeyPairs" in f.message
