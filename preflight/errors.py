"""Errors that end a command with a one-line message and exit code 2."""

from __future__ import annotations


class PreflightError(Exception):
    """Bad input, missing credentials or an unusable file: printed as one line, exit 2."""

    exit_code = 2


class CredentialsError(PreflightError):
    """No usable cloud credentials were found."""


def read_input(path: object, what: str, error: type[PreflightError] = PreflightError, hint: str = "") -> str:
    """The text of a file the user named (plan, config, snapshot, baseline), or one line saying why
    not: `<what> file not found: <path><hint>` / `cannot read <what> <path>: <reason>`."""
    from pathlib import Path

    p = Path(str(path))
    try:
        return p.read_text()
    except FileNotFoundError:
        raise error(f"{what} file not found: {p}{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {p}: {exc}") from None
