"""The `preflight` command line: thin typer commands that parse arguments and call the core.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage, input or
credential error; 3 the check was incomplete (something UNKNOWN) and nothing failed.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import typer

from preflight import __version__, commands
from preflight.commands import EXIT_INTERRUPTED, EXIT_TERMINATED, Common, common, err  # noqa: F401 - re-exported
from preflight.commands import split as _split
from preflight.errors import PreflightError, one_line
from preflight.textsafe import terminal

EXIT_HELP = (
    "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on; "
    "2 usage, input or credential error; 3 incomplete (something UNKNOWN) and nothing failed."
)

app = typer.Typer(
    name="preflight",
    help="Find what will make a cloud launch fail, before it fails, with the exact fix.\n\n" + EXIT_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(help="Sandbox scenarios (moto in process, no account needed).", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
ports_app = typer.Typer(help="The replica port ledger (reservations, leases, zombies).", no_args_is_help=True)
app.add_typer(ports_app, name="ports")


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"preflight {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                       help="Print the version and exit.")) -> None:
    """Find what will make a cloud launch fail, before it fails, with the exact fix."""

# --- options shared by commands that read an account ------------------------------------------
RegionOpt = typer.Option([], "--region", "-r", help="Region to check (repeatable).")
ProfileOpt = typer.Option(None, "--profile", help="AWS profile from your AWS config.")
EndpointOpt = typer.Option(None, "--endpoint-url", help="AWS endpoint (moto, LocalStack); also AWS_ENDPOINT_URL.")
SandboxOpt = typer.Option(None, "--sandbox", metavar="[SCENARIO]",
                          help="Use an in-process moto account seeded with SCENARIO (default no-default-route).")
SnapshotOpt = typer.Option(None, "--snapshot", help="Check a saved snapshot offline.")
PlanOpt = typer.Option(None, "--plan", help="Launch plan YAML (preflight launch.yaml or a SkyPilot task).")
PortsOpt = typer.Option(None, "--ports", help="Ports the launch needs, e.g. 8000,8002,8004 or 8000-8010.")
SgOpt = typer.Option(None, "--security-group", help="Security group (id or name) the launch uses.")
SourceOpt = typer.Option(None, "--source-cidr", help="Where traffic to the ports comes from (default 0.0.0.0/0).")
SelectOpt = typer.Option([], "--select", help="Rule ids or prefixes to run (repeatable or comma-separated).")
IgnoreOpt = typer.Option([], "--ignore", help="Rule ids or prefixes to skip (repeatable or comma-separated).")
# --- check's CI-gate options --------------------------------------------------------------------
ProfilesOpt = typer.Option([], "--profile", help="AWS profile from your AWS config (repeatable: one account each).")
AllRegionsOpt = typer.Option(False, "--all-regions", help="Check every region enabled for the account.")
FailOnOpt = typer.Option(None, "--fail-on",
                         help="Lowest severity that makes the exit code 1 (default: the config's fail-on, else low).")
ConfigOpt = typer.Option(None, "--config",
                         help="Config file (default: the nearest .preflight.toml, or pyproject.toml with "
                              "[tool.preflight], from the current directory upward).")
BaselineOpt = typer.Option(None, "--baseline", help="Fail only on findings that are not in this baseline file.")
WriteBaselineOpt = typer.Option(None, "--write-baseline", help="Record the current findings as a baseline file.")
ReportFormatsOpt = typer.Option([], "--format", "-f", metavar="FORMAT[=PATH]",
                                help="table, json, sarif, junit, github (annotations) or markdown; repeatable: "
                                     "FORMAT=PATH writes that report to a file (one run, several reports).")
StatsOpt = typer.Option(False, "--stats", help="Print API calls, pages, seconds per stage and resources seen.")
LedgerOpt = typer.Option(None, "--ledger", metavar="URL",
                         help="Port ledger: sqlite:///PATH or dynamodb://TABLE?region=R (default: "
                              "$PREFLIGHT_PORTS_LEDGER, else ports-ledger in the config, else the local file).")
LauncherOpt = typer.Option(None, "--launcher",
                           help="Who runs the launch: skypilot, ray, ec2 or preflight (default: detected from the "
                                "plan file). Findings follow that launcher's own rules and words.")
ClusterOpt = typer.Option(None, "--cluster", help="Cluster name (SkyPilot/Ray derive the security group from it).")


def _in_range(flag: str, value: float, low: float, high: float) -> None:
    """A numeric flag within [low, high]; NaN and infinities are refused too (they pass `>=`)."""
    if not math.isfinite(value) or not low <= value <= high:
        raise PreflightError(f"{flag} {value}: expected a number from {low:g} to {high:g}")


def emit(text: str, output: str | None, formats: tuple[str, ...] = ()) -> None:
    """Write a report to --output (and say so on stderr) or to stdout."""
    from preflight.report.outputs import check_output_value

    check_output_value(output, formats)
    if output:
        try:
            Path(output).write_text(text)
        except OSError as exc:
            raise PreflightError(f"cannot write {output}: {exc.strerror}") from None
        err.print(terminal(f"report written to {output}"), markup=False)
    else:
        sys.stdout.write(text)


@app.command(epilog=EXIT_HELP)
def check(
    region: list[str] = RegionOpt,
    profile: list[str] = ProfilesOpt,
    all_regions: bool = AllRegionsOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
    snapshot: str = SnapshotOpt,
    plan: str = PlanOpt,
    ports: str = PortsOpt,
    security_group: str = SgOpt,
    source_cidr: str = SourceOpt,
    select: list[str] = SelectOpt,
    ignore: list[str] = IgnoreOpt,
    fmt: list[str] = ReportFormatsOpt,
    output: str = typer.Option(None, "--output", "-o",
                               help="Write the report of the --format given without =PATH to this file."),
    fail_on: str = FailOnOpt,
    config: str = ConfigOpt,
    baseline: str = BaselineOpt,
    write_baseline: str = WriteBaselineOpt,
    stats: bool = StatsOpt,
    dry_run_launch: bool = typer.Option(False, "--dry-run-launch",
                                        help="Also ask EC2 RunInstances with DryRun=True for the plan (CMP006)."),
    cloud: str = typer.Option(None, "--cloud", help="aws (default) or gcp (default: the plan's cloud)."),
    project: str = typer.Option(None, "--project", help="GCP project id (default: the plan's project)."),
    gcp_credentials: str = typer.Option(None, "--gcp-credentials",
                                        help="GCP credentials JSON (service-account key); default: ADC."),
    gcp_endpoint: str = typer.Option(None, "--gcp-endpoint", envvar="PREFLIGHT_GCP_ENDPOINT",
                                     help="Another GCP API endpoint (tests, emulators)."),
    simulate: bool = typer.Option(False, "--simulate",
                                  help="Ask IAM (SimulatePrincipalPolicy) instead of evaluating policies locally."),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore cached permission verdicts and re-check."),
    launcher: str = LauncherOpt,
    cluster: str = ClusterOpt,
) -> int:
    """Check an account (or --sandbox / --snapshot) and report what will make a launch fail."""
    return commands.check(
        region=region, profile=profile, all_regions=all_regions, endpoint_url=endpoint_url, sandbox=sandbox,
        snapshot=snapshot, plan=plan, ports=ports, security_group=security_group, source_cidr=source_cidr,
        select=select, ignore=ignore, fmt=fmt, output=output, fail_on=fail_on, config=config, baseline=baseline,
        write_baseline=write_baseline, stats=stats, dry_run_launch=dry_run_launch, cloud=cloud, project=project,
        gcp_credentials=gcp_credentials, gcp_endpoint=gcp_endpoint, simulate=simulate, refresh=refresh,
        launcher=launcher, cluster=cluster)


FixerOpt = typer.Option([], "--fixer", help="Only these fixers (repeatable or comma-separated).")
FIX_EXIT_HELP = (
    "Exit codes: dry run 0 nothing to change, 1 changes planned; --apply 0 every fixable finding is gone "
    "on the re-check, 1 something is left or failed; 2 usage or input error (nothing changed); "
    "3 instead of 0 when something could not be read."
)


UNSAFE_HELP = ("Also apply unsafe changes (they touch resources beyond the finding or cannot be undone; "
               "`preflight fixers` says which and why).")


@app.command(epilog=FIX_EXIT_HELP)
def fix(
    region: list[str] = RegionOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
    snapshot: str = SnapshotOpt,
    plan: str = PlanOpt,
    ports: str = PortsOpt,
    security_group: str = SgOpt,
    source_cidr: str = SourceOpt,
    select: list[str] = SelectOpt,
    ignore: list[str] = IgnoreOpt,
    apply: bool = typer.Option(False, "--apply", help="Make the changes (default: show the plan, change nothing)."),
    allow_world: bool = typer.Option(False, "--allow-world",
                                     help="Allow opening admin ports (22, 3389, databases) to 0.0.0.0/0 or ::/0."),
    max_changes: int = typer.Option(None, "--max-changes", help="Refuse to apply a plan with more changes than N."),
    fixer: list[str] = FixerOpt,
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help=UNSAFE_HELP),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    config_file: str = typer.Option(None, "--config", help="Config file (default: nearest .preflight.toml)."),
) -> int:
    """Fix what check finds: print the plan of AWS calls (dry run), or make them with --apply,
    journalling each call first, then re-check. Only safe changes unless --unsafe-fixes."""
    from preflight.config import load_config
    from preflight.fix import render_fix, run_fix
    from preflight.runner import open_target

    if fmt not in ("table", "json"):
        raise PreflightError(f"unknown format {fmt!r} (table or json)")
    opts = common(region, profile, endpoint_url, sandbox, snapshot, plan, ports, security_group, source_cidr,
                  select, ignore)
    options = {"allow_world": allow_world}
    rule_options = load_config(config_file).rule_options()
    with open_target(opts.target, opts.plan) as source:
        with err.status("Reading the account and planning fixes…", spinner="dots"):
            result = run_fix(source, opts.plan, opts.select, opts.ignore, apply=apply, options=options,
                             config=rule_options, max_changes=max_changes, only=_split(fixer),
                             command=" ".join(["preflight", *sys.argv[1:]]), unsafe_fixes=unsafe_fixes)
    sys.stdout.write(render_fix(result, fmt))
    return result.exit_code()


LAUNCH_EXIT_HELP = (
    "Exit codes: 0 launched and verified (dry run: the launch would go through); 1 blocked by findings, "
    "a failed stage or verification; 2 usage, input or credential error (nothing changed)."
)


@app.command(epilog=LAUNCH_EXIT_HELP)
def launch(
    plan_file: str = typer.Argument(..., metavar="PLAN", help="Launch plan YAML (launch.yaml or a SkyPilot task)."),
    apply: bool = typer.Option(False, "--apply", help="Launch (default: print every step, change nothing)."),
    fix_: bool = typer.Option(False, "--fix", help="Fix blocking findings first (journalled, undoable)."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help=UNSAFE_HELP),
    region: list[str] = RegionOpt,
    profile: str = typer.Option(None, "--profile", help="AWS profile from your AWS config."),
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
    max_changes: int = typer.Option(None, "--max-changes", help="Refuse a fix plan with more changes than N."),
    allow_world: bool = typer.Option(False, "--allow-world", help="Allow admin ports open to 0.0.0.0/0 or ::/0."),
    retry_attempts: int = typer.Option(6, "--retry-attempts", help="Calls per request EC2 answers NotFound."),
    retry_base: float = typer.Option(3.0, "--retry-base", help="First backoff in seconds (doubles each retry)."),
    retry_jitter: float = typer.Option(2.0, "--retry-jitter", help="Random extra seconds added to each backoff."),
    wait_timeout: float = typer.Option(600.0, "--wait-timeout", help="Seconds to wait for instances to run."),
    select: list[str] = SelectOpt,
    ignore: list[str] = IgnoreOpt,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    config_file: str = typer.Option(None, "--config", help="Config file (default: nearest .preflight.toml)."),
    ledger: str = LedgerOpt,
    launcher: str = LauncherOpt,
    cluster: str = ClusterOpt,
) -> int:
    """Launch a plan: check -> fix (--fix) -> security group and missing ports -> run instances ->
    wait (retrying eventual consistency) -> replica ports -> verify -> record. Dry run by default."""
    from preflight.config import load_config
    from preflight.launch.pipeline import LaunchSettings
    from preflight.launch.pipeline import launch as run_launch
    from preflight.launch.render import launch_json, launch_text, stage_text
    from preflight.launch.retry import RetryPolicy
    from preflight.runner import open_target

    if fmt not in ("table", "json"):
        raise PreflightError(f"unknown format {fmt!r} (table or json)")
    _in_range("--retry-attempts", retry_attempts, 1, 100)
    _in_range("--retry-base", retry_base, 0, 3600)
    _in_range("--retry-jitter", retry_jitter, 0, 3600)
    _in_range("--wait-timeout", wait_timeout, 0, 86400)
    if max_changes is not None:
        _in_range("--max-changes", max_changes, 0, 1_000_000)
    opts = common(region, profile, endpoint_url, sandbox, None, plan_file, select=select, ignore=ignore,
                  launcher=launcher, cluster=cluster)
    cfg = load_config(config_file)
    settings = LaunchSettings(
        apply=apply, fix=fix_, unsafe_fixes=unsafe_fixes, max_changes=max_changes, allow_world=allow_world,
        select=opts.select,
        ignore=opts.ignore,
        retry=RetryPolicy(attempts=retry_attempts, base=retry_base, jitter=retry_jitter), wait_timeout=wait_timeout,
        config=cfg.rule_options(), command=" ".join(["preflight", *sys.argv[1:]]), ledger=ledger,
        ledger_config=cfg.ports_ledger)
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True) if fmt == "table" else err
    with open_target(opts.target, opts.plan) as source:
        with err.status("Launching: check…", spinner="dots") as status:
            def progress(st: Any) -> None:
                out.print(stage_text(st), markup=False)
                status.update(f"Launching: after {st.name}…")

            result = run_launch(source, opts.plan, settings, progress)
    sys.stdout.write(launch_json(result) if fmt == "json" else launch_text(result, stages_shown=True))
    return result.exit_code()


def _session_for(region: str, profile: str | None, endpoint_url: str | None) -> tuple[Any, dict[str, str]]:
    from preflight.collect.aws import caller_identity
    from preflight.runner import Target, open_target

    with open_target(Target(regions=[region], profile=profile, endpoint_url=endpoint_url)) as source:
        return source.session, caller_identity(source.session, region)


@app.command()
def down(
    launch_id: str = typer.Argument(..., help="The launch id printed by preflight launch."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be removed, change nothing."),
    profile: str = typer.Option(None, "--profile", help="AWS profile from your AWS config."),
    endpoint_url: str = EndpointOpt,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    ledger: str = typer.Option(None, "--ledger", metavar="URL",
                               help="Port ledger to release in (default: the one the launch used)."),
    config_file: str = typer.Option(None, "--config", help="Config file (default: nearest .preflight.toml)."),
) -> int:
    """Take a launch down: terminate its instances, delete the security group it created (never one you
    made), release its replica ports."""
    from preflight.config import load_config
    from preflight.launch.down import down as run_down
    from preflight.launch.records import load_record

    record = load_record(launch_id)
    if record.sandbox:
        from preflight.launch.down import check_record_target

        check_record_target(record, None)
    session, identity = _session_for(record.region, profile, endpoint_url or record.endpoint_url or None)
    with err.status(f"Taking down {launch_id}…", spinner="dots"):
        result = run_down(session, launch_id, dry_run=dry_run, identity=identity, ledger=ledger,
                          config_ledger=load_config(config_file).ports_ledger)
    if fmt == "json":
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        marks = {"ok": "✓", "planned": "·", "skipped": "-", "failed": "✗", "note": "i"}
        lines = [f"{marks.get(s, '?')} {t}" for s, t in result.steps]
        head = f"preflight down {launch_id}" + (" --dry-run (nothing changed)" if dry_run else "")
        sys.stdout.write("\n".join([head, *lines]) + "\n")
    return result.exit_code()


@app.command()
def undo(
    journal: str = typer.Argument(..., metavar="JOURNAL", help="A journal file printed by fix --apply or launch."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the undo calls, change nothing."),
    profile: str = typer.Option(None, "--profile", help="AWS profile from your AWS config."),
    endpoint_url: str = EndpointOpt,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> int:
    """Reverse the changes a journal records, newest first (done and in-doubt calls)."""
    from preflight.undo import apply_undo, check_target, plan_undo, render_undo

    run = plan_undo(journal)
    # An in-doubt step looked up when undo runs (`find`) has no call yet, and needs the account too.
    regions = sorted({c.region for s in run.steps for c in (s.call or s.find,) if c and c.region}) or \
        list(run.header.get("regions") or [])
    if str(run.header.get("source", "")).startswith("sandbox"):
        check_target(run, None, None)
    if not dry_run and any(s.todo for s in run.steps):
        session, identity = _session_for(regions[0] if regions else "us-east-1", profile, endpoint_url)
        check_target(run, session, identity)
        with err.status("Undoing…", spinner="dots"):
            apply_undo(run, session)
    run.applied = not dry_run
    sys.stdout.write(render_undo(run, fmt))
    return run.exit_code()


def _ledger(ledger: str | None, config_file: str | None, profile: str | None, endpoint_url: str | None,
            sandbox: str | None, check: bool = True) -> Any:
    """The ledger a ports command names (--ledger, $PREFLIGHT_PORTS_LEDGER, config, local file)."""
    from preflight.config import load_config
    from preflight.ports import command_ledger, resolve_ledger_url

    url = resolve_ledger_url(ledger, load_config(config_file).ports_ledger)
    return command_ledger(url, profile=profile, endpoint_url=endpoint_url, sandbox=sandbox, check=check)


def _table_or_json(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise PreflightError(f"--format: unknown format {fmt!r} (table or json)")


PortsFormatOpt = typer.Option("table", "--format", "-f", help="table or json.")
PortsConfigOpt = typer.Option(None, "--config", help="Config file (default: nearest .preflight.toml).")
PortsSandboxOpt = typer.Option(None, "--sandbox", metavar="[SCENARIO]",
                               help="Use the in-process moto account (a DynamoDB ledger table is created in it).")


@ports_app.command("list")
def ports_list(
    host: str = typer.Option(None, "--host", help="Only this host (instance id)."),
    owner: str = typer.Option(None, "--owner", help="Only this owner (launch id)."),
    fmt: str = PortsFormatOpt,
    ledger: str = LedgerOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = PortsSandboxOpt,
    config_file: str = PortsConfigOpt,
) -> int:
    """Show the port ledger: every reservation, its owner, state and lease."""
    import time

    from preflight.launch.render import ports_table

    _table_or_json(fmt)
    with _ledger(ledger, config_file, profile, endpoint_url, sandbox, check=False) as book:
        rows = book.list(host=host, owner=owner) if book is not None else []
    if fmt == "json":
        sys.stdout.write(json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
    else:
        sys.stdout.write(ports_table(rows, time.time()))
    return 0


@ports_app.command("gc")
def ports_gc(
    ledger: str = LedgerOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = PortsSandboxOpt,
    config_file: str = PortsConfigOpt,
) -> int:
    """Reclaim expired leases (zombie reservations left by processes that died)."""
    with _ledger(ledger, config_file, profile, endpoint_url, sandbox, check=False) as book:
        gone = book.gc() if book is not None else []
    for r in gone:
        sys.stdout.write(f"reclaimed {r.host}:{r.port} (owner {r.owner}, pid {r.pid})\n")
    sys.stdout.write(f"{len(gone)} expired reservation(s) reclaimed\n")
    return 0


@ports_app.command("init")
def ports_init(
    ledger: str = LedgerOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    config_file: str = PortsConfigOpt,
) -> int:
    """Create the ledger: for dynamodb://TABLE, the table (on-demand billing, key host + port, TTL on)."""
    from preflight.config import load_config
    from preflight.ports import PortAllocator, open_ledger, resolve_ledger_url

    url = resolve_ledger_url(ledger, load_config(config_file).ports_ledger)
    if url.kind == "sqlite":
        with PortAllocator(url.path):
            pass
        sys.stdout.write(f"SQLite port ledger ready at {url.path} (created on first use; nothing else to do)\n")
        return 0
    from preflight.collect.aws import AwsSession

    session = AwsSession(profile=profile, endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None)
    with open_ledger(url, session) as book:
        lines = book.init()  # type: ignore[attr-defined]
        sys.stdout.write("\n".join(lines) + f"\nledger ready: {book.url}\n")
    return 0


