"""One sandbox run of a candidate and how to judge it; the Python test case builder.

A case's run executes the candidate's code; its verdict must not depend on anything that code
could forge. Cases whose checks read the candidate's own output (the bash lab's statistics)
``verify`` that output directly. Cases that need trusted work after the candidate ran (Python's
tests, the image lab's inspection of the written files) have a ``judge``: it receives the run's
output as untrusted data and does its checking in further sandbox runs where no candidate code
runs (see ``stackeval.coding.pyrunner``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackeval.coding import plaindata
from stackeval.coding.extract import humaneval_program
from stackeval.coding.tasks import CodingTask
from stackeval.errors import GraderError
from stackeval.sandbox import ExecResult, Sandbox

PYRUNNER = Path(__file__).with_name("pyrunner.py")
PLAINDATA = Path(__file__).with_name("plaindata.py")  # pyrunner.py imports it
# trusted runs (recording the tests, checking results, inspecting images) get a fixed limit:
# their time depends on the tests, not on the candidate's speed
TRUSTED_TIMEOUT_S = 60.0
_TRUSTED_PY = ("env", "PYTHONHASHSEED=0", "python3", "/harness/pyrunner.py")


@dataclass(frozen=True)
class Judgement:
    """The failed checks of one case; ``crashed`` when the program did not run to its end."""

    failures: list[str]
    crashed: bool = False


@dataclass(frozen=True)
class Case:
    """Files and a command for one sandbox run, and a check of its result."""

    name: str
    files: Mapping[str, str | bytes]
    argv: tuple[str, ...]
    verify: Callable[[ExecResult], list[str]] | None = None  # one message per failed check
    wrong_exits: tuple[int, ...] = (0,)  # exit statuses meaning "ran, but checks failed"
    harness: Mapping[str, str | bytes] = field(default_factory=dict)  # read-only at /harness
    stdin: bytes | None = None
    keep_stdout: bool = False  # stdout is data for the judge: keep all of it
    judge: Callable[[ExecResult, Sandbox], Judgement] | None = None  # trusted follow-up checks
    checks: tuple[str, ...] = ()  # the sub-checks partial credit counts; () means just ``name``

    def run(self, sandbox: Sandbox, timeout_s: float) -> ExecResult:
        """Run the candidate's side of this case."""
        return sandbox.run(
            self.files,
            self.argv,
            timeout_s=timeout_s,
            stdin=self.stdin,
            harness=self.harness or None,
            keep_stdout=self.keep_stdout,
        )

    def evaluate(self, result: ExecResult, sandbox: Sandbox) -> Judgement:
        """The checks that failed on ``result`` (a judge may run trusted sandbox runs)."""
        if self.judge is not None:
            return self.judge(result, sandbox)
        if self.verify is None:
            raise GraderError(f"case {self.name!r} has neither verify nor judge")
        failures = self.verify(result)
        crashed = bool(failures) and result.exit_code not in self.wrong_exits
        return Judgement(failures, crashed=crashed)


def run_case(case: Case, sandbox: Sandbox, timeout_s: float) -> tuple[ExecResult, Judgement]:
    """Run one case and judge it: what a student's ``check-lab`` and the eval both do."""
    result = case.run(sandbox, timeout_s)
    return result, case.evaluate(result, sandbox)


def check_verdicts(
    case: Case, failures: Sequence[str], *, whole: bool = False
) -> list[tuple[str, bool]]:
    """Each sub-check of ``case`` (partial credit) and whether it passed.

    A failure belongs to the sub-check its message starts with (the longest such name, followed
    by ":" or a blank); a failure that names none of them (an exit status, a crash), or
    ``whole`` (a timeout, a sandbox limit), fails them all.
    """
    names = case.checks or (case.name,)
    if whole:
        return [(n, False) for n in names]
    failed: set[str] = set()
    for failure in failures:
        owners = [n for n in names if failure == n or failure.startswith((n + ":", n + " "))]
        if not owners:
            return [(n, False) for n in names]
        failed.add(max(owners, key=len))
    return [(n, n not in failed) for n in names]


# ---- Python: HumanEval-style check(candidate) ----------------------------------------------


@dataclass(frozen=True)
class Recording:
    """Every call the tests make, recorded once per task with the reference solution."""

    calls: list[Any]


_recordings: dict[tuple[str, str, str], Recording] = {}
_recordings_lock = threading.Lock()


def record(task: CodingTask, sandbox: Sandbox) -> Recording:
    """The calls ``task``'s tests make, from a trusted run of the tests and the reference."""
    digest = hashlib.sha256("\0".join((task.stub, task.test, task.reference)).encode()).hexdigest()
    key = (task.id, sandbox.name, digest)
    with _recordings_lock:
        if key in _recordings:
            return _recordings[key]
    request = {
        "stub": task.stub,
        "test": task.test,
        "reference": task.reference,
        "entry_point": task.entry_point,
    }
    result = _trusted(sandbox, "record", request)
    try:
        reply = json.loads(result.stdout)
        calls, verdict = reply["calls"], reply["verdict"]
        for call in calls:
            plaindata.decode_call(call)
    except (ValueError, KeyError, TypeError) as exc:
        raise GraderError(
            f"recording the tests of {task.id} failed in the {sandbox.name} sandbox "
            f"({result.killed_reason or result.exit_code}): {result.stderr.strip()[-500:]}"
        ) from exc
    if verdict.get("status") != "pass":
        raise GraderError(
            f"reference solution of {task.id} fails its own tests: {_messages(verdict)[0]}"
        )
    recording = Recording(calls)
    with _recordings_lock:
        _recordings[key] = recording
    return recording


