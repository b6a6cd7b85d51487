"""Errors that end a command with a one-line message and exit code 2."""

from __future__ import annotations


class PreflightError(Exception):
    """Bad input, missing credentials or an unusable file: printed as one line, exit 2."""

    exit_code = 2


class CredentialsError(PreflightError):
    """No usable cloud credentials were found."""
