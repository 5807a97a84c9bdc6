"""One sandbox run of a candidate and how to judge it; the Python test case builder."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stackeval.coding.extract import humaneval_program
from stackeval.coding.tasks import CodingTask
from stackeval.sandbox import ExecResult

PYRUNNER = Path(__file__).with_name("pyrunner.py")


@dataclass(frozen=True)
class Case:
    """Files and a command for one sandbox run, and a check of its result."""

    name: str
    files: Mapping[str, str | bytes]
    argv: tuple[str, ...]
    verify: Callable[[ExecResult], list[str]]  # one message per failed check; [] when right
    wrong_exits: tuple[int, ...] = (
        0,
    )  # exit statuses meaning "ran, but checks failed"; others crashed


def python_cases(task: CodingTask, code: str) -> list[Case]:
    """HumanEval style: the program, its tests and ``check(entry_point)`` in one run."""
    program = humaneval_program(task.stub, code, task.entry_point) + "\n\n" + task.test + "\n"
    nonce = secrets.token_hex(8)
    return [
        Case(
            name="tests",
            files={"program.py": program, "pyrunner.py": PYRUNNER.read_text(encoding="utf-8")},
            argv=("python3", "pyrunner.py", "program.py", task.entry_point, nonce),
            verify=lambda result: _python_verdict(result, nonce),
            wrong_exits=(1,),
        )
    ]


def _python_verdict(result: ExecResult, nonce: str) -> list[str]:
    marker = f"@@{nonce} "
    lines = [line for line in result.stdout.splitlines() if line.startswith(marker)]
    if not lines:
        return ["the program ended before the tests finished (no verdict from the test runner)"]
    verdict = json.loads(lines[-1][len(marker) :])
    if verdict["status"] == "pass":
        return []
    if verdict["status"] == "error":
        where = f" (line {verdict['line']})" if verdict.get("line") else ""
        return [f"{verdict['error']}{where}"]
    check = verdict["check"]
    text = check.get("assert") or f"assertion at line {check.get('line')}"
    if "expected" in check:
        text += f": got {check['actual']}, expected {check['expected']}"
    elif "left" in check:
        text += f": left side {check['left']}, right side {check['right']}"
    if check.get("message"):
        text += f" ({check['message']})"
    return [text]
