"""The run monitor: one sampler for the run, per-test windows, files, and the no-GPU path."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from stackeval.perf.monitor import RunMonitor, safe_name
from stackeval.perf.watch import StackSource, stack_pids
from stackeval.telemetry import SourceUnavailable


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield proc
    proc.kill()
    proc.wait()


def test_stack_pids_from_the_stack():
    assert stack_pids(None) == {}
    assert stack_pids(SimpleNamespace(pids=lambda: {"server-a": 1})) == {"server-a": 1}


def test_stack_source_follows_servers_that_come_and_go(child):
    pids: dict[str, int] = {}
    src = StackSource(lambda: pids)
    src.open()
    first = src.read()
    assert "proc.harness.rss_mib" in first and not any("server" in k for k in first)
    pids["server-m"] = child.pid
    assert "proc.server-m.rss_mib" in src.read()  # picked up on the next tick
    pids.clear()
    assert not any("server" in k for k in src.read())
    src.close()


def test_stack_source_survives_a_failing_pid_lookup_and_missing_docker(caplog):
    calls = {"n": 0}

    def flaky() -> dict[str, int]:
        calls["n"] += 1
        raise RuntimeError("dictionary changed size during iteration")

    src = StackSource(flaky, containers=lambda: ["no-such-container-stackeval"])
    src.open()
    time.sleep(0.02)  # CPU % needs an interval since the first reading
    with caplog.at_level(logging.INFO):
        assert "proc.harness.cpu_percent" in src.read()
        src.read()
    # Docker is missing or the container is: said once, not on every tick.
    assert sum("container telemetry unavailable" in r.message for r in caplog.records) <= 1
    src.close()


def test_windows_files_and_session_charts(tmp_path, child):
    pids = {"server-m": child.pid}
    mon = RunMonitor(tmp_path / "telemetry", rate_hz=20, pids=lambda: pids)
    assert not mon.started
    mon.begin("evals/test_perf.py::test_a[m]", "m")
    time.sleep(0.35)
    win = mon.end("evals/test_perf.py::test_a[m]")
    assert mon.started and not mon.is_open("evals/test_perf.py::test_a[m]")
    assert set(win.files) == {"csv", "png", "json"}
    assert all(p.exists() and p.stat().st_size > 0 for p in win.files.values())
    summary = json.loads(win.files["json"].read_text())
    assert summary["model"] == "m" and summary["samples"] >= 4
    assert "proc.server-m.rss_mib" in summary["columns"]
    assert win.files["csv"].read_text().splitlines()[0].startswith("t,wall,")

    mon.begin("evals/test_qa.py::test_b[m-x]", "m")
    time.sleep(0.1)
    light = mon.end("evals/test_qa.py::test_b[m-x]", files=False)
    assert light.files == {} and light.summary["test"].endswith("test_b[m-x]")

    out = mon.finish()
    assert {"csv", "json", "png", "png:m", "summary"} <= set(out)
    assert out["png:m"].name == "model-m.png"
    totals = json.loads(out["summary"].read_text())
    assert totals["session"]["sampler_overhead"]["sampler_core_pct"] < 50
    assert totals["m"]["samples"] >= 8
    # Thread CPU time comes in 10 ms clock ticks: over half a second it may read as zero.
    assert mon.overhead["us_per_sample"] >= 0


def test_finish_without_any_window_writes_nothing(tmp_path):
    mon = RunMonitor(tmp_path / "t")
    assert mon.finish() == {} and not (tmp_path / "t").exists()


def test_no_gpu_is_said_once_and_the_rest_is_sampled(tmp_path, monkeypatch, caplog):
    from stackeval.telemetry import gpu

    def no_driver():
        raise SourceUnavailable("no NVIDIA driver installed (libnvidia-ml not found)")

    monkeypatch.setattr(gpu, "_nvml", no_driver)  # the same on a GPU box as on this one
    mon = RunMonitor(tmp_path / "t", rate_hz=20)
    with caplog.at_level(logging.INFO, logger="stackeval"):
        for name in ("a", "b", "c"):
            mon.begin(name, "m")
            time.sleep(0.12)
            win = mon.end(name, files=False)
        mon.finish()
    assert "no NVIDIA driver" in mon.unavailable["gpu"]
    assert win.summary["unavailable"][0]["source"] == "gpu"
    assert "cpu.percent" in win.summary["columns"] and win.summary["energy"] == {}
    said = [r for r in caplog.records if "gpu telemetry unavailable" in r.getMessage()]
    assert len(said) == 1


def test_safe_name():
    assert safe_name("evals/test_perf.py::test_x[qwen2.5-coder:0.5b-c4]") == \
        "evals_test_perf.py_test_x_qwen2.5-coder_0.5b-c4"
    assert safe_name("::") == "unnamed"
