"""The console script's lean front door (preflight._entry) and the typer CLI cannot drift: for every
argument list the front door runs itself, typer parses the same options for the same command body,
and both print the same bytes with the same exit code. What the front door does not know exactly,
it leaves to typer (None)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight import _entry, cli, commands

SNAPSHOT = str(Path(__file__).parents[1] / "data" / "snapshot-no-default-route.json")


class Captured(Exception):
    def __init__(self, command: str, kwargs: dict[str, Any]) -> None:
        super().__init__(command)
        self.command, self.kwargs = command, kwargs


def typer_call(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]] | str:
    """(command, keyword arguments) typer hands to the command body in preflight.commands, or the
    usage error it raises instead."""
    with monkeypatch.context() as m:
        for name in ("check", "rules", "explain"):
            def capture(_name: str = name, **kwargs: Any) -> int:
                raise Captured(_name, kwargs)
            m.setattr(commands, name, capture)
        try:
            cli.app(args=cli._expand_optional_sandbox(list(argv)), prog_name="preflight", standalone_mode=False)
        except Captured as c:
            return c.command, c.kwargs
        except cli._CLICK_EXCEPTION as exc:
            return f"usage error: {exc}"
    return "no command body ran"


def normalised(call: tuple[str, dict[str, Any]] | str) -> Any:
    if isinstance(call, str):
        return call
    command, kwargs = call
    return command, {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in kwargs.items()}


def test_the_option_table_is_the_typer_commands():
    """Every option of `check` (but --sandbox, left to typer) and of `rules`, with its kind."""
    group = typer.main.get_command(cli.app)
    for command, table, skip in (("check", _entry.CHECK_OPTIONS, {"sandbox"}), ("rules", _entry.RULES_OPTIONS, set())):
        expected = {}
        for p in group.commands[command].params:
            if p.name in skip:
                continue
            kind = "flag" if p.is_flag else "multi" if p.multiple else "value"
            assert not p.secondary_opts and p.nargs == 1, p.name
            expected.update({opt: (p.name, kind) for opt in p.opts})
            if p.envvar:
                assert _entry.CHECK_ENVVARS[p.name] == p.envvar
        assert table == expected, command
    assert [p.name for p in group.commands["explain"].params] == ["rule_id"]


CASES = [
    ["check", "--snapshot", SNAPSHOT],
    ["check", "--snapshot=" + SNAPSHOT, "-f", "json"],
    ["check", "--snapshot", SNAPSHOT, "-fjson", "--format", "sarif=out.sarif", "-o", "x.txt"],
    ["check", "--snapshot", SNAPSHOT, "--select", "NET,SG001", "--select", "IAM", "--ignore", "NET002"],
    ["check", "--snapshot", SNAPSHOT, "-r", "eu-south-1", "-reu-west-1", "--region=us-east-1", "--stats"],
    ["check", "--snapshot", "a", "--snapshot", "b", "--fail-on", "high", "--fail-on", "low", "--refresh"],
    ["check", "--snapshot", SNAPSHOT, "--plan", "launch.yaml", "--ports", "8000-8002", "--security-group", "sg-1",
     "--source-cidr", "10.0.0.0/8", "--launcher", "ray", "--cluster", "c1", "--config", "c.toml"],
    ["check", "--snapshot", SNAPSHOT, "--baseline", "b.json", "--write-baseline", "w.json", "--dry-run-launch",
     "--all-regions", "--simulate", "--cloud", "aws", "--project", "p", "--gcp-credentials", "k.json",
     "--gcp-endpoint", "http://x", "--profile", "a", "--profile", "b,c", "--endpoint-url", "http://e"],
    ["check", "--snapshot", SNAPSHOT, "--format", "", "--region="],
    ["rules"], ["rules", "-f", "json"], ["rules", "--format=markdown"], ["rules", "-fjson"], ["rules", "--format", "x"],
    ["explain", "NET002"], ["explain", "nope"],
]
# Left to typer: what the front door does not run itself.
TYPER_ONLY = [
    [], ["check"], ["check", "--region", "eu-south-1"], ["check", "--snapshot", SNAPSHOT, "--sandbox"],
    ["check", "--snapshot", SNAPSHOT, "--help"], ["check", "--snapshot", SNAPSHOT, "--no-such-option"],
    ["check", "--snapshot", SNAPSHOT, "extra"], ["check", "--snapshot", SNAPSHOT, "--"],
    ["check", "--snapshot", SNAPSHOT, "--output"], ["check", "--snapshot", SNAPSHOT, "--stats=yes"],
    ["check", "--snapshot", SNAPSHOT, "--select", "-x"], ["check", "--snapshot="], ["check", "--snapshot", ""],
    ["rules", "--help"], ["rules", "extra"], ["rules", "--format"], ["explain"], ["explain", "a", "b"],
    ["explain", "--help"], ["explain", "-x"], ["fix", "--snapshot", SNAPSHOT], ["--version", "check"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(a)[:60] for a in CASES])
def test_the_front_door_parses_as_typer_does(argv, monkeypatch):
    monkeypatch.delenv("PREFLIGHT_GCP_ENDPOINT", raising=False)
    lean = _entry.lean_call(argv)
    assert lean is not None
    assert normalised(lean) == normalised(typer_call(argv, monkeypatch))


def test_the_environment_fills_the_same_options(monkeypatch):
    monkeypatch.setenv("PREFLIGHT_GCP_ENDPOINT", "http://from-env")
    argv = ["check", "--snapshot", SNAPSHOT]
    lean = _entry.lean_call(argv)
    assert lean is not None and lean[1]["gcp_endpoint"] == "http://from-env"
    assert normalised(lean) == normalised(typer_call(argv, monkeypatch))


@pytest.mark.parametrize("argv", TYPER_ONLY, ids=[" ".join(a)[:60] or "-" for a in TYPER_ONLY])
def test_what_the_front_door_does_not_know_goes_to_typer(argv):
    assert _entry.lean_call(argv) is None


TOKENS = st.sampled_from([*_entry.CHECK_OPTIONS, "--sandbox", "--help", "--", "--no-stats", "-x", "-rf", "-fo",
                          "--snapshot=s.json", "--select=NET", "--format=", "--stats=1", "s.json", "NET", "",
                          "a=b", "-", "json", "--output=o"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["check", "rules", "explain"]), st.lists(TOKENS, max_size=8))
def test_any_argument_list_the_front_door_takes_typer_parses_the_same(monkeypatch, command, args):
    monkeypatch.delenv("PREFLIGHT_GCP_ENDPOINT", raising=False)
    argv = [command, *args]
    lean = _entry.lean_call(argv)
    if lean is not None:
        assert normalised(lean) == normalised(typer_call(argv, monkeypatch)), argv


def run_main(main: Any, argv: list[str], capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["preflight", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


OUTPUT_CASES = [
    ["check", "--snapshot", SNAPSHOT],
    ["check", "--snapshot", SNAPSHOT, "--format", "json", "--select", "NET"],
    ["check", "--snapshot", SNAPSHOT, "-f", "sarif", "--ignore", "NET001"],
    ["check", "--snapshot", SNAPSHOT, "--select", "NOPE"],
    ["check", "--snapshot", "/no/such/snapshot.json"],
    ["check", "--snapshot", SNAPSHOT, "--fail-on", "extreme"],
    ["check", "--snapshot", SNAPSHOT, "--cloud", "gcp"],
    ["rules"], ["rules", "--format", "json"], ["rules", "-f", "bogus"],
    ["explain", "NET002"], ["explain", "NOPE999"],
]


@pytest.mark.parametrize("argv", OUTPUT_CASES, ids=[" ".join(a[:1] + a[2:])[:60] for a in OUTPUT_CASES])
def test_the_front_door_prints_what_typer_prints(argv, capsys, monkeypatch):
    """Same bytes on stdout and stderr, same exit code; the near miss (an error) included."""
    assert _entry.lean_call(argv) is not None
    lean = run_main(_entry.main, argv, capsys, monkeypatch)
    typer_run = run_main(cli.main, argv, capsys, monkeypatch)
    assert lean == typer_run
    assert lean[1] or lean[2]
