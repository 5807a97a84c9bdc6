"""Telemetry: background sampling of CPU, memory, GPU and container readings during a run.

``with Sampler(pids=[server_pid]) as s: ...`` gives ``s.trace``, a :class:`Trace` that writes
CSV, JSON and PNG, sums GPU energy, and slices into per-test windows. Works without pytest.
"""

from __future__ import annotations

from stackeval.telemetry.containers import DockerSource
from stackeval.telemetry.gpu import GpuSource, gpu_info
from stackeval.telemetry.host import host_info
from stackeval.telemetry.process import ProcessSource
from stackeval.telemetry.sampler import Sampler
from stackeval.telemetry.source import Source, SourceUnavailable
from stackeval.telemetry.system import SystemSource
from stackeval.telemetry.trace import GpuEnergy, Mark, Trace

__all__ = [
    "DockerSource",
    "GpuEnergy",
    "GpuSource",
    "Mark",
    "ProcessSource",
    "Sampler",
    "Source",
    "SourceUnavailable",
    "SystemSource",
    "Trace",
    "gpu_info",
    "host_info",
]
