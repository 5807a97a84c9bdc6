"""pytest side of performance evals and telemetry: a per-run sampler, attachments, the table.

- Settings: :class:`stackeval.config.PerfSettings` (``--concurrency``, ``--perf-requests``,
  ``--telemetry-rate``, ...), resolved with the rest; evals get them from ``perf_settings``.
- Telemetry: one session-long sampler per process, started by the first perf/qa/coding test.
  Each such test gets its window sliced out: perf tests get CSV + PNG + JSON summary attached
  to Allure, qa/coding tests only the JSON summary. At the end, the run and each model's span
  are written to ``reports/runs/<run_id>/telemetry/``.
- pytest-benchmark writes ``reports/runs/<run_id>/benchmark.json`` unless --benchmark-json
  says otherwise; perf records go to ``perf.jsonl`` beside it; a table ends the run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from stackeval import attach, store
from stackeval.config import PerfSettings
from stackeval.perf.monitor import RunMonitor, Window
from stackeval.perf.summary import cold_lines, gateway_lines, knee_lines, perf_rows
from stackeval.perf.watch import stack_containers, stack_pids
from stackeval.plugin.runtime import model_of, runtime
from stackeval.table import aligned

log = logging.getLogger(__name__)

FULL, SUMMARY = "full", "summary"
_KINDS = {"perf": FULL, "qa": SUMMARY, "coding": SUMMARY}


class PerfRuntime:
    """Per-process perf state: settings, the run's telemetry monitor and its output."""

    def __init__(self, config: pytest.Config, settings: PerfSettings) -> None:
        self.config = config
        self.settings = settings
        self._monitor: RunMonitor | None = None
        self.session_files: dict[str, Path] = {}
        self.windows = 0
        self.host_cpu: list[float] = []  # mean system CPU % of each perf test window

    def monitor(self) -> RunMonitor | None:
        """The run's monitor, created on first use; None when telemetry is off."""
        if self.settings.telemetry_rate <= 0:
            return None
        if self._monitor is None:
            rt = runtime(self.config)
            self._monitor = RunMonitor(
                rt.run_dir / "telemetry", self.settings.telemetry_rate,
                pids=lambda: stack_pids(rt.started_stack),
                containers=lambda: stack_containers(rt.started_stack),
                suffix=f"-{rt.worker}" if rt.worker else "")
        return self._monitor

    @property
    def monitor_started(self) -> bool:
        """True once a window has been opened."""
        return self._monitor is not None and self._monitor.started


PERF = pytest.StashKey[PerfRuntime]()


def perf_runtime(config: pytest.Config) -> PerfRuntime:
    """The perf plugin state of this pytest process."""
    return config.stash[PERF]


def pytest_configure(config: pytest.Config) -> None:
    """Set up the perf state with the perf settings the core resolved."""
    config.stash[PERF] = PerfRuntime(config, runtime(config).session.perf)


@pytest.fixture(scope="session")
def perf_settings(pytestconfig: pytest.Config) -> PerfSettings:
    """The resolved perf settings."""
    return perf_runtime(pytestconfig).settings


@pytest.hookimpl(trylast=True)  # after -m/-k deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Point pytest-benchmark's JSON at this run's directory when perf tests are selected."""
    bench = getattr(config, "_benchmarksession", None)
    if bench is None or bench.json or config.option.collectonly:
        return
    if getattr(config, "workerinput", None) is not None:
        return  # pytest-benchmark is disabled under xdist anyway
    if any(item.get_closest_marker("perf") for item in items):
        run_dir = runtime(config).run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        bench.json = run_dir / "benchmark.json"


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any,
                                 output_json: dict[str, Any]) -> None:
    """Stamp the benchmark JSON with the run id and perf settings (a pytest-benchmark hook)."""
    rt = runtime(config)
    output_json["stackeval"] = {"run_id": rt.settings.run_id, "run_dir": str(rt.run_dir),
                                "perf_settings": asdict(perf_runtime(config).settings)}