@ports_app.command("reserve")
def ports_reserve(
    host: str = typer.Option(..., "--host", help="Host the ports are on (instance id, hostname)."),
    owner: str = typer.Option(..., "--owner", help="Who holds them (a job or deployment name); release with it."),
    port_range: str = typer.Option(..., "--range", help="Ports to choose from, e.g. 40000-40999."),
    count: int = typer.Option(1, "--count", "-n", help="How many distinct ports (all or none)."),
    lease: float = typer.Option(None, "--lease",
                                help="Seconds until the reservation expires unless released (default 600; "
                                     "0: held until `ports release`)."),
    service: str = typer.Option("", "--service", help="A label shown by `ports list`."),
    fmt: str = PortsFormatOpt,
    ledger: str = LedgerOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = PortsSandboxOpt,
    config_file: str = PortsConfigOpt,
) -> int:
    """Reserve COUNT ports on HOST for OWNER, atomically (no other process gets them): prints the ports,
    one per line (--format json: the reservations). Exit 1 if the range has too few free ports."""
    import math

    from preflight.ports import DEFAULT_LEASE_SECONDS, parse_port_range

    _table_or_json(fmt)
    lo, hi = parse_port_range(port_range)
    if count < 1 or count > hi - lo + 1:
        raise PreflightError(f"--count: {count} must be between 1 and the size of --range ({hi - lo + 1})")
    if lease is not None and (not math.isfinite(lease) or lease < 0):
        raise PreflightError(f"--lease: {lease} must be a number of seconds, 0 or more")
    if not host.strip() or not owner.strip():
        raise PreflightError("--host and --owner must not be empty")
    state = "active" if lease == 0 else "reserved"
    with _ledger(ledger, config_file, profile, endpoint_url, sandbox) as book:
        ports = book.allocate_many(host, owner, (lo, hi), count, service=service, state=state,
                                   lease=DEFAULT_LEASE_SECONDS if lease is None else lease)
        rows = [r for r in book.list(host=host, owner=owner) if r.port in ports]
        url = book.url
    if fmt == "json":
        sys.stdout.write(json.dumps({"ledger": url, "host": host, "owner": owner, "ports": ports,
                                     "reservations": [r.to_dict() for r in rows]}, indent=2) + "\n")
    else:
        sys.stdout.write("".join(f"{p}\n" for p in ports))
    return 0


