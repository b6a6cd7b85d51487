"""Values that were accepted silently (issue 16, item 20, the launch and config parts; the ports
parts live with the ledger): each is one line naming the flag or the file and line, exit 2."""

from __future__ import annotations

import pytest

from preflight.cli import main

LAUNCH_FLAGS = {
    "wait-timeout-negative": (["--wait-timeout", "-5"], "--wait-timeout"),
    "wait-timeout-nan": (["--wait-timeout", "nan"], "--wait-timeout"),
    "retry-base-nan": (["--retry-base", "nan"], "--retry-base"),
    "retry-base-inf": (["--retry-base", "inf"], "--retry-base"),
    "retry-jitter-negative": (["--retry-jitter", "-1"], "--retry-jitter"),
    "retry-attempts-zero": (["--retry-attempts", "0"], "--retry-attempts"),
    "max-changes-negative": (["--max-changes", "-3"], "--max-changes"),
}


@pytest.mark.parametrize("case", sorted(LAUNCH_FLAGS))
def test_launch_flags_are_validated_before_anything(case, capsys):
    args, flag = LAUNCH_FLAGS[case]
    with pytest.raises(SystemExit) as exc:
        main(["launch", "examples/launch.yaml", "--sandbox", "no-default-route", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith(f"preflight: error: {flag} ") and err.count("\n") == 1


def test_suppression_of_an_unknown_rule_is_refused(tmp_path, capsys):
    cfg = tmp_path / ".preflight.toml"
    cfg.write_text('[[suppress]]\nrule = "ZZZ001"\nresource = "*"\nreason = "typo"\n')
    snap = tmp_path / "missing.json"
    with pytest.raises(SystemExit) as exc:
        main(["check", "--snapshot", str(snap), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "ZZZ001" in err and f"{cfg}:1" in err


def test_suppression_of_a_known_prefix_or_glob_is_accepted(tmp_path, capsys):
    cfg = tmp_path / ".preflight.toml"
    cfg.write_text('[[suppress]]\nrule = "NET00?"\nresource = "*"\nreason = "ok"\n'
                   '[[suppress]]\nrule = "SG"\nresource = "*"\nreason = "ok"\n')
    with pytest.raises(SystemExit) as exc:
        main(["check", "--sandbox", "no-default-route", "--config", str(cfg)])
    assert exc.value.code == 0, capsys.readouterr().err
