"""State files are private and all live under PREFLIGHT_STATE_DIR (issue 16, item 19).

Journals, launch records and the port ledger say what exists in an account and how to change it:
0600 files in 0700 directories, whatever the umask, and all of them under $PREFLIGHT_STATE_DIR when
it is set (the journal used to ignore it and land in the user's state dir, 0644 in 0755).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.cli import main

PLAN = str(Path(__file__).resolve().parents[2] / "examples" / "launch.yaml")
FAST = ("--retry-base", "0", "--retry-jitter", "0")


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files 0644, directories 0755 unless preflight says otherwise
    try:
        yield
    finally:
        os.umask(old)


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


# (case, command, the state files it must leave, relative to the state dir: glob -> expected mode)
COMMANDS = [
    ("fix-apply", ["fix", "--sandbox", "no-default-route", "--select", "NET", "--apply"],
     {"journal/*.jsonl": 0o600, "journal": 0o700}),
    ("launch-apply", ["launch", PLAN, "--sandbox", "no-default-route", "--fix", "--apply", *FAST],
     {"journal/*.jsonl": 0o600, "journal": 0o700, "launches/*.json": 0o600, "launches": 0o700,
      "ports.sqlite3": 0o600}),
]


@pytest.mark.parametrize(("case", "args", "expected"), COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("existing", ["fresh", "loose-0755"])
def test_state_files_are_private_and_under_the_state_dir(case, args, expected, existing, tmp_path, monkeypatch,
                                                         open_umask, moto_amis, capsys):
    state = tmp_path / "state"
    if existing == "loose-0755":  # left by an older preflight: preflight's own directories are tightened
        for d in (state, state / "journal", state / "launches"):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(state))
    monkeypatch.delenv("PREFLIGHT_JOURNAL_DIR", raising=False)
    elsewhere = tmp_path / "xdg"
    monkeypatch.setenv("XDG_STATE_HOME", str(elsewhere))
    code = run(*args)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert mode(state) == 0o700
    for pattern, want in expected.items():
        found = list(state.glob(pattern))
        assert found, (pattern, sorted(str(p.relative_to(state)) for p in state.rglob("*")))
        for p in found:
            assert mode(p) == want, (str(p.relative_to(state)), oct(mode(p)))
    # nothing written outside the state dir
    assert not elsewhere.exists() or not any(p.is_file() for p in elsewhere.rglob("*"))
    # and the paths printed are the state dir's
    for line in out.splitlines():
        if "preflight undo " in line:
            assert str(state / "journal") in line, line


def test_journal_dir_override_keeps_a_user_named_directory_but_files_are_private(tmp_path, monkeypatch,
                                                                                 open_umask, capsys):
    """PREFLIGHT_JOURNAL_DIR names a directory of the user's (maybe shared with a group on
    purpose): its mode is left alone, but journals in it are still 0600."""
    shared = tmp_path / "team-journals"
    shared.mkdir()
    os.chmod(shared, 0o750)
    monkeypatch.setenv("PREFLIGHT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PREFLIGHT_JOURNAL_DIR", str(shared))
    assert run("fix", "--sandbox", "no-default-route", "--select", "NET", "--apply") == 0, capsys.readouterr()
    [journal] = shared.glob("*.jsonl")
    assert mode(journal) == 0o600 and mode(shared) == 0o750
