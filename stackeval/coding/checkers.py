"""Running extracted programs against their tests in a sandbox, with calibrated time limits."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

from stackeval.coding.bashlab import bash_cases
from stackeval.coding.cases import Case, Judgement, check_verdicts, python_cases
from stackeval.coding.tasks import CodingTask
from stackeval.errors import GraderError
from stackeval.records import Outcome
from stackeval.sandbox import ExecResult, Sandbox

log = logging.getLogger(__name__)

# EvalPlus style: a limit is a multiple of the reference solution's own time on this host
LIMIT_FACTOR = 20.0
MIN_LIMIT_S = {"python": 2.0, "bash": 5.0}
CALIBRATION_TIMEOUT_S = 60.0
_VIOLATION = re.compile(
    r"MemoryError|Cannot allocate memory|Resource temporarily unavailable|fork: retry|"
    r"File too large|Read-only file system|Network is unreachable|"
    r"Temporary failure in name resolution"
)


# What a program run can come to; only PASS passes.
RUN_OUTCOMES = frozenset({Outcome.PASS, Outcome.WRONG, Outcome.RUNTIME_ERROR, Outcome.TIMEOUT,
                          Outcome.NO_CODE, Outcome.SANDBOX_VIOLATION})


@dataclass(frozen=True)
class CodeRun:
    """The verdict on one program, with every failed check and what the last run printed."""

    outcome: Outcome
    explanation: str
    failures: tuple[str, ...] = ()
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0  # all runs together
    time_limit_s: float = 0.0  # the largest per-run limit used
    cases: int = 0
    checks: tuple[tuple[str, bool], ...] = ()  # each sub-check (--help, an option, a figure)

    @property
    def passed(self) -> bool:
        """Whether every case passed."""
        return self.outcome is Outcome.PASS

    @property
    def partial(self) -> float:
        """Partial credit: the fraction of sub-checks passed (0 or 1 without sub-checks)."""
        if not self.checks:
            return 1.0 if self.passed else 0.0
        return sum(ok for _, ok in self.checks) / len(self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "outcome": self.outcome.value, "passed": self.passed,
                "checks": dict(self.checks), "partial": self.partial}


def cases_for(task: CodingTask, code: str, sandbox: Sandbox) -> list[Case]:
    """The sandbox runs that check ``code`` as an answer to ``task``.

    Python cases need ``sandbox`` up front: the arguments the tests pass are recorded there
    once, in a run of the tests and the reference solution alone.
    """
    if task.language == "python":
        return python_cases(task, code, sandbox)
    return bash_cases(task.test, task.entry_point, code)


_limits: dict[tuple[str, str], dict[str, float]] = {}
_limits_lock = threading.Lock()


def time_limits(task: CodingTask, sandbox: Sandbox) -> dict[str, float]:
    """Per-case limits from one timed run of the reference solution, cached per process."""
    key = (task.id, sandbox.name)
    with _limits_lock:
        if key in _limits:
            return _limits[key]
    limits = {}
    for case in cases_for(task, task.reference, sandbox):
        result = case.run(sandbox, CALIBRATION_TIMEOUT_S)
        failures = case.evaluate(result, sandbox).failures
        if failures or not result.ok:
            detail = (
                failures[0]
                if failures
                else f"{result.killed_reason or result.exit_code}: {result.stderr[-300:]}"
            )
            raise GraderError(
                f"reference solution of {task.id} fails {case.name} in the {sandbox.name} "
                f"sandbox (does it have the tools the task needs?): {detail}"
            )
        limits[case.name] = max(MIN_LIMIT_S[task.language], LIMIT_FACTOR * result.duration_s)
    log.debug("time limits for %s: %s", task.id, limits)
    with _limits_lock:
        _limits[key] = limits
    return limits


def check_code(task: CodingTask, code: str, sandbox: Sandbox) -> CodeRun:
    """Run ``code`` against all of the task's cases; the first failing case sets the outcome."""
    if not code.strip():
        return CodeRun(Outcome.NO_CODE, "no code found in the answer")
    limits = time_limits(task, sandbox)
    outcome, failures, last, duration = Outcome.PASS, [], None, 0.0
    cases = cases_for(task, code, sandbox)
    verdicts: list[tuple[str, bool]] = []
    for case in cases:
        limit = limits.get(case.name, MIN_LIMIT_S[task.language])
        result = case.run(sandbox, limit)
        duration += result.duration_s
        judgement = case.evaluate(result, sandbox)
        case_failures = judgement.failures
        case_outcome = _classify(result, judgement)
        verdicts += check_verdicts(case, case_failures, whole=case_outcome in _WHOLE)
        if case_outcome is Outcome.PASS:
            continue
        if outcome is Outcome.PASS:
            outcome, last = case_outcome, result
        if case_outcome is Outcome.TIMEOUT:
            case_failures = [f"timed out after {limit:.1f} s"]
            if case is not cases[-1]:  # a hang usually repeats: don't wait for every case
                case_failures.append(f"{len(cases) - cases.index(case) - 1} later case(s) not run")
        elif case_outcome is Outcome.SANDBOX_VIOLATION and not case_failures:
            case_failures = [f"stopped by the sandbox: {result.killed_reason}"]
        failures += [
            f"{case.name}: {f}" if len(cases) > 1 and not f.startswith(case.name) else f
            for f in case_failures
        ]
        if case_outcome is Outcome.TIMEOUT:
            for later in cases[cases.index(case) + 1 :]:  # not run: failed
                verdicts += [(name, False) for name in later.checks or (later.name,)]
            break
    last = last or result
    if outcome is Outcome.PASS:
        explanation = f"passed all {len(cases)} case(s)" if len(cases) > 1 else "passed all tests"
    else:
        explanation = f"{outcome.value}: {failures[0]}" + (
            f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        )
    return CodeRun(
        outcome=outcome,
        explanation=explanation,
        failures=tuple(failures),
        stdout=last.stdout,
        stderr=last.stderr,
        exit_code=last.exit_code,
        duration_s=duration,
        time_limit_s=max(limits.values(), default=0.0),
        cases=len(cases),
        checks=tuple(verdicts),
    )


_WHOLE = (Outcome.TIMEOUT, Outcome.SANDBOX_VIOLATION)  # fail every sub-check of a case


def _classify(result: ExecResult, judgement: Judgement) -> Outcome:
    failures = judgement.failures
    if result.timed_out or result.killed_reason == "cpu_limit":
        return Outcome.TIMEOUT
    if result.killed_reason in ("output_limit", "file_size_limit", "memory_limit"):
        return Outcome.SANDBOX_VIOLATION
    if not failures:
        if result.killed_reason is not None:  # never a pass from a run that was killed
            return Outcome.RUNTIME_ERROR
        return Outcome.PASS
    if _VIOLATION.search(result.stderr) or any(_VIOLATION.search(f) for f in failures):
        return Outcome.SANDBOX_VIOLATION
    return Outcome.RUNTIME_ERROR if judgement.crashed else Outcome.WRONG