def _kind(item: pytest.Item) -> str | None:
    for marker, kind in _KINDS.items():
        if item.get_closest_marker(marker):
            return kind
    return None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):  # type: ignore[no-untyped-def]
    """Open the test's telemetry window before its fixtures run (model loads count)."""
    pr = perf_runtime(item.config)
    monitor = pr.monitor() if _kind(item) else None
    if monitor is not None:
        monitor.begin(item.nodeid, model_of(item))
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    """Close the window after the test body and attach it to the test."""
    yield
    _close_window(item, attach_files=True)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Close a window left open by a failed setup (nothing attached)."""
    _close_window(item, attach_files=False)


def _close_window(item: pytest.Item, attach_files: bool) -> None:
    kind = _kind(item)
    pr = perf_runtime(item.config)
    if kind is None or not pr.monitor_started:
        return
    monitor = pr.monitor()
    if monitor is None or not monitor.is_open(item.nodeid):
        return
    try:
        window = monitor.end(item.nodeid, files=attach_files and kind == FULL)
    except Exception:  # noqa: BLE001 -- telemetry must never fail a test
        log.warning("telemetry for %s could not be written", item.nodeid, exc_info=True)
        return
    pr.windows += 1
    cpu = window.summary.get("columns", {}).get("cpu.percent")
    if kind == FULL and cpu:
        pr.host_cpu.append(cpu["mean"])
    if attach_files:
        _attach(window)


def _attach(window: Window) -> None:
    attach.as_json("telemetry summary", window.summary)
    for kind, label in (("png", "telemetry chart"), ("csv", "telemetry samples")):
        if kind in window.files:
            attach.file(label, window.files[kind])


@pytest.hookimpl(tryfirst=True)  # before the core stops the stack
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the sampler and write the run's and each model's telemetry."""
    pr = perf_runtime(session.config)
    if not pr.monitor_started:
        return
    monitor = pr.monitor()
    assert monitor is not None
    try:
        pr.session_files = monitor.finish()
    except Exception:  # noqa: BLE001 -- the results are already safe; only the charts are lost
        log.warning("session telemetry could not be written", exc_info=True)
        return
    if session.config.getoption("allure_report_dir", None):
        _global_attach(pr.session_files)


def _global_attach(files: dict[str, Path]) -> None:
    import allure

    for key, path in files.items():
        if key.startswith("png:"):
            allure.global_attach.file(str(path), name=f"telemetry {key[4:]}",
                                      attachment_type=allure.attachment_type.PNG)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the perf table (from this run's perf.jsonl) and where telemetry went."""
    if getattr(config, "workerinput", None) is not None:
        return
    rt, pr = runtime(config), perf_runtime(config)
    records = list(store.read_records(rt.run_dir, "perf"))
    lines = aligned(perf_rows(records))
    if lines or pr.monitor_started:
        terminalreporter.section("stackeval: performance" if lines else "stackeval: telemetry")
    for line in lines:
        terminalreporter.write_line(line)
    for line in knee_lines(records) + cold_lines(records) + gateway_lines(records):
        terminalreporter.write_line(line)
    if lines:
        s = pr.settings
        terminalreporter.write_line(
            f"fixed output {s.perf_max_tokens} tokens; SLO TTFT <= {s.slo_ttft_ms:g} ms, TPOT <= "
            f"{s.slo_tpot_ms:g} ms; diff = client vs server decode tok/s, largest per-request gap "
            "in %; flag = requests above 5%; definitions: stackeval/perf/stats.py")
        terminalreporter.write_line(f"records: {rt.run_dir / 'perf.jsonl'}")
    if pr.monitor_started:
        monitor = pr.monitor()
        assert monitor is not None
        for source, reason in monitor.unavailable.items():
            terminalreporter.write_line(f"telemetry: {source} not sampled: {reason}")
        summary = pr.session_files.get("summary")
        if summary is not None:
            if pr.host_cpu:
                busy = sum(pr.host_cpu) / len(pr.host_cpu)
                terminalreporter.write_line(
                    f"telemetry: host CPU {busy:.0f}% busy on average during perf tests"
                    + (" -- other load competed with the server; figures are contended"
                       if busy > 90 else ""))
            cost = monitor.overhead.get("sampler_core_pct", 0.0)
            terminalreporter.write_line(
                f"telemetry: {pr.windows} test windows at {pr.settings.telemetry_rate:g} Hz "
                f"(sampler thread {cost:.2f}% of a core); {summary.parent}")
