"""``stackeval check-lab``: check a bash lab script of one's own, sub-check by sub-check.

    python -m stackeval check-lab worldcup SCRIPT --data worldcupplayerinfo.tsv
    python -m stackeval check-lab weblog SCRIPT --data web_log.tsv
    python -m stackeval check-lab imgproc SCRIPT

The script runs only in a sandbox (Docker or bubblewrap, whichever works here), on the given
data file or, without ``--data``, on the generated one; the expected figures are computed from
that same file. One line per sub-check (``--help``, each option, each figure), then a total; the
exit status is 0 only when every sub-check passes, 1 when one fails, 2 on an error (a missing
script or data file, no sandbox).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval.coding.bashlab import DATA_FILES, bash_cases
from stackeval.coding.cases import Case, check_verdicts, run_case
from stackeval.coding.tasks import load_bashlab
from stackeval.errors import ConfigError
from stackeval.sandbox import ExecResult, Sandbox, choose_sandbox

TASKS = ("worldcup", "weblog", "imgproc")
_NO_DATA = "{task} builds its own test images; --data is for " + " and ".join(DATA_FILES)
TIMEOUT_S = 60.0  # per option; generous, since nothing calibrates it on a student's machine


@dataclass(frozen=True)
class SubCheck:
    """One sub-check's verdict and, when it failed, why."""

    name: str
    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class LabCheck:
    """Every sub-check of one script on one data file."""

    task: str
    sandbox: str
    checks: tuple[SubCheck, ...]

    @property
    def passed(self) -> bool:
        """Whether every sub-check passed."""
        return all(c.passed for c in self.checks)

    @property
    def partial(self) -> float:
        """The fraction of sub-checks passed."""
        return sum(c.passed for c in self.checks) / len(self.checks) if self.checks else 0.0


def judge_case(
    case: Case, result: ExecResult, failures: list[str], timeout_s: float
) -> list[SubCheck]:
    """The sub-checks of one case from one run of it and the failures found in that run."""
    if result.timed_out or result.killed_reason:
        why = (
            f"timed out after {timeout_s:.0f} s"
            if result.timed_out or result.killed_reason == "cpu_limit"
            else f"stopped by the sandbox: {result.killed_reason}"
        )
        return [SubCheck(name, False, why) for name in case.checks or (case.name,)]
    verdicts = check_verdicts(case, failures)
    names = [name for name, _ in verdicts]
    checks = []
    for name, ok in verdicts:
        if ok:
            checks.append(SubCheck(name, True))
            continue
        own = [f for f in failures if _owner(f, names) == name]
        general = [f for f in failures if _owner(f, names) is None]
        reason = (own or general or ["failed"])[0]
        checks.append(SubCheck(name, False, reason.removeprefix(name).lstrip(": ")))
    return checks


def _owner(failure: str, names: list[str]) -> str | None:
    owners = [n for n in names if failure == n or failure.startswith((n + ":", n + " "))]
    return max(owners, key=len) if owners else None


def check_lab(
    task: str,
    script_path: Path,
    data_path: Path | None = None,
    *,
    sandbox: Sandbox,
    timeout_s: float = TIMEOUT_S,
    progress: Callable[[SubCheck], Any] | None = None,
) -> LabCheck:
    """Run ``script_path`` as the answer to bash lab ``task`` and judge every sub-check."""
    spec = {t.test: t for t in load_bashlab()}.get(task)
    if spec is None:
        raise ConfigError(f"unknown bash lab task {task!r}; known: {', '.join(TASKS)}")
    script = _read(script_path, "script").decode("utf-8", errors="replace")
    data = None
    if data_path is not None:
        if task not in DATA_FILES:
            raise ConfigError(_NO_DATA.format(task=task))
        data = _read(data_path, "data file")
    checks: list[SubCheck] = []
    for case in bash_cases(task, spec.entry_point, script, data):
        result, judgement = run_case(case, sandbox, timeout_s)
        for check in judge_case(case, result, judgement.failures, timeout_s):
            checks.append(check)
            if progress:
                progress(check)
    return LabCheck(task, sandbox.name, tuple(checks))


def _read(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise ConfigError(f"no such {what}: {path}" if not path.exists()
                          else f"the {what} {path} is not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def cmd_check_lab(args: argparse.Namespace) -> int:
    """Print each sub-check's verdict; 0 only when all pass."""
    script = Path(args.script)
    data = Path(args.data) if args.data else None
    _read(script, "script")  # fail on a missing file or a wrong option before any sandbox
    if data is not None:
        _read(data, "data file")
        if args.task not in DATA_FILES:
            raise ConfigError(_NO_DATA.format(task=args.task))
    sandbox = choose_sandbox(args.sandbox)
    where = f" on {data}" if data else " on the generated data"
    print(f"check-lab {args.task}: {script}{where if args.task in DATA_FILES else ''} "
          f"({sandbox.name} sandbox)")

    def show(check: SubCheck) -> None:
        line = f"{'PASS' if check.passed else 'FAIL'}  {check.name}"
        print(line if check.passed else f"{line}: {check.reason}", flush=True)

    result = check_lab(args.task, script, data, sandbox=sandbox, timeout_s=args.timeout,
                       progress=show)
    passed = sum(c.passed for c in result.checks)
    print(f"{passed}/{len(result.checks)} sub-checks passed ({100 * result.partial:.0f}%)")
    return 0 if result.passed else 1


def add_check_lab_command(sub: Any) -> None:
    """Register ``check-lab`` on the CLI's subparsers."""
    p = sub.add_parser("check-lab", help="check your own bash lab script, sub-check by sub-check",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=TASKS)
    p.add_argument("script", help="your script")
    p.add_argument("--data", help="the input file (worldcup, weblog); default: the generated one")
    p.add_argument("--sandbox", choices=("auto", "docker", "bwrap"), default="auto",
                   help="where the script runs (default: Docker if usable, else bubblewrap)")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S,
                   help=f"seconds per option (default {TIMEOUT_S:.0f})")
    p.set_defaults(func=cmd_check_lab)
