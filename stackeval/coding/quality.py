"""Static checks of extracted code: ruff for Python, shellcheck for bash. Parse only, never run.

A missing tool is recorded as "not available"; it never fails the evaluation.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RUFF_RULES = "E4,E7,E9,F,B"  # ruff's defaults plus bugbear: likely bugs, not style
_TIMEOUT_S = 30
_KEEP = 20


@dataclass(frozen=True)
class QualityReport:
    """Findings of one linter run, counted by severity and by rule code."""

    tool: str
    available: bool
    findings: int = 0
    by_severity: Mapping[str, int] = field(default_factory=dict)
    by_code: Mapping[str, int] = field(default_factory=dict)
    messages: tuple[str, ...] = ()  # the first findings as "line:col CODE message"
    note: str = ""  # why the tool was not available or failed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            **asdict(self),
            "by_severity": dict(self.by_severity),
            "by_code": dict(self.by_code),
        }


def lint(code: str, language: str) -> QualityReport:
    """Lint ``code`` with the tool for ``language`` (python: ruff, bash: shellcheck)."""
    if language == "python":
        return _ruff(code)
    if language == "bash":
        return _shellcheck(code)
    return QualityReport(tool="none", available=False, note=f"no linter for {language}")


@functools.cache
def _ruff_command() -> list[str] | None:
    beside = Path(sys.executable).with_name("ruff")  # the venv's ruff even when not on PATH
    found = str(beside) if beside.exists() else shutil.which("ruff")
    return [found] if found else None


def _ruff(code: str) -> QualityReport:
    cmd = _ruff_command()
    if cmd is None:
        return QualityReport(
            tool="ruff", available=False, note="ruff not available (pip install ruff)"
        )
    argv = [
        *cmd,
        "check",
        "--isolated",
        "--no-cache",
        "--select",
        RUFF_RULES,
        "--output-format",
        "json",
        "--stdin-filename",
        "answer.py",
        "-",
    ]
    items = _run_json("ruff", argv, code)
    if isinstance(items, QualityReport):
        return items
    findings = [
        (
            item.get("severity")
            or ("error" if item.get("code") in (None, "invalid-syntax") else "warning"),
            item.get("code") or "syntax",
            f"{item['location']['row']}:{item['location']['column']} "
            f"{item.get('code')} {item['message']}",
        )
        for item in items
    ]
    return _report(f"ruff {_version(tuple(cmd))}", findings)


def _shellcheck(code: str) -> QualityReport:
    exe = shutil.which("shellcheck")
    if exe is None:
        return QualityReport(
            tool="shellcheck",
            available=False,
            note="shellcheck not available (apt-get install shellcheck)",
        )
    items = _run_json("shellcheck", [exe, "--shell=bash", "--format=json", "-"], code)
    if isinstance(items, QualityReport):
        return items
    findings = [
        (
            item["level"],
            f"SC{item['code']}",
            f"{item['line']}:{item['column']} SC{item['code']} {item['message']}",
        )
        for item in items
    ]
    return _report(f"shellcheck {_version((exe,))}", findings)


def _run_json(tool: str, argv: list[str], code: str) -> list[dict[str, Any]] | QualityReport:
    """The tool's JSON findings; both linters exit 1 when they found something."""
    try:
        proc = subprocess.run(argv, input=code, capture_output=True, text=True, timeout=_TIMEOUT_S)
        return json.loads(proc.stdout or "[]")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        log.warning("%s failed: %s", tool, exc)
        return QualityReport(tool=tool, available=False, note=f"{tool} failed: {exc}")


def _report(tool: str, findings: list[tuple[str, str, str]]) -> QualityReport:
    return QualityReport(
        tool=tool,
        available=True,
        findings=len(findings),
        by_severity=dict(Counter(severity for severity, _, _ in findings)),
        by_code=dict(Counter(code for _, code, _ in findings)),
        messages=tuple(message for _, _, message in findings[:_KEEP]),
    )


@functools.cache
def _version(cmd: tuple[str, ...]) -> str:
    try:
        out = subprocess.run(
            [*cmd, "--version"], capture_output=True, text=True, timeout=_TIMEOUT_S
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    for line in out.splitlines():  # "ruff 0.17.6" / shellcheck's "version: 0.9.0"
        words = line.replace("version:", "").split()
        if words and words[-1][:1].isdigit():
            return words[-1]
    return "?"
