"""Whole-host CPU and RAM readings via psutil."""

from __future__ import annotations

from typing import Any

import psutil

_MIB = 1024 * 1024


def _busy_total(times: Any) -> tuple[float, float]:
    """(busy, total) CPU seconds from a psutil cpu_times tuple, counted as psutil counts them."""
    fields = times._asdict()
    # Linux already counts guest time inside user/nice; adding it again would double it.
    total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
    return total - fields["idle"] - fields.get("iowait", 0.0), total


def _percent(before: Any, after: Any) -> float:
    b0, t0 = _busy_total(before)
    b1, t1 = _busy_total(after)
    return 0.0 if t1 <= t0 else max(0.0, min(100.0, (b1 - b0) / (t1 - t0) * 100.0))


class SystemSource:
    """System CPU % (optionally per core) and RAM used/available/percent."""

    name = "system"

    def __init__(self, per_core: bool = False) -> None:
        self.per_core = per_core
        self._last: Any = None
        self._last_cores: list[Any] = []

    def open(self) -> None:
        """Take the first CPU-time reading so the first sample covers one sampler period."""
        # Same delta as psutil.cpu_percent(interval=None), but with our own previous reading:
        # psutil keeps one per calling thread, and open() runs on another thread than read().
        self._last = psutil.cpu_times()
        if self.per_core:
            self._last_cores = psutil.cpu_times(percpu=True)

    def read(self) -> dict[str, float]:
        """Take one reading."""
        now = psutil.cpu_times()
        vm = psutil.virtual_memory()
        out = {
            "cpu.percent": _percent(self._last, now),
            "mem.used_mib": vm.used / _MIB,
            "mem.available_mib": vm.available / _MIB,
            "mem.percent": vm.percent,
        }
        self._last = now
        if self.per_core:
            cores = psutil.cpu_times(percpu=True)
            for i, (before, after) in enumerate(zip(self._last_cores, cores, strict=False)):
                out[f"cpu.core{i}.percent"] = _percent(before, after)
            self._last_cores = cores
        return out

    def close(self) -> None:
        """Nothing to release."""
