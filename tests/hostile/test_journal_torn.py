"""A crash mid-write leaves the journal's last line cut short (issue 16 item 18): that line is in
doubt, everything else is still undone, and undo can run twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.collect.sandbox import get_scenario
from preflight.undo import apply_undo, plan_undo, render_undo
from tests.unit.netfix_support import account, apply, state


def _tear(path: Path, how: str) -> None:
    text = path.read_text()
    if how == "cut-last-outcome":  # died while writing the last `done`
        path.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").rsplit("\n", 1)[1][:17])
    elif how == "cut-begin":  # died while writing a `begin`: that call was never made
        path.write_text(text + '{"change": {"call": {"operation": "create_rou')
    elif how == "garbage-tail":
        path.write_text(text + "\x00\x00\x00")


@pytest.mark.parametrize("how", ["cut-last-outcome", "cut-begin", "garbage-tail"])
def test_a_torn_last_line_is_in_doubt_and_the_rest_is_undone(tmp_path: Path, how: str) -> None:
    with account(get_scenario("main-table-shadowed").seed) as (session, _):
        before = state(session)
        _, outcomes, journal = apply(session, tmp_path)
        assert outcomes and all(o.status == "applied" for o in outcomes)
        _tear(journal.path, how)
        run = plan_undo(journal.path)
        assert run.torn_line > 1 and run.steps
        assert "is torn" in render_undo(run)
        done = apply_undo(run, session)
        assert done.exit_code() == 0, render_undo(done)
        assert state(session) == before
        again = plan_undo(journal.path)  # the journal stays readable after undo appended to it
        assert again.steps == [] and again.already_undone >= 1


def test_damage_before_the_last_line_is_still_bad_input(tmp_path: Path) -> None:
    from preflight.errors import PreflightError

    bad = tmp_path / "j.jsonl"
    bad.write_text('{"event": "run"}\n{"event": "beg\n{"event": "done", "seq": 1}\n')
    with pytest.raises(PreflightError, match="j.jsonl:2: not a JSON line"):
        plan_undo(bad)
