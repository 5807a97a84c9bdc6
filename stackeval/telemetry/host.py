"""The machine a run happened on, for the report's environment section."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import psutil

_GIB = 1024**3


def _cpu_model() -> str:
    # platform.processor() is empty or just "x86_64" on most Linux systems.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict[str, Any]:
    """CPU model, physical/logical cores, RAM, OS and Python version."""
    return {
        "cpu_model": _cpu_model(),
        "cpu_cores": psutil.cpu_count(logical=False),
        "cpu_threads": psutil.cpu_count(logical=True),
        "ram_total_gib": round(psutil.virtual_memory().total / _GIB, 1),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
