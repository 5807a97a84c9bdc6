"""The lean /proc readers agree with psutil, and a new process never shows a CPU % spike."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from stackeval.telemetry import ProcessSource, procfs
from stackeval.telemetry.system import SystemSource, _busy_total

pytestmark = pytest.mark.skipif(not procfs.AVAILABLE, reason="Linux /proc only")

BUSY = "import time\nend = time.time() + 5\nwhile time.time() < end: pass"


def test_pid_stat_agrees_with_psutil():
    f = procfs.ProcFile(f"/proc/{os.getpid()}/stat")
    try:
        state, cpu_s, rss = procfs.parse_pid_stat(f.read())
    finally:
        f.close()
    me = psutil.Process()
    t = me.cpu_times()
    assert state in (b"R", b"S")
    assert cpu_s == pytest.approx(t.user + t.system, abs=0.05)
    assert rss == pytest.approx(me.memory_info().rss, rel=0.05)


def test_command_names_with_spaces_and_parentheses_parse():
    line = b"42 (a (weird) name) S 1 42 42 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 99 1000 25 rest\n"
    assert procfs.parse_pid_stat(line) == (b"S", 200 / procfs.CLK_TCK, 25 * procfs.PAGE_SIZE)


def test_system_readings_agree_with_psutil():
    with open("/proc/stat", "rb") as f:
        busy, total = procfs.parse_cpu_line(f.read())
    ps_busy, ps_total = _busy_total(psutil.cpu_times())
    assert total == pytest.approx(ps_total, rel=0.01)
    assert busy == pytest.approx(ps_busy, rel=0.02)
    src = SystemSource()
    src.open()
    try:
        reading = src.read()
    finally:
        src.close()
    vm = psutil.virtual_memory()
    assert reading["mem.available_mib"] == pytest.approx(vm.available / 2**20, rel=0.05)
    assert reading["mem.used_mib"] == pytest.approx(vm.used / 2**20, rel=0.1)
    assert reading["mem.percent"] == pytest.approx(vm.percent, abs=2)
    assert 0.0 <= reading["cpu.percent"] <= 100.0


def test_a_process_added_while_sampling_has_no_cpu_spike():
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        src = ProcessSource({"harness": os.getpid()}, with_children=False)
        src.open()
        time.sleep(0.05)
        assert "proc.harness.cpu_percent" in src.read()
        time.sleep(0.3)  # the busy process has burnt CPU time before it is watched
        src.update({"harness": os.getpid(), "server-m": busy.pid})
        first = src.read()
        assert "proc.server-m.rss_mib" in first
        assert "proc.server-m.cpu_percent" not in first  # no interval yet: no reading
        readings = []
        for _ in range(5):
            time.sleep(0.1)
            readings.append(src.read()["proc.server-m.cpu_percent"])
        assert max(readings) <= 150.0  # one single-threaded process: one core (+ tick jitter)
        assert max(readings) > 5  # ... and it is busy (on a shared, loaded machine too)
        src.close()
    finally:
        busy.kill()
        busy.wait()


def test_a_child_started_later_joins_its_tree_without_a_spike():
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\ntime.sleep(0.3)\n"
        f"subprocess.run([sys.executable, '-c', {BUSY!r}])")])
    try:
        src = ProcessSource({"server": parent.pid}, children_refresh_s=0.05)
        src.open()
        cpu = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            cpu.append(src.read().get("proc.server.cpu_percent", 0.0))
        assert 5 < max(cpu) <= 150.0
        src.close()
    finally:
        for p in psutil.Process(parent.pid).children(recursive=True):
            p.kill()
        parent.kill()
        parent.wait()
