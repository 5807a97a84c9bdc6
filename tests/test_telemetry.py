"""Telemetry: sampler lifecycle, sources, the no-GPU path, trace outputs and energy arithmetic."""

from __future__ import annotations

import csv
import logging
import math
import subprocess
import sys
import threading
import time
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from stackeval.errors import ConfigError
from stackeval.telemetry import (
    DockerSource,
    GpuSource,
    Mark,
    ProcessSource,
    Sampler,
    SourceUnavailable,
    Trace,
    gpu_info,
    host_info,
)
from stackeval.telemetry.containers import docker_cpu_percent, docker_memory

NAN = float("nan")


def _nvml_present() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


def _synthetic(energy_mj: list[float], power_w: list[float] | None = None) -> Trace:
    cols = ["t", "wall", "gpu0.energy_mj"] + (["gpu0.power_w"] if power_w else [])
    rows = []
    for i, e in enumerate(energy_mj):
        row = [100.0 + i, 1e9 + i, e] + ([power_w[i]] if power_w else [])
        rows.append(tuple(row))
    return Trace(columns=tuple(cols), rows=tuple(rows), rate_hz=1.0)


# --- sampler lifecycle -----------------------------------------------------------------------


def test_start_stop_takes_timestamped_samples() -> None:
    s = Sampler(rate_hz=20, gpu=False)
    assert s.trace is None  # nothing happens before start()
    s.start()
    time.sleep(0.5)
    trace = s.stop()
    assert len(trace) >= 3
    assert trace.columns[:2] == ("t", "wall")
    assert {"cpu.percent", "mem.used_mib", "mem.available_mib", "mem.percent"} <= set(trace.columns)
    ts = trace.column("t")
    assert all(b > a for a, b in pairwise(ts))
    assert abs(trace.column("wall")[-1] - time.time()) < 5
    assert 0 < trace.achieved_hz <= 20 * 1.2
    assert s.stop() is trace  # idempotent


def test_context_manager_marks_and_snapshot() -> None:
    with Sampler(rate_hz=50, gpu=False) as s:
        s.mark("test_start")
        time.sleep(0.2)
        partial = s.snapshot()
        s.mark("test_end")
        time.sleep(0.1)
    trace = s.trace
    assert trace is not None
    assert [m.label for m in trace.marks] == ["test_start", "test_end"]
    assert len(partial) >= 2 and len(trace) > len(partial)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        Sampler(rate_hz=0)


def test_failing_source_is_dropped_and_sampling_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        name = "broken"

        def open(self) -> None:
            pass

        def read(self) -> dict[str, float]:
            raise OSError("sensor fell off")

        def close(self) -> None:
            pass

    with Sampler(rate_hz=100, gpu=False, sources=[Broken()]) as s:
        time.sleep(0.3)
    trace = s.trace
    assert trace is not None and len(trace) >= 3
    assert "sensor fell off" in trace.unavailable["broken"]
    assert sum("broken telemetry read failed" in r.message for r in caplog.records) == 1


# --- outputs ---------------------------------------------------------------------------------


def test_csv_json_png_written_and_readable(tmp_path: Any) -> None:
    with Sampler(rate_hz=20, gpu=False) as s:
        time.sleep(0.3)
        s.mark("boundary")
        time.sleep(0.2)
    trace = s.trace
    assert trace is not None

    with trace.to_csv(tmp_path / "t.csv").open() as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == trace.columns
    assert len(rows) == len(trace) + 1
    assert float(rows[1][0]) == trace.rows[0][0]  # exact round trip of perf_counter times

    back = Trace.from_json(trace.to_json(tmp_path / "t.json"))
    assert back.columns == trace.columns and len(back) == len(trace)
    assert back.marks == trace.marks
    assert back.summary()["samples"] == trace.summary()["samples"]

    png = trace.plot(tmp_path / "t.png", title="unit test").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def test_summary_has_stats_rates_and_unavailable() -> None:
    trace = Trace(
        columns=("t", "wall", "cpu.percent", "gpu0.energy_mj"),
        rows=((0.0, 0.0, 10.0, 0.0), (1.0, 1.0, NAN, 5000.0), (2.0, 2.0, 30.0, 10000.0)),
        rate_hz=1.0,
        unavailable={"docker": "daemon not reachable"},
    )
    s = trace.summary()
    assert s["samples"] == 3 and s["duration_s"] == 2.0 and s["achieved_hz"] == 1.0
    assert s["columns"]["cpu.percent"] == {"peak": 30.0, "mean": 20.0, "min": 10.0}
    assert "gpu0.energy_mj" not in s["columns"]  # a cumulative counter has no useful mean
    assert s["energy"]["gpu0"]["joules"] == 10.0
    assert s["unavailable"] == [{"source": "docker", "reason": "daemon not reachable"}]


# --- energy and slicing ----------------------------------------------------------------------


def test_energy_from_counter_minus_idle() -> None:
    e = _synthetic([1.0e6, 1.1e6, 1.2e6, 1.3e6]).energy(baseline_w=60.0)["gpu0"]
    assert e.method == "counter"
    assert e.joules == pytest.approx(300.0)
    assert e.seconds == pytest.approx(3.0)
    assert e.mean_w == pytest.approx(100.0)
    assert e.idle_j == pytest.approx(180.0)
    assert e.above_idle_j == pytest.approx(120.0)