def python_cases(task: CodingTask, code: str, sandbox: Sandbox) -> list[Case]:
    """HumanEval style: the program alone is called with the recorded arguments; the tests run
    apart, on the values it returned."""
    recording = record(task, sandbox)
    program = humaneval_program(task.stub, code, task.entry_point)
    request = {"entry_point": task.entry_point, "calls": recording.calls}
    return [
        Case(
            name="tests",
            files={"program.py": program},
            argv=("python3", "/harness/pyrunner.py", "call", "program.py"),
            harness=_harness(),
            stdin=json.dumps(request).encode(),
            keep_stdout=True,
            judge=lambda result, box: _judge_python(task, recording, result, box),
        )
    ]


def _judge_python(
    task: CodingTask, recording: Recording, result: ExecResult, sandbox: Sandbox
) -> Judgement:
    """Read the call run's results as data, then run the tests on them in a trusted run."""
    if result.killed_reason is not None:
        return Judgement([f"stopped by the sandbox: {result.killed_reason}"], crashed=True)
    lines = result.stdout.splitlines()
    if not lines:
        return Judgement(
            ["the program ended before the tests finished (no results from the test runner)"],
            crashed=True,
        )
    reply, problem = _parse_results(lines, len(recording.calls), result.truncated)
    if "error" in reply:
        where = f" (line {reply['line']})" if reply.get("line") else ""
        return Judgement([f"{reply['error']}{where}"], crashed=True)
    if problem:
        return Judgement([problem], crashed=True)
    if result.exit_code != 0:
        tail = (result.stderr.strip().splitlines() or ["(no stderr)"])[-1][:200]
        return Judgement(
            [f"the program did not exit cleanly (exit status {result.exit_code}): {tail}"],
            crashed=True,
        )
    request = {
        "stub": task.stub,
        "test": task.test,
        "entry_point": task.entry_point,
        "calls": recording.calls,
        "results": reply["results"],
    }
    checked = _trusted(sandbox, "check", request)
    try:
        verdict = json.loads(checked.stdout)
        status = verdict["status"]
    except (ValueError, KeyError, TypeError):
        reason = checked.killed_reason or f"exit status {checked.exit_code}"
        return Judgement(
            [f"the tests could not be run on the program's results ({reason})"], crashed=True
        )
    if status == "pass":
        return Judgement([])
    return Judgement(_messages(verdict), crashed=status != "fail")


def _parse_results(lines: list[str], calls: int, truncated: bool) -> tuple[dict[str, Any], str]:
    """The call run's one reply line, checked; a malformed reply is a failure, never a crash."""
    if truncated:
        return {}, "malformed results: the test runner's reply was cut off (too long)"
    if len(lines) != 1:
        return {}, f"malformed results: {len(lines)} reply lines instead of one"
    try:
        reply = json.loads(lines[0])
    except (ValueError, RecursionError):
        return {}, "malformed results: the test runner's reply is not JSON"
    if type(reply) is not dict:
        return {}, "malformed results: the reply is not an object"
    if set(reply) <= {"error", "line"} and type(reply.get("error")) is str:
        if type(reply.get("line")) not in (int, type(None)):
            return {}, "malformed results: a line number that is not a number"
        return {"error": reply["error"][:300], "line": reply.get("line")}, ""
    if set(reply) != {"results"}:
        return {}, "malformed results: unexpected fields in the reply"
    try:
        plaindata.check_results(reply["results"], calls)
    except (ValueError, TypeError, RecursionError) as exc:
        return {}, f"malformed results: {str(exc)[:200]}"
    return reply, ""


def _trusted(sandbox: Sandbox, mode: str, request: dict[str, Any]) -> ExecResult:
    """One run of the harness alone (no candidate code), in the same sandbox."""
    return sandbox.run(
        {},
        [*_TRUSTED_PY, mode],
        timeout_s=TRUSTED_TIMEOUT_S,
        stdin=json.dumps(request).encode(),
        harness=_harness(),
        keep_stdout=True,
    )


def _harness() -> dict[str, bytes]:
    """The Python harness's files, bound read-only under /harness."""
    return {"pyrunner.py": PYRUNNER.read_bytes(), "plaindata.py": PLAINDATA.read_bytes()}


def _messages(verdict: dict[str, Any]) -> list[str]:
    """One readable failure from a test verdict."""
    if verdict.get("status") == "error":
        where = f" (line {verdict['line']})" if verdict.get("line") else ""
        return [f"{verdict.get('error', 'unknown error')}{where}"]
    check = verdict.get("check") or {}
    text = check.get("assert") or f"assertion at line {check.get('line')}"
    if "expected" in check:
        text += f": got {check['actual']}, expected {check['expected']}"
    elif "left" in check:
        text += f": left side {check['left']}, right side {check['right']}"
    if check.get("message"):
        text += f" ({check['message']})"
    return [text]
