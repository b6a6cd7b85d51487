"""The GitHub Actions example: it runs the gate with annotations and SARIF in one run, uploads the
SARIF, leaves the run-page summary to preflight itself, and fails only on exit 1 (or a run that could
not happen). Its shell snippets are executed here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).parents[2] / "examples" / "github-actions.yml"


def steps() -> dict[str, dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    return {s.get("name") or s["uses"]: s for s in doc["jobs"]["gate"]["steps"]}


def test_workflow_installs_checks_with_sarif_and_uploads_it():
    s = steps()
    assert "pip install" in s["Install preflight"]["run"]
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["env"]["PREFLIGHT_SPEC"] == "cloud-preflight"  # `preflight` on PyPI is another project
    check = s["preflight check"]["run"]
    assert "preflight check" in check and "--format github --format sarif=preflight.sarif" in check
    assert "--baseline .preflight-baseline.json" in check
    upload = s["Upload SARIF to code scanning"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "preflight.sarif" and upload["if"].startswith("always()")
    assert doc["permissions"]["security-events"] == "write"
    # The run-page summary comes from preflight itself ($GITHUB_STEP_SUMMARY), not a script here.
    assert "Summary" not in s and not any("GITHUB_STEP_SUMMARY" in step.get("run", "") for step in s.values())


@pytest.mark.parametrize(("code", "job_exit"), [("0", 0), ("1", 1), ("3", 0), ("2", 1)])
def test_fail_step_fails_the_job_on_exit_1_and_on_errors(code: str, job_exit: int):
    script = steps()["Fail on findings"]["run"].replace("${{ steps.check.outputs.code }}", code)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert proc.returncode == job_exit, proc.stdout