def test_energy_counter_reset_counts_only_forward_steps() -> None:
    assert _synthetic([1000.0, 2000.0, 0.0, 1000.0]).energy()["gpu0"].joules == pytest.approx(2.0)


def test_energy_falls_back_to_power_integral() -> None:
    trace = _synthetic([NAN, NAN, NAN], power_w=[100.0, 100.0, 200.0])
    e = trace.energy()["gpu0"]
    assert e.method == "power_integral"
    assert e.joules == pytest.approx(100.0 + 150.0)
    assert e.above_idle_j is None  # no baseline known


def test_slice_cuts_rows_marks_and_energy() -> None:
    base = _synthetic([0.0, 1000.0, 3000.0, 6000.0, 10000.0])
    trace = Trace(
        columns=base.columns,
        rows=base.rows,
        marks=(Mark(100.5, 0.0, "a"), Mark(102.5, 0.0, "b")),
        baseline_w={"gpu0": 1.0},
    )
    part = trace.slice(101.0, 103.0)
    assert part.column("t") == (101.0, 102.0, 103.0)
    assert [m.label for m in part.marks] == ["b"]
    e = part.energy()["gpu0"]
    assert e.joules == pytest.approx(5.0) and e.above_idle_j == pytest.approx(3.0)
    assert len(trace.slice(None, 101.0)) == 2 and len(trace.slice(103.0)) == 2


# --- process source --------------------------------------------------------------------------

_PARENT = """
import subprocess, sys, time
busy = "import time\\nend = time.time() + 1.2\\nwhile time.time() < end: pass"
subprocess.run([sys.executable, "-c", busy])
time.sleep(0.2)
"""


def test_process_source_sums_children_and_survives_exit() -> None:
    # The CPU is burnt by a grandchild, so a non-zero reading proves children are summed.
    child = subprocess.Popen([sys.executable, "-c", _PARENT])
    source = ProcessSource({"server": child.pid}, children_refresh_s=0.1)
    with Sampler(rate_hz=20, gpu=False, sources=[source]) as s:
        child.wait(timeout=30)
        exited = time.perf_counter()
        time.sleep(0.4)
    trace = s.trace
    assert trace is not None
    rss = [v for v in trace.column("proc.server.rss_mib") if not math.isnan(v)]
    cpu = [v for v in trace.column("proc.server.cpu_percent") if not math.isnan(v)]
    assert max(rss) > 0
    assert max(cpu) > 10
    after = trace.slice(exited + 0.1)
    assert len(after) >= 2  # the sampler kept going after the process died
    assert all(math.isnan(v) for v in after.column("proc.server.rss_mib"))


def test_process_not_running_is_unavailable() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Sampler(rate_hz=20, pids=[dead.pid], gpu=False) as s:
        time.sleep(0.2)
    assert s.trace is not None and "process" in s.trace.unavailable
    assert len(s.trace) >= 2


# --- GPU source ------------------------------------------------------------------------------


def test_no_gpu_on_this_machine_is_reported_and_sampler_works() -> None:
    if _nvml_present():
        pytest.skip("an NVIDIA driver is present here")
    with pytest.raises(SourceUnavailable, match="NVMLError_"):
        GpuSource().open()
    with Sampler(rate_hz=20) as s:
        time.sleep(0.3)
    trace = s.trace
    assert trace is not None and "NVMLError_" in trace.unavailable["gpu"]
    assert len(trace) >= 3 and not trace.gpus
    assert gpu_info() == []


def test_nvml_library_not_found_logs_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", missing)
    caplog.set_level(logging.INFO, logger="stackeval.telemetry")
    with Sampler(rate_hz=20) as s:
        time.sleep(0.3)
    trace = s.trace
    assert trace is not None and len(trace) >= 3
    assert "NVMLError_LibraryNotFound" in trace.unavailable["gpu"]
    gpu_lines = [r for r in caplog.records if r.message.startswith("gpu telemetry")]
    assert len(gpu_lines) == 1 and gpu_lines[0].levelno == logging.INFO
    assert gpu_info() == []


def test_gpu_source_reads_fields_and_skips_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"energy": 0}

    def no_energy(h: object) -> float:
        calls["energy"] += 1
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    fake = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}",
        "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(gpu=87, memory=40),
        "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(used=2 * 2**30, total=80 * 2**30),
        "nvmlDeviceGetPowerUsage": lambda h: 150_000,
        "nvmlDeviceGetTemperature": lambda h, sensor: 61,
        "nvmlDeviceGetClockInfo": lambda h, clock: 1980,
        "nvmlDeviceGetTotalEnergyConsumption": no_energy,
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [
            SimpleNamespace(pid=42, usedGpuMemory=2**30),
            SimpleNamespace(pid=43, usedGpuMemory=None),
        ],
    }
    for name, fn in fake.items():
        monkeypatch.setattr(pynvml, name, fn)
    src = GpuSource()
    src.open()
    first, second = src.read(), src.read()
    src.close()
    assert first == second
    assert first == {
        "gpu0.util_percent": 87.0,
        "gpu0.mem_util_percent": 40.0,
        "gpu0.mem_used_mib": 2048.0,
        "gpu0.mem_total_mib": 81920.0,
        "gpu0.power_w": 150.0,
        "gpu0.temp_c": 61.0,
        "gpu0.sm_clock_mhz": 1980.0,
        "gpu0.pid42.mem_mib": 1024.0,
    }
    assert calls["energy"] == 1  # not asked again once NotSupported
    assert src.unsupported == {"gpu0.energy": "NVMLError_NotSupported"}


