"""Command bodies shared by the typer CLI (preflight.cli) and the console script's lean front door
(preflight._entry), and the way both run them (exit codes, one-line errors, signals).

Nothing here imports typer, click or rich: an offline `check --snapshot`, `rules` or `explain`
parsed by the front door runs the very function the typer command runs, and costs what it uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from preflight.errors import PreflightError, one_line, redact_url
from preflight.out import ErrConsole
from preflight.textsafe import terminal

err = ErrConsole()

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM


@dataclass
class Common:
    """Options every account-reading command shares, parsed once."""

    target: Any
    plan: Any
    select: list[str]
    ignore: list[str]


def split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def common(region: list[str], profile: str | list[str] | None, endpoint_url: str | None, sandbox: str | None,
           snapshot: str | None, plan_file: str | None, ports: str | None = None,
           security_group: str | None = None, source_cidr: str | None = None,
           select: list[str] | None = None, ignore: list[str] | None = None, launcher: str | None = None,
           cluster: str | None = None, **plan_overrides: Any) -> Common:
    from preflight.plan import load_plan, with_overrides
    from preflight.runner import Target
    from preflight.settings import RunSettings

    if launcher:
        from preflight.launchers import get_profile

        get_profile(launcher)  # an unknown launcher: one line, exit 2, before anything is read
    plan = load_plan(plan_file, launcher, cluster) if plan_file else None
    if plan is None and sandbox:  # a scenario's own plan fields, under the command-line flags
        from preflight.collect.sandbox import get_scenario
        from preflight.plan import plan_from_dict

        scenario_plan = get_scenario(sandbox).plan
        plan = plan_from_dict(scenario_plan, f"sandbox scenario {sandbox}") if scenario_plan else None
    plan = with_overrides(plan, ports=ports, security_group=security_group, source_cidr=source_cidr,
                          launcher=launcher.lower() if launcher else None, cluster=cluster, **plan_overrides)
    profiles = split(profile) if isinstance(profile, list) else ([profile] if profile else [])
    target = Target(regions=split(region), profile=profiles[0] if profiles else None, profiles=profiles,
                    endpoint_url=endpoint_url, sandbox=sandbox, snapshot=snapshot,
                    settings=RunSettings.from_env(endpoint_url=endpoint_url))
    return Common(target=target, plan=plan, select=split(select or []), ignore=split(ignore or []))


def check(
    region: list[str], profile: list[str], all_regions: bool, endpoint_url: str | None, sandbox: str | None,
    snapshot: str | None, plan: str | None, ports: str | None, security_group: str | None,
    source_cidr: str | None, select: list[str], ignore: list[str], fmt: list[str], output: str | None,
    fail_on: str | None, config: str | None, baseline: str | None, write_baseline: str | None, stats: bool,
    dry_run_launch: bool, cloud: str | None, project: str | None, gcp_credentials: str | None,
    gcp_endpoint: str | None, simulate: bool, refresh: bool, launcher: str | None, cluster: str | None,
) -> int:
    """`preflight check`: the typer command and the front door both call this with every option."""
    import time

    from preflight.runner import gate_settings, open_target, render_stats, run_gate

    opts = common(region, profile, endpoint_url, sandbox, snapshot, plan, ports, security_group, source_cidr,
                  select, ignore, launcher=launcher, cluster=cluster)
    opts.target.all_regions = all_regions
    from preflight.report import formats
    from preflight.report.outputs import plan_outputs, write_reports

    outputs = plan_outputs(fmt, output, formats())
    from preflight import engine as rule_engine
    from preflight.collect.registry import non_gcp_rule_ids, resolve_cloud
    from preflight.settings import RunSettings

    on_gcp = resolve_cloud(cloud, opts.plan, sandbox) == "gcp"
    opts.target.settings = RunSettings.from_env(simulate=simulate, refresh=refresh, endpoint_url=endpoint_url)
    if on_gcp:  # only rules that can judge a GCP project run
        opts.ignore.extend(non_gcp_rule_ids(rule_engine.load_rules()))
    # CMP006 (opt-in) calls RunInstances with DryRun=True: only when asked for.
    gate = gate_settings(config, opts.select, opts.ignore, fail_on, baseline, plan,
                         enable=["CMP006"] if dry_run_launch else [])
    opened: Any
    if on_gcp:
        from preflight.collect.gcp import open_gcp_target

        opened = open_gcp_target(opts.target, opts.plan, project, gcp_credentials, gcp_endpoint)
    else:
        opened = open_target(opts.target, opts.plan)
    with opened as source:
        with err.status("Reading the account and checking…", spinner="dots"):
            report, notes = run_gate(source, opts.plan, gate, write_baseline)
    t0 = time.perf_counter()
    text, written = write_reports(report, outputs)
    report.stats["report_seconds"] = time.perf_counter() - t0
    for line in notes:
        err.print(terminal(f"preflight: {line}"), markup=False)
    for line in written:
        err.print(terminal(line), markup=False)
    sys.stdout.write(text)
    if stats:
        err.print(render_stats(report), markup=False, end="")
    # Writing a baseline accepts what was found: only an incomplete check (3) is still reported.
    code = report.exit_code(gate.fail_on)
    return 0 if write_baseline and code == 1 else code


def rules(fmt: str) -> int:
    """`preflight rules`."""
    from preflight.catalogue import render_catalogue

    sys.stdout.write(render_catalogue(fmt))
    return 0


def explain(rule_id: str) -> int:
    """`preflight explain RULE`."""
    from preflight.catalogue import explain_rule

    sys.stdout.write(explain_rule(rule_id))
    return 0


def interrupted() -> NoReturn:
    # Not through rich: Ctrl-C can land inside a console buffer (the spinner) and the line would be lost.
    sys.stderr.write("preflight: interrupted\n")
    sys.exit(EXIT_INTERRUPTED)


def _raise_terminated(signum: int, frame: Any) -> None:
    from preflight.errors import Terminated

    raise Terminated()


def run(call: Callable[[], Any]) -> NoReturn:
    """Run a command as the console script does, and exit: SIGTERM raised as `Terminated` in the main
    thread (restored afterwards for in-process callers), every failure one line with its exit code,
    never a traceback (PREFLIGHT_DEBUG=1 shows it)."""
    signals = _signals()
    # SIGTERM as an exception in the main thread (like Ctrl-C), so a write path cut short can still
    # say what it changed (preflight.fix.interrupted).
    try:
        previous = signals.signal(signals.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals are the main thread's
        previous = None
    try:
        _run(call)
    finally:
        if previous is not None:
            signals.signal(signals.SIGTERM, previous)


def _signals() -> Any:
    """The C module under `signal`: `signal` builds its enums when imported, a few ms on every start."""
    import importlib

    try:
        return importlib.import_module("_signal")
    except ImportError:  # pragma: no cover - CPython always has it
        import signal

        return signal


def _run(call: Callable[[], Any]) -> NoReturn:
    from preflight.errors import Terminated

    try:
        rv = call()
    except KeyboardInterrupt:
        interrupted()
    except Terminated:
        sys.stderr.write("preflight: terminated\n")
        sys.exit(EXIT_TERMINATED)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback for users
        _fail(exc)
    if rv == EXIT_INTERRUPTED:  # typer >= 0.16 turns Ctrl-C into a silent `return 130`
        interrupted()
    sys.exit(rv if isinstance(rv, int) else 0)


def _fail(exc: Exception) -> NoReturn:
    # Only a write path (preflight.fix.interrupted) raises ChangesInterrupted: if that module was never
    # imported, this is not one, and an offline command does not pay for importing the fix layer.
    fix_interrupted = sys.modules.get("preflight.fix.interrupted")
    if fix_interrupted is not None and isinstance(exc, fix_interrupted.ChangesInterrupted):
        # Changed something, then stopped: the full account of it, exit 1. Not through rich, like
        # `interrupted`: it must get out even when a console was mid-update.
        sys.stderr.write("".join(terminal(redact_url(line)) + "\n" for line in exc.lines))
        sys.exit(exc.exit_code)
    if isinstance(exc, PreflightError):
        err.print(terminal(redact_url(one_line(f"preflight: error: {exc}"))), markup=False)
        sys.exit(exc.exit_code)
    if os.environ.get("PREFLIGHT_DEBUG"):
        raise  # noqa: PLE0704 - called from the `except` in _run: re-raises the command's exception
    import botocore.exceptions
    import botocore.parsers

    if isinstance(exc, (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError)):
        from preflight.collect.aws import endpoint_problem

        problem = endpoint_problem(exc, os.environ.get("AWS_ENDPOINT_URL", ""))
        err.print(terminal(redact_url(one_line(f"preflight: error: {problem or exc}"))), markup=False)
        sys.exit(2)
    err.print(terminal(redact_url(one_line(f"preflight: internal error: {type(exc).__name__}: {exc} "
                                           "(set PREFLIGHT_DEBUG=1 for details)"))), markup=False)
    sys.exit(4)
