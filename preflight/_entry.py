"""The `preflight` console script. `--version` is answered before the CLI framework (typer, click,
rich) is imported: CI gates and launch policies run preflight on every launch, and a version probe
should cost about what starting Python costs. Everything else goes to `preflight.cli.main`."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["version"]):
        from preflight import __version__

        sys.stdout.write(f"preflight {__version__}\n")
        sys.exit(0)
    from preflight.cli import main as cli_main

    cli_main()
