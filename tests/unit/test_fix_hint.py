"""The `or: preflight fix …` hint after a check is a command that works: run as printed (without
--apply), it plans a change for that finding. It keeps the sandbox scenario, the plan file and the
plan flags given on the command line (without --ports, SG010's fixer would not know the ports), and
repeats nothing the plan file already says."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.plan import Plan, with_overrides
from preflight.report import fix_command, plan_flags

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, _ = capsys.readouterr()
    return int(exc.value.code or 0), out


@pytest.mark.parametrize(("check", "rule"), [
    (["--sandbox", "duplicate-port-rule", "--ports", "8000,8002,8004", "--select", "SG010"], "SG010"),
    (["--sandbox", "--region", "eu-south-1", "--plan", "examples/ray/cluster.yaml", "--select", "NET001"], "NET001"),
])
def test_the_printed_hint_plans_a_fix_for_its_finding(check: list[str], rule: str,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out = run(capsys, "check", *check)
    assert code == 1
    [hint] = [line.strip()[len("or: "):].rsplit(" (fixer ", 1)[0] for line in out.splitlines()
              if line.strip().startswith("or: preflight fix")]
    words = shlex.split(hint)
    assert words[:2] == ["preflight", "fix"] and words[-1] == "--apply"
    code, out = run(capsys, *words[1:-1])  # the dry run of the very same command
    assert f"fixes {rule}" in out, out


def test_flags_repeat_only_what_the_command_line_set(tmp_path: Path) -> None:
    plan_file = tmp_path / "launch.yaml"
    plan_file.write_text("region: eu-south-1\nports: [8000]\n")
    from_file = Plan(region="eu-south-1", ports=(8000,), source=str(plan_file))
    assert plan_flags(from_file) == ["--plan", str(plan_file)]  # the file says the ports already
    flagged = with_overrides(from_file, ports="9000", source_cidr="10.0.0.0/8")
    assert plan_flags(flagged) == ["--plan", str(plan_file), "--ports", "9000", "--source-cidr", "10.0.0.0/8"]
    assert plan_flags(with_overrides(None, security_group="my sg")) == ["--security-group", "my sg"]
    assert plan_flags(None) == []
    assert fix_command(["sandbox:x"], "eu-south-1", "SG010", with_overrides(None, security_group="a'b")) == (
        "preflight fix --sandbox x --region eu-south-1 --security-group 'a'\"'\"'b' --select SG010 --apply")


@pytest.mark.parametrize(("scenario", "rule", "fixer"), [
    ("duplicate-port-rule", "SG001", "sg-remove-duplicate-rules"),  # every change of this fixer is unsafe
    ("main-table-shadowed", "NET002", "route-add-default"),  # safe here: no --unsafe-fixes
])
def test_an_unsafe_fixer_s_hint_carries_unsafe_fixes_and_applies(scenario: str, rule: str, fixer: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Followed as printed, the hint makes the change: `--apply` alone skips an unsafe fixer's changes
    (and says so), so its hint must carry --unsafe-fixes; a safe fixer's must not."""
    from preflight.fix.registry import always_unsafe

    code, out = run(capsys, "check", "--sandbox", scenario, "--select", rule)
    assert code == 1
    [hint] = {line.strip()[len("or: "):].rsplit(" (fixer ", 1)[0] for line in out.splitlines()
              if line.strip().startswith("or: preflight fix") and f"(fixer {fixer})" in line}
    words = shlex.split(hint)
    assert ("--unsafe-fixes" in words) == always_unsafe(fixer)
    code, out = run(capsys, *words[1:])  # --apply, on the sandbox's in-process account
    assert code == 0, out
    assert "[applied]" in out and "skipped" not in out, out


def test_always_unsafe_is_the_fixers_declared_safety() -> None:
    from preflight.fix.registry import always_unsafe, load_fixers

    assert {f for f, x in load_fixers().items() if x.meta.safety == "unsafe"} == {
        f for f in load_fixers() if always_unsafe(f)}
    assert always_unsafe("sg-remove-duplicate-rules") and not always_unsafe("route-add-default")
    assert not always_unsafe("no-such-fixer")


def test_a_plugin_fixer_s_hint_asks_the_registry() -> None:
    """The near miss: a fixer that is not built in (a plugin's) is not in SAFETY; its hint still
    carries --unsafe-fixes when the registry says every change of it is unsafe."""
    from preflight.fix import registry
    from preflight.report import fix_command

    registry.load_fixers()
    registry.fixer(id="plugin-revoke-all", fixes=("SG001",), safety="unsafe")(lambda ctx, findings: ())
    try:
        assert "--unsafe-fixes" in fix_command([], "eu-south-1", "SG001", None, "plugin-revoke-all")
        assert "--unsafe-fixes" not in fix_command([], "eu-south-1", "NET002", None, "route-add-default")
    finally:
        del registry._FIXERS["plugin-revoke-all"]
