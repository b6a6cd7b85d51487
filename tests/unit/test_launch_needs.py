"""What a launch uses decides which capabilities are checked: storage only when the SkyPilot task
mounts or creates buckets; SkyPilot's GCP list is the one `sky check gcp` tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import launcher_permissions
from preflight.launch_needs import buckets_of, launcher_of
from preflight.permissions import capabilities_for
from preflight.plan import load_plan

TASK = """\
name: train
resources:
  infra: aws/eu-south-1
  instance_type: t3.medium
run: echo hi
"""


def task(tmp_path: Path, extra: str = "") -> object:
    p = tmp_path / "task.yaml"
    p.write_text(TASK + extra)
    return load_plan(p)


def test_plain_task_needs_no_storage(tmp_path):
    plan = task(tmp_path)
    assert launcher_of(plan) == "skypilot"
    caps = capabilities_for("aws", plan)
    assert "storage" not in caps and {"compute", "network", "iam-pass-role"} <= set(caps)
    assert "storage" in capabilities_for("aws", plan, unused=True)  # evaluated for context only


def test_bucket_mount_needs_read_only_storage(tmp_path):
    plan = task(tmp_path, "file_mounts:\n  /data: s3://training-data/v1\n  /local: ./here\n")
    assert buckets_of(plan).read == ("training-data",) and buckets_of(plan).created == ()
    storage = capabilities_for("aws", plan)["storage"]
    assert set(storage.permissions) == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}


def test_storage_spec_with_local_source_creates_the_bucket(tmp_path):
    plan = task(tmp_path, "file_mounts:\n  /ckpt:\n    name: my-ckpts\n    source: ./ckpts\n    mode: MOUNT\n")
    assert buckets_of(plan).created == ("my-ckpts",)
    assert "s3:CreateBucket" in capabilities_for("aws", plan)["storage"].permissions


def test_gcs_bucket_is_not_s3(tmp_path):
    plan = task(tmp_path, "file_mounts:\n  /data: gs://other-cloud\n")
    assert "storage" not in capabilities_for("aws", plan)


def test_skypilot_gcp_list_is_what_sky_check_tests():
    sky_constants = pytest.importorskip("sky.provision.gcp.constants")
    ours = {s.action for cap in launcher_permissions.profile("skypilot").clouds["gcp"].values() for s in cap.actions}
    theirs = {*sky_constants.VM_MINIMAL_PERMISSIONS, *sky_constants.GCP_MINIMAL_PERMISSIONS,
              *sky_constants.FIREWALL_PERMISSIONS, *sky_constants.STORAGE_MINIMAL_PERMISSIONS}
    assert ours == theirs
