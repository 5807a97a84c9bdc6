"""Lint summaries: ruff for Python, shellcheck for bash, and a missing tool never crashes."""

from __future__ import annotations

import shutil

import pytest

from stackeval.coding import quality
from stackeval.coding.quality import lint


def test_ruff_counts_known_findings() -> None:
    report = lint("import os\n\n\ndef f(x):\n    return x == None\n", "python")
    assert report.available and report.tool.startswith("ruff ")
    assert report.by_code == {"F401": 1, "E711": 1} and report.findings == 2
    assert sum(report.by_severity.values()) == 2
    assert any("F401" in m for m in report.messages)


def test_ruff_clean_code_and_syntax_errors() -> None:
    assert lint("def f(x):\n    return x + 1\n", "python").findings == 0
    broken = lint("def f(:\n", "python")
    assert broken.findings >= 1 and broken.by_severity.get("error")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_counts_known_findings() -> None:
    report = lint("#!/bin/bash\nfor f in $(ls *.txt); do echo $f; done\n", "bash")
    assert report.available and report.tool.startswith("shellcheck ")
    assert {"SC2045", "SC2086"} <= set(report.by_code)
    assert report.by_severity["error"] >= 1
    assert report.to_dict()["by_code"]["SC2086"] == 1


def test_missing_tools_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality, "_ruff_command", lambda: None)
    monkeypatch.setattr(quality.shutil, "which", lambda name: None)
    for language in ("python", "bash", "cobol"):
        report = lint("x = 1\n", language)
        assert not report.available and report.note
