"""Errors that end a command with a one-line message and exit code 2."""

from __future__ import annotations


class PreflightError(Exception):
    """Bad input, missing credentials or an unusable file: printed as one line, exit 2."""

    exit_code = 2


class CredentialsError(PreflightError):
    """No usable cloud credentials were found."""


# Input caps: a file preflight reads is a small document written by a person or by preflight itself.
# Anything past these is refused in one line before it can exhaust memory or time.
MAX_INPUT_BYTES = {"snapshot": 1 << 30, "baseline": 256 << 20}  # the rest: DEFAULT_MAX_INPUT_BYTES
DEFAULT_MAX_INPUT_BYTES = 4 << 20
MAX_DOCUMENT_VALUES = 1_000_000  # values in a parsed document, counting every alias expansion
MAX_MESSAGE_CHARS = 400  # an error line; values inside it are cut well before this


def read_input(path: object, what: str, error: type[PreflightError] = PreflightError, hint: str = "",
               max_bytes: int | None = None) -> str:
    """The text of a file the user named (plan, config, snapshot, baseline), or one line saying why
    not: `<what> file not found: <path><hint>` / `cannot read <what> <path>: <reason>`. A file larger
    than the cap for its kind (or an endless one such as /dev/zero) is refused without reading it
    all."""
    from pathlib import Path

    p = Path(str(path))
    cap = max_bytes or MAX_INPUT_BYTES.get(what, DEFAULT_MAX_INPUT_BYTES)
    try:
        with p.open("rb") as fh:
            data = fh.read(cap + 1)
    except FileNotFoundError:
        raise error(f"{what} file not found: {p}{hint}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise error(f"{what} file {p} is larger than {cap >> 20} MiB: not a {what} preflight can read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {what} {p}: not UTF-8 text (byte {exc.start})") from None


def redact_url(url: str) -> str:
    """`url` with any user name and password replaced by `***` (http://admin:pw@host/ ->
    http://***@host/), for every message that names an endpoint."""
    import re

    return re.sub(r"(?<=://)[^/@\s]*@", "***@", str(url))


def shown(value: object, limit: int = 60) -> str:
    """A value for an error message: its repr, cut to `limit` characters, nested values elided, so
    a huge or deeply nested value never makes a long (or slow) message."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 2, 4, 6, 6, 6
    r.maxstring, r.maxother, r.maxlong = limit, limit, limit
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """An error message as one line of at most `limit` characters."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def document_size(doc: object, limit: int = MAX_DOCUMENT_VALUES) -> int:
    """How many values `doc` holds once every shared (aliased) value is counted each time it is
    used, stopping as soon as that passes `limit`; -1 for a document that contains itself. Linear in
    the distinct values, so a YAML alias bomb is measured without being expanded."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: object) -> int:
        if not isinstance(node, (dict, list, tuple, set)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise RecursionError
        in_progress.add(key)
        total = 1
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else list(node)
        for child in children:
            total += size(child)
            if total > limit:
                break
        in_progress.discard(key)
        sizes[key] = total
        return total

    try:
        return size(doc)
    except RecursionError:
        return -1


def load_yaml(text: str, where: str, error: type[PreflightError] = PreflightError,
              multi: bool = False) -> object:
    """YAML parsed safely and within bounds: a document that expands (through aliases) past
    MAX_DOCUMENT_VALUES values, refers to itself, or nests too deep is one line naming `where`.
    With `multi`, a list of every document in the stream."""
    import yaml

    try:
        # libyaml's parser when PyYAML has it (its wheels do): ~20x faster on a large document
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs = list(yaml.load_all(text, Loader=loader)) if multi else [yaml.load(text, Loader=loader)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark else ""
        raise error(f"{where}: invalid YAML{at}") from None
    except RecursionError:
        raise error(f"{where}: YAML nested too deeply") from None
    for doc in docs:
        n = document_size(doc)
        if n < 0:
            raise error(f"{where}: YAML refers to itself (a recursive alias)")
        if n > MAX_DOCUMENT_VALUES:
            raise error(f"{where}: YAML expands to more than {MAX_DOCUMENT_VALUES:,} values "
                        "(aliases used as a bomb?)")
    return docs if multi else docs[0]


class Terminated(BaseException):
    """SIGTERM, raised in the main thread by the CLI's handler so that a write path can say what it
    changed before the process ends (a BaseException, like KeyboardInterrupt: no `except Exception`
    swallows it)."""
