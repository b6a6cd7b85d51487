"""Start-up: the commands that need no cloud import no cloud SDK, moto or networkx. A CI gate or a
launch policy runs preflight on every launch; `--version`, `rules`, `explain` and an offline check
of a snapshot should cost what they use. Each command runs in a fresh interpreter (the console
script's own entry point) and the modules it imported are listed at exit. (How fast: bench/.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT = str(Path(__file__).parents[1] / "data" / "snapshot-no-default-route.json")
HEAVY = ("boto3", "botocore", "moto", "networkx", "google.cloud", "google.auth", "google.api_core", "grpc")
PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("MODULES=" + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["preflight", *json.loads(sys.argv[1])]
from preflight._entry import main
main()
"""


def modules_after(*argv: str) -> tuple[int, str, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES=")]
    assert line, proc.stderr
    return proc.returncode, proc.stdout, set(json.loads(line[-1][len("MODULES="):]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(("argv", "code", "says"), [
    (("--version",), 0, "preflight "),
    (("rules",), 0, "NET001 "),
    (("explain", "NET002"), 0, "NET002 subnet-without-default-route"),
    (("check", "--snapshot", SNAPSHOT), 1, "NET001 no-usable-subnet"),
    (("check", "--snapshot", SNAPSHOT, "--format", "json"), 1, '"rule": "NET001"'),
], ids=["version", "rules", "explain", "check-snapshot", "check-snapshot-json"])
def test_commands_without_a_cloud_import_no_cloud_sdk(argv, code, says):
    rc, out, modules = modules_after(*argv)
    assert rc == code and says in out, out
    assert heavy(modules) == []


def test_an_offline_check_s_fix_hints_import_no_fixer():
    """The hints name a fixer and its safety (`--unsafe-fixes`) from the fixers' declared table: an
    offline check applies nothing, so it loads no fixer and none of the fix machinery."""
    rc, out, modules = modules_after("check", "--snapshot", SNAPSHOT)
    assert rc == 1 and "or: preflight fix" in out and "(fixer " in out, out
    fix_modules = [m for m in modules if m == "preflight.fix" or m.startswith(("preflight.fix.", "preflight.fixers."))]
    assert fix_modules == []


def test_version_does_not_even_import_the_cli_framework():
    rc, out, modules = modules_after("--version")
    assert rc == 0 and out.startswith("preflight ")
    assert {"typer", "click", "rich", "preflight.cli"} & ({m.split(".")[0] for m in modules} | modules) == set()


def test_the_probe_sees_a_cloud_import_when_there_is_one():
    """The near miss: a command that reads an account does load boto3, and the probe says so."""
    rc, _, modules = modules_after("check", "--region", "nowhere-1")
    assert rc == 2 and "boto3" in heavy(modules)


def test_every_extra_collector_is_declared_with_its_module():
    """The offline path knows the extra data by this map, without importing the collectors."""
    from preflight.collect import aws
    from preflight.collect.registry import EXTRA_PROVIDERS, load_extra_collectors

    load_extra_collectors()
    assert {n: f.__module__ for n, f in aws.EXTRA_COLLECTORS.items()} == EXTRA_PROVIDERS


def test_every_report_format_is_registered_by_the_module_of_its_name():
    """`preflight.report.render` imports a built-in reporter only when its format is asked for."""
    import importlib

    from preflight import report

    for name in report._MODULES:
        importlib.import_module(f"preflight.report.{name}")
        assert report.REPORTERS[name].__module__ == f"preflight.report.{name}"
    assert report.formats() == sorted(report._MODULES)
