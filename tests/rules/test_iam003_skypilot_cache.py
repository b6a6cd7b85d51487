"""IAM003 on SkyPilot's own enabled-clouds cache (seed incident 002): SkyPilot still lists a cloud
as enabled for an identity that no longer holds what a SkyPilot launch needs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.collect.skypilot_state import read_state
from tests.rules.iam_support import _fresh_settings, allow, aws_inventory, check, doc, only  # noqa: F401
from tests.rules.test_iam001_missing_permission import NO_RUN

TASK = Path(__file__).resolve().parents[2] / "examples" / "skypilot" / "minimal-task.yaml"


def sky_state(tmp_path: Path, enabled: list[str], owners: list[list[str]] = ()) -> Path:
    """A state.db with SkyPilot's schema for the two tables read (config, clusters.owner)."""
    db = tmp_path / ".sky" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("CREATE TABLE clusters (name TEXT PRIMARY KEY, owner TEXT)")
    con.execute("INSERT INTO config VALUES (?, ?)", ("enabled_clouds_default_compute", json.dumps(enabled)))
    con.execute("INSERT INTO config VALUES (?, ?)", ("enabled_clouds_default_storage", json.dumps(enabled)))
    for i, o in enumerate(owners):
        con.execute("INSERT INTO clusters VALUES (?, ?)", (f"c{i}", json.dumps(o)))
    con.commit()
    con.close()
    return db


def plan():
    from preflight.plan import load_plan

    return load_plan(TASK)


def test_cached_enabled_cloud_without_permissions_is_reported_with_sky_check(tmp_path):
    db = sky_state(tmp_path, ["AWS"], owners=[["AIDAOLD", "999999999999"]])
    inv = aws_inventory(("launcher", NO_RUN))
    inv.extra["iam"]["skypilot"] = read_state(db)
    f = only(check(inv, "IAM003", plan=plan()), "IAM003")
    assert f.status == "FAIL"
    assert "still lists AWS as enabled for compute" in f.message and "ec2:RunInstances" in f.message
    assert "launched as ['AIDAOLD', '999999999999']" in f.message
    assert f.fix.commands == ("sky check aws",)


def test_near_misses_enabled_and_allowed_or_never_checked(tmp_path):
    db = sky_state(tmp_path, ["AWS"])
    inv = aws_inventory(("admin", doc(allow("*"))))
    inv.extra["iam"]["skypilot"] = read_state(db)
    assert check(inv, "IAM003", plan=plan()) == []
    inv = aws_inventory(("launcher", NO_RUN))
    inv.extra["iam"]["skypilot"] = read_state(tmp_path / "nothing" / "state.db")  # sky check never ran
    assert check(inv, "IAM003", plan=plan()) == []


def test_cached_disabled_cloud_that_now_works(tmp_path):
    db = sky_state(tmp_path, ["GCP"])
    inv = aws_inventory(("admin", doc(allow("*"))))
    inv.extra["iam"]["skypilot"] = read_state(db)
    f = only(check(inv, "IAM003", plan=plan()), "IAM003")
    assert "lists AWS as disabled" in f.message and "sky check aws" in f.message


def test_unreadable_state_is_silent(tmp_path):
    bad = tmp_path / ".sky" / "state.db"
    bad.parent.mkdir()
    bad.write_text("not a database")
    state = read_state(bad)
    assert state["found"] is False and state["error"]


def test_skypilot_writes_the_cache_with_its_own_functions(tmp_path):
    pytest.importorskip("sky")
    # SkyPilot's own code writes its state (in a subprocess: it owns process-wide DB engines).
    code = ("from sky import global_user_state\n"
            "from sky.clouds import cloud\n"
            "global_user_state.set_enabled_clouds(['AWS'], cloud.CloudCapability.COMPUTE, 'default')\n")
    env = {**os.environ, "SKY_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300, capture_output=True)
    state = read_state(tmp_path / ".sky" / "state.db")
    assert state["found"] and state["enabled"]["compute"] == ["AWS"]
    inv = aws_inventory(("launcher", NO_RUN))
    inv.extra["iam"]["skypilot"] = state
    f = only(check(inv, "IAM003", plan=plan()), "IAM003")
    assert f.fix.commands == ("sky check aws",)
