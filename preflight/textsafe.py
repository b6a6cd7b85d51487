"""One escaping layer for every text sink.

Much of what preflight prints is not its own text: Name tags, group descriptions, policy names and
plan values are written by whoever can tag a resource in a shared account. Each sink gets the text
made safe for its own syntax, here and nowhere else:

- `terminal(s)`: control characters (ESC sequences, OSC titles, CR, backspace, newlines, C1 codes)
  and bidirectional overrides become visible escapes such as `\\x1b` or `\\n`, so a tag can neither
  drive the terminal nor start a line that looks like preflight's own output. Rich markup is
  neutralised by the callers printing `Text` objects or with `markup=False` (see `markup`).
- `dot_string(s)`: the inside of a Graphviz double-quoted string.
- `markdown(s)` / `markdown_code(s)` / `fence(lines)`: GitHub-flavoured markdown, no raw HTML, no
  links or images, no way out of a code span or block.
- `xml_text(s)`: characters XML 1.0 cannot carry, made visible (ElementTree escapes `<&>"`).
- GitHub workflow commands are escaped in `preflight.report.github` (their own rules), on text
  passed through `terminal` first.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the Unicode controls that reorder or hide text on screen
# (bidi embeddings/overrides/isolates, zero-width joiners used for spoofing, line/paragraph
# separators that some terminals treat as newlines). This and the other patterns here are compiled on
# first use (re's cache): most runs print no control character, and compiling costs start-up time.
_UNSAFE = (
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: object) -> str:
    """`text` with every control or reordering character shown as an escape, on one line."""
    s = str(text)
    if s.isascii() and s.isprintable():  # the common case, decided without a regex: nothing to show
        return s
    return re.sub(_UNSAFE, _visible, s)


# What rich's markup escaping can change: a backslash, or `[` opening something tag-like.
_MARKUP_SPECIAL = re.compile(r"\\|\[[a-z#/@]")


def markup(text: object) -> str:
    """`terminal(text)` also safe inside a rich markup string (`[bold]` in a tag is shown, not
    obeyed). Text rich's escaping would leave alone is returned without importing rich."""
    s = terminal(text)
    if not _MARKUP_SPECIAL.search(s):
        return s
    from rich.markup import escape

    return escape(s)


def dot_string(text: object) -> str:
    """Text for the inside of a DOT `"..."` string: backslashes and quotes escaped, controls
    visible, so a tag cannot close the string and add attributes such as `URL=`."""
    return terminal(text).replace("\\", "\\\\").replace('"', '\\"')


# Inline characters that make markdown do something harmful: code spans, links and images (no
# link without brackets), table cells, strike-through. HTML is escaped separately.
_MD_SPECIAL = r"([\\`\[\]|~])"


def markdown(text: object) -> str:
    """Inline markdown text: HTML escaped (no tags, no entities of the author's), markdown
    punctuation backslash-escaped (no links, images, emphasis or table breaks), one line."""
    import html  # here: the terminal sinks are on every command's path, markdown and HTML are not

    s = html.escape(terminal(text), quote=False)
    return re.sub(_MD_SPECIAL, r"\\\1", s)


def markdown_code(text: object) -> str:
    """A code span that no backtick inside the text can close."""
    s = terminal(text).replace("|", "\\|")  # a pipe still splits a table cell inside a span
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or longest else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def html_text(text: object) -> str:
    """Text inside an HTML element (e.g. `<code>` in a `<summary>`)."""
    import html

    return html.escape(terminal(text), quote=False)


def fence(lines: list[str], info: str = "") -> list[str]:
    """A fenced code block that no line inside can close: the fence is longer than any run of
    backticks or tildes in the text."""
    body = [terminal(line) for line in lines]
    longest = max((len(m) for line in body for m in re.findall(r"`+", line)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{info}", *body, ticks]


# XML 1.0 allows TAB, LF, CR and these ranges only.
_XML_BAD = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def xml_text(text: object, multiline: bool = False) -> str:
    """Text an XML 1.0 document can carry: with `multiline`, the body of an element keeps its
    line breaks (preflight's own); everything else is made visible like `terminal`."""
    s = str(text)
    if multiline:
        s = "\n".join(terminal(line) for line in s.split("\n"))
    else:
        s = terminal(s)
    return re.sub(_XML_BAD, lambda m: f"\\u{ord(m.group(0)):04x}", s)
