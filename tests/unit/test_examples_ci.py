"""The GitHub Actions example: it runs the gate with SARIF, uploads it, and fails only on exit 1
(or a run that could not happen). Its shell and Python snippets are executed here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preflight.report import render
from tests.unit.report_samples import sample_report

WORKFLOW = Path(__file__).parents[2] / "examples" / "github-actions.yml"


def steps() -> dict[str, dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    return {s.get("name") or s["uses"]: s for s in doc["jobs"]["gate"]["steps"]}


def test_workflow_installs_checks_with_sarif_and_uploads_it():
    s = steps()
    assert "pip install" in s["Install preflight"]["run"]
    check = s["preflight check"]["run"]
    assert "preflight check" in check and "--format sarif --output preflight.sarif" in check
    assert "--baseline .preflight-baseline.json" in check
    upload = s["Upload SARIF to code scanning"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "preflight.sarif" and upload["if"].startswith("always()")
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["permissions"]["security-events"] == "write"


@pytest.mark.parametrize(("code", "job_exit"), [("0", 0), ("1", 1), ("3", 0), ("2", 1)])
def test_fail_step_fails_the_job_on_exit_1_and_on_errors(code: str, job_exit: int):
    script = steps()["Fail on findings"]["run"].replace("${{ steps.check.outputs.code }}", code)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert proc.returncode == job_exit, proc.stdout


def test_summary_snippet_reads_our_sarif(tmp_path: Path):
    script = steps()["Summary"]["run"]
    code = re.search(r"<<'PY'[^\n]*\n(.*?)\n\s*PY\s*$", script, re.S).group(1)
    (tmp_path / "preflight.sarif").write_text(render(sample_report(), "sarif"))
    proc = subprocess.run([sys.executable, "-c", "import textwrap,sys;exec(textwrap.dedent(sys.argv[1]))", code],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("## preflight: 3 finding(s)")
    assert "- **NET002** `subnet-0abc` (eu-south-1): subnet-0abc: subnet subnet-0abc maps public IPs" in proc.stdout
