"""The `preflight` console script, with a lean front door for the commands that need no cloud.

CI gates and launch policies run preflight on every launch. `--version` is answered before anything
is imported; an offline `check --snapshot FILE`, `rules` and `explain RULE` are parsed here, without
the CLI framework (typer builds every parameter's converter with pydantic, and with click and rich
that costs several times what checking a small snapshot costs), and run the very command bodies the
typer commands run (preflight.commands). Anything this parser does not know exactly - another
command, an option it has no entry for, `--help`, a value that looks like an option, `--` - goes to
the full typer CLI (`preflight.cli.main`), which then decides as always. tests/unit/test_entry.py
holds the two to the same options, output and exit code.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# `check`'s options: flag -> (parameter, kind); kind "value" (last one wins), "multi" (repeatable,
# a list) or "flag" (a boolean switch). Must match preflight.cli.check (a test compares them).
CHECK_OPTIONS: dict[str, tuple[str, str]] = {
    "--region": ("region", "multi"), "-r": ("region", "multi"),
    "--profile": ("profile", "multi"),
    "--all-regions": ("all_regions", "flag"),
    "--endpoint-url": ("endpoint_url", "value"),
    "--snapshot": ("snapshot", "value"),
    "--plan": ("plan", "value"),
    "--ports": ("ports", "value"),
    "--security-group": ("security_group", "value"),
    "--source-cidr": ("source_cidr", "value"),
    "--select": ("select", "multi"),
    "--ignore": ("ignore", "multi"),
    "--format": ("fmt", "multi"), "-f": ("fmt", "multi"),
    "--output": ("output", "value"), "-o": ("output", "value"),
    "--fail-on": ("fail_on", "value"),
    "--config": ("config", "value"),
    "--baseline": ("baseline", "value"),
    "--write-baseline": ("write_baseline", "value"),
    "--stats": ("stats", "flag"),
    "--dry-run-launch": ("dry_run_launch", "flag"),
    "--cloud": ("cloud", "value"),
    "--project": ("project", "value"),
    "--gcp-credentials": ("gcp_credentials", "value"),
    "--gcp-endpoint": ("gcp_endpoint", "value"),
    "--simulate": ("simulate", "flag"),
    "--refresh": ("refresh", "flag"),
    "--launcher": ("launcher", "value"),
    "--cluster": ("cluster", "value"),
}
# Options whose value typer also takes from the environment when the flag is absent.
CHECK_ENVVARS = {"gcp_endpoint": "PREFLIGHT_GCP_ENDPOINT"}
RULES_OPTIONS: dict[str, tuple[str, str]] = {"--format": ("fmt", "value"), "-f": ("fmt", "value")}


def parse_options(args: list[str], table: dict[str, tuple[str, str]]) -> dict[str, Any] | None:
    """The options in `args` as click parses them, or None when `args` holds anything this parser
    does not handle exactly as click does (then the full CLI parses them)."""
    given: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("--") and "=" in arg:  # --name=value
            name, value = arg.split("=", 1)
            entry = table.get(name)
            if entry is None or entry[1] == "flag":
                return None
        elif arg in table:
            entry = table[arg]
            if entry[1] == "flag":
                given[entry[0]] = True
                continue
            if i >= len(args):
                return None  # click: "requires an argument"
            value = args[i]
            i += 1
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and table.get(arg[:2], ("", "flag"))[1] != "flag":
            entry, value = table[arg[:2]], arg[2:]  # -fjson: a short option with its value attached
        else:
            return None  # a positional argument, --help, --, an unknown option
        if value.startswith("-"):
            return None  # click would take it as the value; let it say what it means
        if entry[1] == "multi":
            given.setdefault(entry[0], []).append(value)
        else:
            given[entry[0]] = value
    return given


def lean_call(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """(command, keyword arguments of its body in preflight.commands) for the argument lists the
    front door runs itself, else None."""
    if not argv:
        return None
    command, rest = argv[0], argv[1:]
    if command == "check":
        given = parse_options(rest, CHECK_OPTIONS)
        if given is None or not given.get("snapshot"):
            return None  # an account or a sandbox to read: the SDKs are needed anyway
        kwargs: dict[str, Any] = {name: ([] if kind == "multi" else False if kind == "flag" else None)
                                  for name, kind in CHECK_OPTIONS.values()}
        kwargs.update({"sandbox": None, **given})
        for name, var in CHECK_ENVVARS.items():
            if kwargs[name] is None and os.environ.get(var):
                kwargs[name] = os.environ[var]
        return command, kwargs
    if command == "rules":
        given = parse_options(rest, RULES_OPTIONS)
        return None if given is None else (command, {"fmt": given.get("fmt", "table")})
    if command == "explain" and len(rest) == 1 and not rest[0].startswith("-"):
        return command, {"rule_id": rest[0]}
    return None


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["version"]):
        from preflight import __version__

        sys.stdout.write(f"preflight {__version__}\n")
        sys.exit(0)
    call = lean_call(argv)
    if call is None:
        from preflight.cli import main as cli_main

        cli_main()
        return
    from preflight import commands

    command, kwargs = call
    body = getattr(commands, command)
    commands.run(lambda: body(**kwargs))