@ports_app.command("release")
def ports_release(
    owner: str = typer.Option(..., "--owner", help="Release this owner's reservations."),
    host: str = typer.Option(None, "--host", help="Only on this host."),
    ledger: str = LedgerOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = PortsSandboxOpt,
    config_file: str = PortsConfigOpt,
) -> int:
    """Release an owner's reservations (only theirs: the ledger checks the owner on every delete)."""
    if not owner.strip():
        raise PreflightError("--owner must not be empty")
    with _ledger(ledger, config_file, profile, endpoint_url, sandbox) as book:
        n = book.release_owner(owner, host)
    where = f" on {host}" if host else ""
    sys.stdout.write(f"released {n} reservation(s) of {owner}{where}\n")
    return 0


@app.command("snapshot")
def snapshot_cmd(
    out: str = typer.Option(..., "--out", help="File to write the snapshot JSON to."),
    region: list[str] = RegionOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
) -> int:
    """Save what the account looks like to a file, for offline checks with --snapshot."""
    from preflight import engine as rule_engine
    from preflight.inventory import snapshot as snap
    from preflight.runner import needs_of, open_target

    out_dir = os.path.dirname(out) or "."
    if os.path.isdir(out) or not os.path.isdir(out_dir):  # before reading the account, not after
        reason = "Is a directory" if os.path.isdir(out) else f"no directory {out_dir}"
        raise PreflightError(f"cannot write snapshot {out}: {reason}")
    opts = common(region, profile, endpoint_url, sandbox, None, None)
    # The extra data (IAM, quotas, offerings...) the rules a default check runs need (opt-in rules
    # such as CMP006's RunInstances dry run are not). Rules whose data a snapshot lacks are UNKNOWN.
    needs = needs_of(rule_engine.select_rules(rule_engine.load_rules(), [], []))
    with open_target(opts.target, opts.plan) as source:
        with err.status("Reading the account…", spinner="dots"):
            inventories = source.collect(needs, opts.plan)
    snap.save(out, inventories)
    err.print(terminal(f"snapshot of {', '.join(i.region for i in inventories)} written to {out}"), markup=False)
    return 0


