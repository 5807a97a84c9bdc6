"""Coding evaluations: tasks, code extraction, sandboxed checks, linting and pass@k."""

from stackeval.coding.checkers import CodeRun, check_code
from stackeval.coding.extract import extract_code
from stackeval.coding.passk import pass_at_k, pass_hat_k, suite_pass_at_k, suite_pass_hat_k
from stackeval.coding.quality import QualityReport, lint
from stackeval.coding.runner import CodingRecord, CodingResult, build_prompt, evaluate_answer
from stackeval.coding.tasks import (
    SUITES,
    CodingTask,
    load_all,
    load_bashlab,
    load_humaneval,
    load_python_tasks,
)

__all__ = [
    "SUITES",
    "CodeRun",
    "CodingRecord",
    "CodingResult",
    "CodingTask",
    "QualityReport",
    "build_prompt",
    "check_code",
    "evaluate_answer",
    "extract_code",
    "lint",
    "load_all",
    "load_bashlab",
    "load_humaneval",
    "load_python_tasks",
    "pass_at_k",
    "pass_hat_k",
    "suite_pass_at_k",
    "suite_pass_hat_k",
]
