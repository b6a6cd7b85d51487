"""CMP004 key-pair-missing."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import shell


@rule(
    id="CMP004",
    name="key-pair-missing",
    severity="medium",
    category="launch-blocker",
    scope="plan",
    needs={"key_pairs"},
    summary="The plan's key pair does not exist in the region, or its local private key file is missing "
            "or readable by others",
    references=("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-key-pairs.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Checks that the plan's `key_name` is a key pair of the region (DescribeKeyPairs) and, when the
    plan names a local `key_file`, that the file exists and is not readable by group or others.

    Why is this bad?
    A missing key pair fails the launch (`InvalidKeyPair.NotFound`); a key file that is missing or
    has permissions wider than 0600 means nobody can log in (ssh: "UNPROTECTED PRIVATE KEY FILE").

    Example:
    `key_name: compute-key` in eu-south-1 where only `other-key` exists.

    Fix: aws ec2 import-key-pair --key-name NAME --public-key-material fileb://KEY.pub --region R; chmod
    600 KEY_FILE.

    Fix safety:
    No automatic fix: importing the public half of your own key is safe and is the command given;
    `chmod 600` on the key file touches only that file.
    """
    plan = ctx.plan
    if plan is None:
        return
    region = ctx.region
    if plan.key_name:
        data = ctx.inventory.extra.get("key_pairs") or {}
        if "names" not in data:
            yield ctx.unknown(plan.key_name, f"cannot check key pair {plan.key_name} in {region}: this inventory has "
                                             "no key pair data (not in this snapshot: check the account live "
                                             "with --plan)")
        elif plan.key_name not in data["names"]:
            near = [n for n in data["names"] if n.casefold() == plan.key_name.casefold()]
            hint = f" (a key pair named {near[0]!r} exists: names are case-sensitive)" if near else ""
            pub = f"{plan.key_file}.pub" if plan.key_file else f"~/.ssh/{plan.key_name}.pub"
            yield ctx.fail(plan.key_name, f"key pair {plan.key_name} does not exist in {region}{hint}; key pairs "
                                          "are regional, so RunInstances would fail with InvalidKeyPair.NotFound",
                           details={"existing": data["names"][:20]},
                           fix=ctx.fix(shell("aws", "ec2", "import-key-pair", "--region", region, "--key-name",
                                             plan.key_name, "--public-key-material", f"fileb://{pub}"),
                                       description="import your public key under that name"))
    if plan.key_file:
        path = Path(os.path.expanduser(plan.key_file))
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            yield ctx.fail(plan.key_file, f"private key file {plan.key_file} does not exist, so nobody could log in "
                                          "to the instances with it",
                           fix=ctx.fix(shell("ls", "-l", "--", plan.key_file), description="fix key_file in the plan"))
            return
        except OSError as exc:
            yield ctx.unknown(plan.key_file, f"cannot read private key file {plan.key_file}: {exc.strerror}")
            return
        if not path.is_file():
            yield ctx.fail(plan.key_file, f"private key file {plan.key_file} is not a regular file")
        elif mode & 0o077:
            yield ctx.fail(plan.key_file, f"private key file {plan.key_file} has mode {mode:04o}, wider than 0600: "
                                          "ssh refuses it (UNPROTECTED PRIVATE KEY FILE) and others can read it",
                           details={"mode": f"{mode:04o}"},
                           fix=ctx.fix(shell("chmod", "600", "--", plan.key_file),
                                       description="make the key readable by you only"))
