#!/usr/bin/env python3
"""Re-run the README's offline transcripts and compare them with what the README shows.

The README promises real output. Every ```console block line `$ preflight …` that needs no cloud
account (a `--sandbox` or `--snapshot` run, `rules`, `explain`, `fixers`, `sandbox list`) is run
again in a throwaway home and folder that sees the repository's examples/ and tests/, and its
output (plus `echo $?` right after it) is compared with the README's, after replacing what differs
on every run: resource ids, launch and journal names, public IPs, the throwaway home. Commands
against a real account are left alone.

    python scripts/readme_transcripts.py            # compare; exit 1 and a diff when one drifted
    python scripts/readme_transcripts.py --update   # write the fresh output into README.md

CI runs the first form, so a transcript can no longer drift from what the command prints.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
OFFLINE_SUBCOMMANDS = {"rules", "explain", "fixers", "schema", "version", "--version"}
ID = re.compile(r"\b(vpc|subnet|rtb|igw|eigw|acl|sg|sgr|nat|eipalloc|rtbassoc|aclassoc|i|eni|pcx|ami|key|r)"
                r"-[0-9a-f]{8,17}\b")
VOLATILE = [
    (re.compile(r"launch-\d{8}-\d{6}-[0-9a-f]{4}"), "launch-<id>"),
    (re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}"), "<journal>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b(?![/\d])"), "<ip>"),  # addresses, not CIDRs
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b"), "<duration>"),
    (re.compile(r"\bpid \d+"), "pid <n>"),
    (re.compile(r"(?m)^(\s*seconds:).*$"), r"\1 <timings>"),  # --stats
]


@dataclass
class Entry:
    """One `$ command` of a console block: the lines it spans in the README and its shown output."""

    command: str
    start: int  # index of the first `$` line
    end: int  # index one past its last output line
    output: list[str] = field(default_factory=list)


def parse(lines: list[str]) -> list[list[Entry]]:
    blocks: list[list[Entry]] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        i += 1
        block: list[Entry] = []
        while i < len(lines) and lines[i].strip() != "```":
            if lines[i].startswith("$ "):
                start, command = i, lines[i][2:]
                while command.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    command = command[:-1] + lines[i].strip()
                entry = Entry(command.strip(), start, i + 1)
                block.append(entry)
            elif block:
                block[-1].output.append(lines[i])
                block[-1].end = i + 1
            i += 1
        blocks.append(block)
        i += 1
    return blocks


def replayable(command: str) -> bool:
    """A preflight command that needs no account (env assignments in front are allowed)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return False
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words = words[1:]
    if not words or words[0] != "preflight" or len(words) < 2 or any(w in {"|", ">", "<"} for w in words):
        return False
    return (words[1] in OFFLINE_SUBCOMMANDS or words[1:3] == ["sandbox", "list"]
            or any(w == "--sandbox" or w.startswith("--sandbox=") for w in words)
            or ("--snapshot" in words and words[words.index("--snapshot") + 1:][:1] != ["account.json"]))


def normalize(text: str, home: str) -> str:
    text = text.replace(home, "/home/you")
    text = ID.sub(lambda m: f"{m.group(1)}-<id>", text)
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text.rstrip("\n")


def workdir(home: str) -> Path:
    """Where the commands run: a throwaway folder that sees the repository's examples/ and tests/
    (the paths the README uses), so files a command writes (`-o preflight.sarif`) land there."""
    cwd = Path(home) / "work"
    cwd.mkdir(exist_ok=True)
    for name in ("examples", "tests"):
        if not (cwd / name).exists():
            (cwd / name).symlink_to(ROOT / name)
    return cwd


def run(command: str, home: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PREFLIGHT_", "XDG_", "SKYPILOT_"))}
    env.update(HOME=home, NO_COLOR="1", COLUMNS="200", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               # the `preflight` installed beside the Python running this script, activated or not
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    proc = subprocess.run(["bash", "-c", command], cwd=workdir(home), env=env, capture_output=True, text=True,
                          timeout=300)
    return (proc.stdout + proc.stderr).rstrip("\n"), proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="write the fresh output into README.md")
    args = parser.parse_args(argv)
    lines = README.read_text(encoding="utf-8").split("\n")
    replacements: list[tuple[Entry, list[str]]] = []
    drifted = ran = 0
    with tempfile.TemporaryDirectory(prefix="preflight-readme-") as home:
        for block in parse(lines):
            last_rc: int | None = None
            for entry in block:
                if entry.command == "echo $?" and last_rc is not None:
                    got, rc = str(last_rc), 0
                elif replayable(entry.command) and any(line.strip() for line in entry.output):
                    # (a command shown without output is an example to copy, not a transcript)
                    got, rc = run(entry.command, home)
                    ran += 1
                else:
                    last_rc = None
                    continue
                last_rc = rc if entry.command != "echo $?" else None
                shown = "\n".join(entry.output).rstrip("\n")
                if normalize(got, home) != normalize(shown, home):
                    drifted += 1
                    print(f"README.md:{entry.start + 1}: $ {entry.command}")
                    sys.stdout.writelines(difflib.unified_diff(
                        (normalize(shown, home) + "\n").splitlines(keepends=True),
                        (normalize(got, home) + "\n").splitlines(keepends=True), "README", "now"))
                    replacements.append((entry, got.replace(home, "/home/you").split("\n") if got else []))
    if args.update and replacements:
        for entry, new in sorted(replacements, key=lambda r: -r[0].start):
            keep_blank = entry.output and entry.output[-1] == "" and entry is not None
            first_out = entry.end - len(entry.output)
            lines[first_out:entry.end] = new + ([""] if keep_blank else [])
        README.write_text("\n".join(lines), encoding="utf-8")
        print(f"{len(replacements)} transcript(s) rewritten in README.md")
        return 0
    print(f"{ran} README transcript(s) replayed, {drifted} drifted")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