@app.command()
def graph(
    region: list[str] = RegionOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
    snapshot: str = SnapshotOpt,
    fmt: str = typer.Option("dot", "--format", "-f", help="dot (Graphviz) or json (node-link)."),
    output: str = typer.Option(None, "--output", "-o", help="Write to this file."),
) -> int:
    """Export how the network is wired: VPC, subnets, route tables, gateways, ACLs, groups."""
    from preflight import graph as g
    from preflight.report.outputs import check_output_value
    from preflight.runner import open_target

    if fmt not in ("dot", "json"):
        raise PreflightError(f"unknown graph format {fmt!r} (dot or json)")
    check_output_value(output, ("dot", "json"))
    opts = common(region, profile, endpoint_url, sandbox, snapshot, None)
    with open_target(opts.target, opts.plan) as source:
        inventories = source.collect()
    parts = [(g.to_dot if fmt == "dot" else g.to_json)(g.build(inv)) for inv in inventories]
    emit("".join(parts), output, ("dot", "json"))
    return 0


PATH_HELP = "Exit codes: 0 reachable; 1 unreachable; 2 usage or input error; 3 unknown (data unreadable)."


@app.command("path", epilog=PATH_HELP)
def path_cmd(
    src: str = typer.Option(..., "--from", help="Instance, ENI or subnet (id or Name tag), IP or CIDR, or 'internet'."),
    dst: str = typer.Option(..., "--to", help="Instance, ENI or subnet (id or Name tag), IP or CIDR, or 'internet'."),
    port: str = typer.Option(None, "--port", "-p", help="Destination port (tcp, udp)."),
    protocol: str = typer.Option(None, "--protocol", help="tcp, udp, icmp or all (default tcp with --port, else all)."),
    ipv6: bool = typer.Option(False, "--ipv6", help="Check the IPv6 path (implied by an IPv6 address or CIDR)."),
    region: list[str] = RegionOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
    snapshot: str = SnapshotOpt,
    plan: str = PlanOpt,
    security_group: str = typer.Option(None, "--security-group",
                                       help="Groups (ids or names, comma-separated) of an instance launched in a "
                                            "subnet SRC/DST (default: the plan's, else the VPC's default group)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or dot."),
    output: str = typer.Option(None, "--output", "-o", help="Write to this file."),
    all_blockers: bool = typer.Option(False, "--all-blockers", help="Show every blocking hop, not just the first."),
) -> int:
    """Can a packet get from --from to --to? Hop by hop (gateway, route, address, network ACL,
    security group), offline, IPv4 and IPv6; names the first blocking hop and the fix."""
    from preflight.report.outputs import check_output_value
    from preflight.report.path import FORMATS, render
    from preflight.runner import open_target
    from preflight.semantics import reach

    if fmt not in FORMATS:
        raise PreflightError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    check_output_value(output, FORMATS)
    port_no: int | None = None
    if port is not None:
        try:
            port_no = int(port)
        except ValueError:
            raise PreflightError(f"--port: {port!r} is not a port number") from None
    proto = protocol or ("tcp" if port_no is not None else "all")
    opts = common(region, profile, endpoint_url, sandbox, snapshot, plan, security_group=security_group)
    groups = tuple(_split([opts.plan.security_group])) if opts.plan.security_group else ()
    public_ip = opts.plan.public_ip if opts.plan.has("public_ip") else None
    reach.path_validate(proto, port_no)  # bad input fails before reading the account
    with open_target(opts.target, opts.plan) as source:
        with err.status("Reading the account…", spinner="dots"):
            inventories = source.collect()
    result, inventory = reach.path_in(inventories, src, dst, proto, port_no, security_groups=groups,
                                      public_ip=public_ip, version=6 if ipv6 else None)
    emit(render(result, fmt, inventory, all_blockers), output, FORMATS)
    return result.exit_code()


