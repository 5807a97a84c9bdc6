"""Whole-host CPU and RAM readings: ``/proc/stat`` and ``/proc/meminfo`` kept open on Linux
(one ``pread`` each per reading, see :mod:`.procfs`), psutil elsewhere; the figures are
computed the way psutil computes them."""

from __future__ import annotations

from typing import Any

import psutil

from stackeval.telemetry import procfs

_MIB = 1024 * 1024


def _busy_total(times: Any) -> tuple[float, float]:
    """(busy, total) CPU seconds from a psutil cpu_times tuple, counted as psutil counts them."""
    fields = times._asdict()
    # Linux already counts guest time inside user/nice; adding it again would double it.
    total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
    return total - fields["idle"] - fields.get("iowait", 0.0), total


def _percent(before: Any, after: Any) -> float:
    return _busy_percent(_busy_total(before), _busy_total(after))


def _busy_percent(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Busy share of the CPU time between two (busy, total) readings, in percent."""
    b0, t0 = before
    b1, t1 = after
    return 0.0 if t1 <= t0 else max(0.0, min(100.0, (b1 - b0) / (t1 - t0) * 100.0))


class SystemSource:
    """System CPU % (optionally per core) and RAM used/available/percent."""

    name = "system"

    def __init__(self, per_core: bool = False) -> None:
        self.per_core = per_core
        self._last: Any = None
        self._last_cores: list[Any] = []
        self._stat: procfs.ProcFile | None = None
        self._meminfo: procfs.ProcFile | None = None

    def open(self) -> None:
        """Take the first CPU-time reading so the first sample covers one sampler period."""
        # Same delta as psutil.cpu_percent(interval=None), but with our own previous reading:
        # psutil keeps one per calling thread, and open() runs on another thread than read().
        if procfs.AVAILABLE:
            try:
                self._stat = procfs.ProcFile("/proc/stat", 512)  # only its first line is read
                self._meminfo = procfs.ProcFile("/proc/meminfo", 8192)
            except OSError:
                self.close()
        self._last = self._cpu()
        if self.per_core:
            self._last_cores = psutil.cpu_times(percpu=True)

    def _cpu(self) -> tuple[float, float]:
        if self._stat is not None:
            return procfs.parse_cpu_line(self._stat.read())
        return _busy_total(psutil.cpu_times())

    def _memory(self) -> tuple[float, float, float]:
        """(used, available) MiB and percent used, as psutil.virtual_memory() counts them."""
        mem = procfs.parse_meminfo(self._meminfo.read()) if self._meminfo is not None else None
        if mem is None:
            vm = psutil.virtual_memory()
            return vm.used / _MIB, vm.available / _MIB, vm.percent
        total, _free, avail = mem
        return (total - avail) / _MIB, avail / _MIB, round((total - avail) / total * 100, 1)

    def read(self) -> dict[str, float]:
        """Take one reading."""
        now = self._cpu()
        used, available, percent = self._memory()
        out = {
            "cpu.percent": _busy_percent(self._last, now),
            "mem.used_mib": used,
            "mem.available_mib": available,
            "mem.percent": percent,
        }
        self._last = now
        if self.per_core:
            cores = psutil.cpu_times(percpu=True)
            for i, (before, after) in enumerate(zip(self._last_cores, cores, strict=False)):
                out[f"cpu.core{i}.percent"] = _percent(before, after)
            self._last_cores = cores
        return out

    def close(self) -> None:
        """Close the /proc files."""
        for f in (self._stat, self._meminfo):
            if f is not None:
                f.close()
        self._stat = self._meminfo = None
