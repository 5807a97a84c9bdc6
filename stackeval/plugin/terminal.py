"""pytest plugin for the terminal: one line per wrong answer, and where the reports went.

A wrong answer is the product working (the model answered and the grader said no), not a
crash: instead of a traceback it gets one line (model, case, outcome, the grader's reason) in
a section of its own, a ``F`` in the progress line, ``WRONG`` with ``-v``, and "N wrong" in
pytest's closing line. The test still fails: exit status 1, "failed" in Allure and JUnit.
Harness errors (a server down, a timeout, a grader bug) keep their tracebacks. Pass ``--tb``
explicitly (e.g. ``--tb=short``) to get pytest's usual failure report for wrong answers too.

It also prints progress lines while asks run, and where the reports went.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from stackeval import store
from stackeval.plugin.runtime import runtime
from stackeval.report import allure
from stackeval.summary import WIDTH
from stackeval.table import cut, fit_widths, joined

WRONG = "wrong"
_VERDICT = re.compile(r"\[([a-z_]+)\] ?(.*)")  # "[wrong_answer] expected 3, got 2"
_RATE = re.compile(r"(\d+)/(\d+) (?:attempts|samples) passed")


def wrong_answer(model: str, test_id: str, message: str) -> list[str] | None:
    """``[model, case, outcome, reason]`` of a failed eval assertion, or None if it is not one.

    The evals assert with the attempts' verdicts, one ``[outcome] explanation`` per failed
    attempt; the first one gives the outcome and the reason, and the pass rate is added when
    a test asked more than once.
    """
    verdicts = [m for line in message.splitlines() if (m := _VERDICT.search(line))]
    if not verdicts:
        return None
    outcome, reason = verdicts[0].group(1), " ".join(verdicts[0].group(2).split())
    case = test_id.removeprefix(f"{model}-").removesuffix(f"-{model}")
    rate = _RATE.search(message)
    if rate and int(rate.group(2)) > 1:
        outcome = f"{outcome} ({rate.group(1)}/{rate.group(2)} passed)"
    return [model, case, outcome, reason]


def format_wrong_answers(rows: list[list[str]], width: int) -> list[str]:
    """One line per wrong answer, columns aligned, each line cut to ``width``."""
    cols = fit_widths(rows, count=3, cap=40)
    return [cut(joined(row[:3], cols) + "  " + row[3], width) for row in rows]


def _wrong_answer(item: pytest.Item, call: pytest.CallInfo[None]) -> list[str] | None:
    if call.when != "call" or call.excinfo is None \
            or not call.excinfo.errisinstance(AssertionError):
        return None
    callspec = getattr(item, "callspec", None)
    model = callspec.params.get("model") if callspec else None
    if not isinstance(model, str):
        return None
    return wrong_answer(model, callspec.id, str(call.excinfo.value))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Tag the report of a wrong answer (the tag travels to the xdist controller too)."""
    report = yield
    if report.failed and item.config.getoption("tbstyle", "auto") == "auto":
        row = _wrong_answer(item, call)
        if row is not None:
            report.stackeval_wrong = row
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport,
                             config: pytest.Config) -> tuple[str, str, Any] | None:
    """Count wrong answers apart from failures, so pytest prints no traceback for them."""
    if report.when == "call" and report.failed and getattr(report, "stackeval_wrong", None):
        return WRONG, "F", ("WRONG", {"yellow": True})
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line per wrong answer, before the summary tables."""
    reports = terminalreporter.stats.get(WRONG, [])
    if not reports:
        return
    # A terminal's own width; a log (CI) gets the summary's 100 columns.
    width = terminalreporter._tw.fullwidth - 1
    if not terminalreporter.isatty:
        width = max(width, WIDTH)
    terminalreporter.section(f"stackeval: wrong answers ({len(reports)})")
    for line in format_wrong_answers([rep.stackeval_wrong for rep in reports], max(40, width)):
        terminalreporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    """Register the progress lines and the closing "reports" section (a second summary hook,
    run last)."""
    if getattr(config, "workerinput", None) is None:
        config.pluginmanager.register(ProgressLines(config), "stackeval-progress")
        config.pluginmanager.register(ReportsSection(), "stackeval-reports-section")


class ProgressLines:
    """Every 15 s while asks run, a line per busy model: done/total, tokens/s, time left.

    Written from ``pytest_runtest_logreport``, where pytest's output capture is suspended.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._last = time.monotonic()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Maybe print progress after each test phase."""
        now = time.monotonic()
        if now - self._last < 15:
            return
        self._last = now
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        for model, progress in runtime(self.config).pool.progress.items():
            if progress.done < progress.submitted and reporter is not None:
                # After -q's dots write_line does not start a new line by itself.
                if getattr(reporter._tw, "width_of_current_line", 0):
                    reporter.write("\n")
                reporter.write_line(f"[stackeval] {progress.line(model)}")


class ReportsSection:
    """Where this run's records and Allure results are, and how to turn them into reports."""

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        """The last section of the session's output."""
        rt = runtime(config)
        alluredir = config.getoption("allure_report_dir", None)
        results = Path(alluredir) if alluredir else None
        n_results = allure.count_results(results) if results is not None else 0
        if not rt.run_dir.is_dir() and not n_results:
            return
        write = terminalreporter.write_line
        terminalreporter.section("stackeval: reports")
        if rt.run_dir.is_dir():
            n = {suite: sum(1 for _ in store.read_records(rt.run_dir, suite))
                 for suite in ("qa", "coding", "perf", "webui")}
            counts = ", ".join(f"{k} {v}" for k, v in n.items() if v) or "none yet"
            write(f"records         {_short(rt.run_dir)}  ({counts})")
        if results is not None and n_results:
            write(f"Allure results  {_short(results)}  ({n_results} tests)")
        default_dir = rt.settings.reports_dir == Path("reports")
        write(f"HTML reports    python -m stackeval report --run {_short(rt.run_dir)}"
              + ("" if default_dir else f" --reports-dir {_short(rt.settings.reports_dir)}"))
        if default_dir:
            write("                (or make report, which reports on the latest run)")


def _short(path: Path) -> str:
    """The path relative to the working directory when it lies below it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) \
            else str(path)
    except ValueError:
        return str(path)
