"""Text exactly as the CLI's rich consoles print it, without importing rich when no terminal is
involved (issue 17: start-up of an offline check; importing rich costs more than checking a small
snapshot).

For a stream that is not a terminal, with no styles and soft wrapping, rich prints a string as the
string itself plus the line end, after a few transformations: it strips some control codes (BEL,
BS, VT, FF, CR), in markup it drops the tags, it expands tabs and replaces emoji codes such as
`:warning:`. The plain path here does the first two and hands any line that could hold an emoji
code (two colons with no space between them), a tab or a backslash (rich's markup escapes) to rich, so the
bytes are rich's in every case; tests/unit/test_out.py holds both to that on arbitrary text.
When stderr is a terminal (spinners, colour) or the environment tells rich to treat it as one,
the real rich console does everything, as before.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# rich strips these from printed text (rich.control.strip_control_codes).
_CONTROL_STRIP = {7: None, 8: None, 11: None, 12: None, 13: None}
# A markup tag as rich recognises one (rich.markup.RE_TAGS without its escape group).
_TAG = re.compile(r"\[[a-z#/@][^[]*?]")
# Superset of what rich's emoji replacement can match (`:name:`, `:name-emoji:`): two colons with
# no whitespace between them.
_EMOJI_CANDIDATE = re.compile(r":\S*:")
# A line ending in whitespace: rich 13 strips it from a line longer than the console is wide (rich 14
# and later keep it), so such lines go to whichever rich is installed.
_TRAILING_SPACE = re.compile(r"[^\S\n](?:\n|\Z)")
# Environment variables with which rich treats a stream as a terminal, or as interactive.
_RICH_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def plain_text(text: str, emoji: bool = True) -> str | None:
    """`text` as rich prints it without markup on a non-terminal (`emoji=False`: as a `Text`), or
    None if rich must decide (a tab, which rich expands, or with `emoji` a possible emoji code)."""
    if "\t" in text or (emoji and _EMOJI_CANDIDATE.search(text)) or _TRAILING_SPACE.search(text):
        return None
    return text.translate(_CONTROL_STRIP)


def plain_markup(markup: str) -> str | None:
    """Console markup (tags around `textsafe.markup`-escaped text) as rich prints it on a
    non-terminal, or None if rich must decide (escapes, a tab or a possible emoji code)."""
    if "\\" in markup or "\t" in markup or _EMOJI_CANDIDATE.search(markup):
        return None
    text = _TAG.sub("", markup)
    if _TRAILING_SPACE.search(text):  # after the tags: "[dim]x [/dim]" ends in a space too
        return None
    return text.translate(_CONTROL_STRIP)


def rich_wanted(stream: Any) -> bool:
    """Whether rich would treat `stream` as a terminal (so only rich can print on it faithfully)."""
    if any(name in os.environ for name in _RICH_TERMINAL_ENV):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream: rich says "not a terminal" too
        return False


class _NoStatus:
    """What `Console.status` shows on a non-terminal: nothing (its live display is transient)."""

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


class ErrConsole:
    """The CLI's stderr console: `print(text, markup=False)` and `status(...)` like
    `rich.console.Console(stderr=True, highlight=False, soft_wrap=True, no_color=...)`, which it
    creates on first need only (a terminal, or a line only rich can print exactly)."""

    def __init__(self) -> None:
        self._console: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            # NO_COLOR counts only when non-empty (no-color.org); older rich treats an empty one as set.
            self._console = Console(stderr=True, highlight=False, soft_wrap=True,
                                    no_color=bool(os.environ.get("NO_COLOR")))
        return self._console

    def print(self, text: str, *, markup: bool = False, end: str = "\n") -> None:
        plain = None if markup or rich_wanted(sys.stderr) else plain_text(text)
        if plain is None:
            self.console.print(text, markup=markup, end=end)
        else:
            sys.stderr.write(plain + end)

    @contextmanager
    def status(self, message: str, spinner: str = "dots") -> Iterator[Any]:
        if rich_wanted(sys.stderr):
            with self.console.status(message, spinner=spinner) as status:
                yield status
        else:
            yield _NoStatus()