def test_idle_baseline_is_measured_from_the_energy_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}",
        # A GPU idling at 50 W: the counter grows 50 J (50,000 mJ) per second.
        "nvmlDeviceGetTotalEnergyConsumption": lambda h: time.perf_counter() * 50_000,
        "nvmlDeviceGetPowerUsage": lambda h: 50_000,
    }
    for name, fn in fake.items():
        monkeypatch.setattr(pynvml, name, fn)
    for name in ("UtilizationRates", "MemoryInfo", "ComputeRunningProcesses"):
        monkeypatch.setattr(pynvml, f"nvmlDeviceGet{name}", _not_supported)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTemperature", lambda h, s: _not_supported(h))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetClockInfo", lambda h, c: _not_supported(h))
    with Sampler(rate_hz=50, baseline_s=0.3) as s:
        time.sleep(0.3)
    trace = s.trace
    assert trace is not None
    assert trace.baseline_w["gpu0"] == pytest.approx(50.0, rel=0.01)
    assert [m.label for m in trace.marks] == ["baseline_end"]
    e = trace.energy()["gpu0"]
    assert e.method == "counter" and e.above_idle_j == pytest.approx(0.0, abs=0.5)


def _not_supported(h: object) -> None:
    raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)


# --- docker source ---------------------------------------------------------------------------

_STATS = {
    "cpu_stats": {
        "cpu_usage": {"total_usage": 3_000_000_000},
        "system_cpu_usage": 20_000_000_000,
        "online_cpus": 4,
    },
    "precpu_stats": {
        "cpu_usage": {"total_usage": 1_000_000_000},
        "system_cpu_usage": 10_000_000_000,
    },
    "memory_stats": {"usage": 600 * 2**20, "limit": 2**30, "stats": {"inactive_file": 88 * 2**20}},
}


def test_docker_cpu_and_memory_like_docker_stats() -> None:
    assert docker_cpu_percent(_STATS) == pytest.approx(80.0)  # 2e9/1e10 * 4 cores * 100
    assert docker_cpu_percent({"cpu_stats": _STATS["cpu_stats"], "precpu_stats": {}}) is None
    mem = docker_memory(_STATS)
    assert mem["mem_used_mib"] == pytest.approx(512.0)
    assert mem["mem_percent"] == pytest.approx(50.0)
    v1 = {"memory_stats": {"usage": 300 * 2**20, "stats": {"total_inactive_file": 44 * 2**20}}}
    assert docker_memory(v1) == {"mem_used_mib": pytest.approx(256.0)}


class _SlowContainer:
    def stats(self, stream: bool) -> dict[str, Any]:
        time.sleep(0.3)  # the daemon takes ~1 s in real life
        return _STATS


class _FakeDocker:
    def __init__(self) -> None:
        self.containers = self

    def get(self, name: str) -> _SlowContainer:
        if name != "vllm":
            raise LookupError(f"no such container: {name}")
        return _SlowContainer()


def test_slow_docker_does_not_stall_the_schedule() -> None:
    source = DockerSource(["vllm", "gone"], interval_s=0.1, client=_FakeDocker())
    with Sampler(rate_hz=20, gpu=False, sources=[source]) as s:
        time.sleep(1.0)
    trace = s.trace
    assert trace is not None
    assert len(trace) >= 10  # a stalled schedule would manage ~3
    cpu = [v for v in trace.column("docker.vllm.cpu_percent") if not math.isnan(v)]
    assert cpu and cpu[-1] == pytest.approx(80.0)
    assert not [
        t
        for t in threading.enumerate()
        if t.name.startswith("stackeval-docker") and t.is_alive() and not t.daemon
    ]


def test_docker_with_no_container_found_is_unavailable() -> None:
    source = DockerSource(["gone"], client=_FakeDocker())
    with Sampler(rate_hz=20, gpu=False, sources=[source]) as s:
        time.sleep(0.1)
    assert s.trace is not None and "gone" in s.trace.unavailable["docker"]


# --- environment -----------------------------------------------------------------------------


def test_host_info_describes_the_machine() -> None:
    info = host_info()
    assert info["cpu_threads"] >= 1 and info["ram_total_gib"] > 0
    assert info["cpu_model"] and info["os"]


def test_gpu_info_is_a_list_of_dicts() -> None:
    gpus = gpu_info()
    assert isinstance(gpus, list)
    for g in gpus:
        assert {"name", "driver_version", "memory_total_mib", "cuda_version"} <= set(g)