@app.command("rules")
def rules_cmd(fmt: str = typer.Option("table", "--format", "-f", help="table, json or markdown.")) -> int:
    """List the rule catalogue."""
    return commands.rules(fmt=fmt)


@app.command("fixers")
def fixers_cmd(fmt: str = typer.Option("table", "--format", "-f", help="table or json.")) -> int:
    """List the fixers: the rules each fixes, whether its changes are safe (applied by --apply) or
    unsafe (only with --unsafe-fixes) and why, and the IAM permissions it needs."""
    from preflight.fix.render import render_fixers

    sys.stdout.write(render_fixers(fmt))
    return 0


@app.command("schema")
def schema_cmd() -> int:
    """Print the JSON Schema of the preflight/v1 report (`check --format json`, `report.to_dict()`)."""
    from preflight.api import load_schema

    sys.stdout.write(json.dumps(load_schema(), indent=2) + "\n")
    return 0


@app.command()
def explain(rule_id: str = typer.Argument(..., help="Rule id, e.g. NET002.")) -> int:
    """Print one rule's full text: what it does, why, example, fix."""
    return commands.explain(rule_id=rule_id)


@app.command("iam-policy")
def iam_policy_cmd(
    purpose: str = typer.Option("check", "--for", metavar="check|fix|launch|skypilot|ray",
                                help="check: what preflight check reads (read-only, the default); fix and launch add "
                                     "what those change; skypilot, ray or launch with --plan: the least-privilege "
                                     "policy that launcher needs for the plan."),
    plan: str = typer.Option(None, "--plan", help="The task / cluster / launch file: the policy grants what this "
                                                  "launch uses, on the ARNs it implies."),
    region: str = typer.Option(None, "--region", help="Region for the ARNs (default: the plan's)."),
    account: str = typer.Option(None, "--account", help="AWS account id for the ARNs (default: the caller's, "
                                                        "from STS)."),
) -> int:
    """Print an IAM policy (JSON): what preflight itself needs (--for check|fix|launch, generated from the
    calls the collectors, fixers and launch declare), or what a launcher needs for a plan (--for
    skypilot|ray|launch --plan FILE, from the permission profiles the IAM rules check)."""
    from preflight.iam_policy import PURPOSES, render_policy
    from preflight.launch_policy import render_for_plan

    kind = purpose.strip().lower()
    if kind in ("skypilot", "ray") or (kind == "launch" and plan):
        sys.stdout.write(render_for_plan(kind, plan, region, account))
        return 0
    if kind in PURPOSES and (plan or region or account):
        raise PreflightError(f"iam-policy --for {kind}: --plan, --region and --account go with "
                             "--for skypilot|ray|launch (a launcher's policy for a plan)")
    if kind not in PURPOSES:
        raise PreflightError(f"--for: unknown purpose {purpose!r} (one of: {', '.join(PURPOSES)}, skypilot, ray)")
    sys.stdout.write(render_policy(kind))
    return 0


