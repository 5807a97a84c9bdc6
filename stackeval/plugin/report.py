"""pytest plugin for reports: the CI gate (--min-accuracy, --min-pass-at-1) and Allure metadata.

At session end (controller only) it writes ``hardware.json`` into the run directory, adds
CPU/RAM/GPU lines to Allure's ``environment.properties``, writes ``categories.json`` and
``executor.json``, and checks the gate against the run's saved records: a model below a
minimum fails the session with one summary line each. The evals keep asserting per question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackeval.config import GateSettings
from stackeval.errors import ConfigError
from stackeval.plugin.runtime import runtime
from stackeval.report import allure
from stackeval.report.gate import GateResult, Threshold, evaluate, parse_fraction

# (setting, suite, metric)
GATED = (("min_accuracy", "qa", "accuracy"), ("min_pass_at_1", "coding", "pass@1"))

GATE = pytest.StashKey[list[Threshold]]()
GATE_RESULTS = pytest.StashKey[list[GateResult]]()


def thresholds(gate: GateSettings) -> list[Threshold]:
    """The minimums the gate settings ask for (--min-accuracy, --min-pass-at-1)."""
    out = []
    for name, suite, metric in GATED:
        raw = getattr(gate, name)
        if raw not in (None, ""):
            out.append(Threshold(suite, metric, parse_fraction(raw, "--" + name.replace("_", "-"))))
    return out


def pytest_configure(config: pytest.Config) -> None:
    """Parse the thresholds once, so a typo fails before any model is asked anything."""
    try:
        config.stash[GATE] = thresholds(runtime(config).session.gate)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc


def _hardware() -> dict[str, Any]:
    from stackeval.telemetry import gpu_info, host_info

    return {"host": host_info(), "gpus": gpu_info()}


@pytest.hookimpl(trylast=True)  # after the core plugin stopped the stack and wrote environment
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write hardware and Allure metadata, then apply the gate to this run's records."""
    config = session.config
    if getattr(config, "workerinput", None) is not None:
        return
    rt = runtime(config)
    hardware = None
    if (rt.run_dir / "environment.json").exists():
        hardware = _hardware()
        rt.writer.write_meta("hardware", hardware)
    alluredir = config.getoption("allure_report_dir", None)
    if alluredir and allure.has_results(Path(alluredir)):
        results = Path(alluredir)
        allure.write_results_meta(results, rt.settings.run_id)
        allure.append_environment(results, allure.hardware_properties(hardware or _hardware()))
        if rt.run_dir.is_dir():  # so `stackeval report` finds this run's results, wherever
            rt.writer.write_meta(allure.RUN_META, {"results_dir": str(results.resolve())})
    elif alluredir and Path(alluredir) == allure.run_results_dir(rt.settings.reports_dir,
                                                                 rt.settings.run_id):
        allure.remove_if_empty(Path(alluredir))  # our own dir, of a session that ran no test
    thresholds = config.stash.get(GATE, [])
    if not thresholds:
        return
    results_ = evaluate(rt.run_dir, thresholds, rt.models)
    config.stash[GATE_RESULTS] = results_
    if any(not r.passed for r in results_) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line per model and gated suite; failures are what CI logs should show."""
    thresholds = config.stash.get(GATE, [])
    if not thresholds or getattr(config, "workerinput", None) is not None:
        return
    results = config.stash.get(GATE_RESULTS, [])
    terminalreporter.section("stackeval: gate")
    gated = {r.threshold.suite for r in results}
    for t in thresholds:
        if t.suite not in gated:
            terminalreporter.write_line(f"stackeval gate: skip {t.suite} {t.metric}: the suite "
                                        "did not run in this session")
    for r in results:
        terminalreporter.write_line(r.line(), red=not r.passed, green=r.passed)
    failed = [r for r in results if not r.passed]
    if failed:
        terminalreporter.write_line(f"stackeval gate: {len(failed)} model/suite pair(s) below "
                                    "the minimum: session failed", red=True, bold=True)
