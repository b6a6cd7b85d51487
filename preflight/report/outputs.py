"""Where the reports of one run go: `--format NAME[=PATH]` (repeatable) plus `--output PATH`.

One check can feed several CI consumers (a table in the log, SARIF for code scanning, JUnit for the
test tab) without reading the account again: `--format table --format sarif=report.sarif
--format junit=junit.xml`. `--output` keeps its meaning for the one format given without a path.
All of it is validated before anything is read, so a typo costs one line and exit 2, not a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from msgspec import Struct

from preflight.errors import PreflightError

# Every format name any preflight command knows: an --output value equal to one is a slip for --format.
ALL_FORMAT_NAMES = frozenset({"table", "json", "sarif", "junit", "github", "markdown", "dot"})
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Output(Struct, frozen=True):
    fmt: str
    path: str | None  # None: standard output


def check_output_value(output: str | None, formats: Sequence[str] = ()) -> None:
    """Refuse `--output json`: a format name there almost always means `--format json`."""
    if output is None:
        return
    if not output.strip():
        raise PreflightError("--output: empty file name")
    name = output.strip().lower()
    if name in ALL_FORMAT_NAMES or name in formats:
        raise PreflightError(f"--output {output!r} is a format name, not a file: did you mean --format {name}? "
                             f"(to write a file of that name: --output ./{output})")


def plan_outputs(specs: Sequence[str], output: str | None, formats: Sequence[str],
                 default: str = "table") -> list[Output]:
    """The reports to write, from the repeatable `--format NAME[=PATH]` and `--output PATH`."""
    check_output_value(output, formats)
    outputs: list[Output] = []
    for spec in specs or [default]:
        name, sep, path = spec.partition("=")
        name = name.strip().lower()
        if name not in formats:
            raise PreflightError(f"unknown format {name!r} in --format {spec!r} (one of: {', '.join(formats)})")
        if sep and not path.strip():
            raise PreflightError(f"--format {spec!r}: no file after '=' (e.g. --format {name}=report.{name})")
        if sep:
            check_output_value(path, formats)
        outputs.append(Output(name, path.strip() or None))
    to_stdout = [i for i, o in enumerate(outputs) if o.path is None]
    if output is not None:
        if len(to_stdout) != 1:
            raise PreflightError("--output names the file of the one --format given without '=PATH'; "
                                 f"{len(to_stdout)} are: give each its own file, e.g. --format sarif=report.sarif")
        outputs[to_stdout[0]] = Output(outputs[to_stdout[0]].fmt, output.strip())
    elif len(to_stdout) > 1:
        names = ", ".join(outputs[i].fmt for i in to_stdout)
        raise PreflightError(f"only one report can go to standard output ({names} would): give the others a "
                             f"file, e.g. --format {outputs[to_stdout[-1]].fmt}=report.{outputs[to_stdout[-1]].fmt}")
    seen: dict[str, str] = {}
    for o in outputs:
        if o.path is not None:
            parent = os.path.dirname(o.path) or "."
            if not os.path.isdir(parent):
                raise PreflightError(f"cannot write the {o.fmt} report to {o.path}: no directory {parent}")
            if o.path in seen:
                raise PreflightError(f"--format {seen[o.path]} and --format {o.fmt} both write {o.path}")
            seen[o.path] = o.fmt
    return outputs


def plain(text: str) -> str:
    """Text without terminal colour codes, for a file (the table is coloured for a terminal)."""
    return ANSI_ESCAPE.sub("", text)


def write_reports(report: object, outputs: Sequence[Output],
                  environ: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Render and write every report; return (what goes to standard output, notes for stderr).

    On GitHub Actions (`GITHUB_STEP_SUMMARY` set) the markdown summary is also appended to the step
    summary, unless one of the reports already writes that file."""
    from preflight.report import render

    env = os.environ if environ is None else environ
    stdout, notes = "", []
    for o in outputs:
        text = render(report, o.fmt)
        if o.path is None:
            stdout = text
            continue
        _write(o.path, plain(text), "w")
        notes.append(f"report written to {o.path}")
    summary = env.get("GITHUB_STEP_SUMMARY", "")
    if summary and all(o.path != summary for o in outputs):
        try:
            _write(summary, render(report, "markdown") + "\n", "a")
        except PreflightError as exc:  # the gate's verdict matters more than the run-page summary
            notes.append(f"warning: GITHUB_STEP_SUMMARY: {exc}")
    return stdout, notes


def _write(path: str, text: str, mode: str) -> None:
    try:
        with open(path, mode, encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise PreflightError(f"cannot write {path}: {exc.strerror or exc}") from None