@sandbox_app.command("list")
def sandbox_list() -> int:
    """List the sandbox scenarios."""
    from preflight.collect.sandbox import DEFAULT_SCENARIO, load_scenarios

    for name, sc in load_scenarios().items():
        default = " (default)" if name == DEFAULT_SCENARIO else ""
        expect = f"  [{', '.join(sorted(sc.expect))}]" if sc.expect else ""
        sys.stdout.write(f"{name}{default}: {sc.description}{expect}\n")
    return 0


@app.command()
def version() -> int:
    """Print the version."""
    sys.stdout.write(f"preflight {__version__}\n")
    return 0


def _expand_optional_sandbox(argv: list[str]) -> list[str]:
    """`--sandbox` may stand alone (default scenario) or take a name; click cannot say that."""
    from preflight.collect.sandbox import DEFAULT_SCENARIO

    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg == "--sandbox" and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            out.append(DEFAULT_SCENARIO)
    return out


def _click_class(name: str) -> type[BaseException]:
    """A class of the click that typer runs on, found through typer's public exceptions: typer >= 0.16
    vendors its own click (typer._click) and no longer depends on click, older typer uses click itself,
    so preflight never imports click."""
    for base in (*typer.BadParameter.__mro__, *typer.Exit.__mro__, *typer.Abort.__mro__):
        if base.__name__ == name:
            return base
    raise LookupError(name)  # pragma: no cover - every typer since 0.1 has them


_CLICK_EXCEPTION = _click_class("ClickException")


def main(argv: list[str] | None = None) -> None:
    args = _expand_optional_sandbox(list(sys.argv[1:] if argv is None else argv))
    commands.run(lambda: _typer_app(args))


def _typer_app(args: list[str]) -> Any:
    """The typer app on `args`; what only typer raises (its exit, usage errors, abort) handled here,
    everything else by commands.run, as for the front door's commands."""
    try:
        return app(args=args, prog_name="preflight", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except _CLICK_EXCEPTION as exc:  # usage errors: one line, exit 2, not "internal"
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = exc.format_message()  # type: ignore[attr-defined]
        err.print(terminal(one_line(f"preflight: error: {message}{where}")), markup=False)
        sys.exit(2)
    except typer.Abort:
        commands.interrupted()


if __name__ == "__main__":  # pragma: no cover
    main()
