"""The `preflight` command line: thin typer commands that parse arguments and call the core.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage, input or
credential error; 3 the check was incomplete (something UNKNOWN) and nothing failed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console

from preflight import __version__, engine
from preflight.errors import PreflightError

EXIT_HELP = (
    "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on; "
    "2 usage, input or credential error; 3 incomplete (something UNKNOWN) and nothing failed."
)

app = typer.Typer(
    name="preflight",
    help="Find what will make a cloud launch fail, before it fails, with the exact fix.\n\n" + EXIT_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(help="Sandbox scenarios (moto in process, no account needed).", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

err = Console(stderr=True, highlight=False, soft_wrap=True)

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


@dataclass
class Common:
    """Options every account-reading command shares, parsed once."""

    target: Any
    plan: Any
    select: list[str]
    ignore: list[str]


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def common(region: list[str], profile: str | None, endpoint_url: str | None, sandbox: str | None,
           snapshot: str | None, plan_file: str | None, ports: str | None = None,
           security_group: str | None = None, source_cidr: str | None = None,
           select: list[str] | None = None, ignore: list[str] | None = None, **plan_overrides: Any) -> Common:
    from preflight.plan import load_plan, with_overrides
    from preflight.runner import Target

    plan = load_plan(plan_file) if plan_file else None
    plan = with_overrides(plan, ports=ports, security_group=security_group, source_cidr=source_cidr,
                          **plan_overrides)
    target = Target(regions=_split(region), profile=profile, endpoint_url=endpoint_url, sandbox=sandbox,
                    snapshot=snapshot)
    return Common(target=target, plan=plan, select=_split(select or []), ignore=_split(ignore or []))


def emit(text: str, output: str | None) -> None:
    """Write a report to --output (and say so on stderr) or to stdout."""
    if output:
        try:
            Path(output).write_text(text)
        except OSError as exc:
            raise PreflightError(f"cannot write {output}: {exc.strerror}") from None
        err.print(f"report written to {output}")
    else:
        sys.stdout.write(text)


@app.command(epilog=EXIT_HELP)
def check(
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
    fmt: str = typer.Option("table", "--format", "-f", help="table, json (more with preflight report formats)."),
    output: str = typer.Option(None, "--output", "-o", help="Write the report to this file."),
    fail_on: str = typer.Option("low", "--fail-on", help="Lowest severity that makes the exit code 1."),
    dry_run_launch: bool = typer.Option(False, "--dry-run-launch",
                                        help="Also ask EC2 RunInstances with DryRun=True for the plan (CMP006)."),
) -> int:
    """Check an account (or --sandbox / --snapshot) and report what will make a launch fail."""
    from preflight.report import render
    from preflight.runner import open_target, run_check

    if fail_on not in engine.SEVERITIES:
        raise PreflightError(f"--fail-on: {fail_on!r} is not one of {', '.join(engine.SEVERITIES)}")
    opts = common(region, profile, endpoint_url, sandbox, snapshot, plan, ports, security_group, source_cidr,
                  select, ignore)
    if not dry_run_launch:  # CMP006 calls RunInstances (DryRun=True): only when asked for
        opts.ignore.append("CMP006")
    from preflight.report import formats
    if fmt not in formats():
        raise PreflightError(f"unknown format {fmt!r} (one of: {', '.join(formats())})")
    with open_target(opts.target, opts.plan) as source:
        with err.status("Reading the account and checking…", spinner="dots"):
            report = run_check(source, opts.plan, opts.select, opts.ignore)
    emit(render(report, fmt), output)
    return report.exit_code(fail_on)


@app.command("snapshot")
def snapshot_cmd(
    out: str = typer.Option(..., "--out", help="File to write the snapshot JSON to."),
    region: list[str] = RegionOpt,
    profile: str = ProfileOpt,
    endpoint_url: str = EndpointOpt,
    sandbox: str = SandboxOpt,
) -> int:
    """Save what the account looks like to a file, for offline checks with --snapshot."""
    from preflight.inventory import snapshot as snap
    from preflight.runner import open_target

    opts = common(region, profile, endpoint_url, sandbox, None, None)
    with open_target(opts.target, opts.plan) as source:
        with err.status("Reading the account…", spinner="dots"):
            inventories = source.collect()
    snap.save(out, inventories)
    err.print(f"snapshot of {', '.join(i.region for i in inventories)} written to {out}")
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
    from preflight.runner import open_target

    if fmt not in ("dot", "json"):
        raise PreflightError(f"unknown graph format {fmt!r} (dot or json)")
    opts = common(region, profile, endpoint_url, sandbox, snapshot, None)
    with open_target(opts.target, opts.plan) as source:
        inventories = source.collect()
    parts = [(g.to_dot if fmt == "dot" else g.to_json)(g.build(inv)) for inv in inventories]
    emit("".join(parts), output)
    return 0


@app.command("rules")
def rules_cmd(fmt: str = typer.Option("table", "--format", "-f", help="table, json or markdown.")) -> int:
    """List the rule catalogue."""
    from preflight.catalogue import render_catalogue

    sys.stdout.write(render_catalogue(fmt))
    return 0


@app.command()
def explain(rule_id: str = typer.Argument(..., help="Rule id, e.g. NET002.")) -> int:
    """Print one rule's full text: what it does, why, example, fix."""
    from preflight.catalogue import explain_rule

    sys.stdout.write(explain_rule(rule_id))
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


def main(argv: list[str] | None = None) -> None:
    args = _expand_optional_sandbox(list(sys.argv[1:] if argv is None else argv))
    try:
        rv = app(args=args, prog_name="preflight", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except (KeyboardInterrupt, click.exceptions.Abort):
        err.print("preflight: interrupted")
        sys.exit(130)
    except PreflightError as exc:
        err.print(f"preflight: error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback for users
        import botocore.exceptions

        if os.environ.get("PREFLIGHT_DEBUG"):
            raise
        if isinstance(exc, botocore.exceptions.BotoCoreError):
            err.print(f"preflight: error: {exc}", markup=False)
            sys.exit(2)
        err.print(f"preflight: internal error: {type(exc).__name__}: {exc} (set PREFLIGHT_DEBUG=1 for details)",
                  markup=False)
        sys.exit(4)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
