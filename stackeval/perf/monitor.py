"""Telemetry for a whole run: one session-long Sampler, per-test windows sliced out of it.

One sampler thread per process keeps the overhead to a single thread however many tests run.
Each test window can be written as CSV + PNG + JSON summary; at the end, the whole run and one
window per model (its first test's start to its last test's end) are written too.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from stackeval.perf.watch import StackSource
from stackeval.telemetry import Sampler

log = logging.getLogger(__name__)


def safe_name(text: str, limit: int = 120) -> str:
    """A file-name-safe form of a test id or model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:limit] or "unnamed"


@dataclass(frozen=True)
class Window:
    """One test's slice of the run's telemetry."""

    name: str
    model: str | None
    t0: float
    t1: float
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)  # csv, png, json


class RunMonitor:
    """Samples the host, the stack's processes (and containers, GPUs) for a whole run."""

    def __init__(self, out_dir: Path, rate_hz: float = 10.0,
                 pids: Callable[[], Mapping[str, int]] = dict,
                 containers: Callable[[], Sequence[str]] = tuple, gpu: bool = True,
                 suffix: str = "") -> None:
        self.out_dir = out_dir
        self.rate_hz = rate_hz
        self.suffix = suffix  # e.g. "-gw0" under pytest-xdist
        self._sampler = Sampler(rate_hz=rate_hz, gpu=gpu,
                                sources=[StackSource(pids, containers)])
        self._started = False
        self._open: dict[str, tuple[float, str | None]] = {}
        self._models: dict[str, list[float]] = {}
        self._names: set[str] = set()
        self._t_start = 0.0
        self.overhead: dict[str, float] = {}
        """The sampler thread's own CPU cost, set by :meth:`finish`."""

    @property
    def started(self) -> bool:
        """True once the sampler runs (it starts with the first window)."""
        return self._started

    @property
    def unavailable(self) -> dict[str, str]:
        """Sources that could not run here and why (e.g. ``gpu``: no NVIDIA driver)."""
        return dict(self._sampler.unavailable)

    def is_open(self, name: str) -> bool:
        """True while a window of that name is open."""
        return name in self._open

    def begin(self, name: str, model: str | None = None) -> None:
        """Open a window (starting the sampler on first use) and mark it on the trace."""
        if not self._started:
            self._sampler.start()
            self._started = True
            self._t_start = time.perf_counter()
        t0 = time.perf_counter()
        self._open[name] = (t0, model)
        if model is not None:
            self._models.setdefault(model, [t0, t0])
        self._sampler.mark(name.rsplit("::", 1)[-1])

    def end(self, name: str, *, files: bool = True) -> Window:
        """Close a window: its summary, and CSV/PNG/JSON files when ``files``."""
        t1 = time.perf_counter()
        t0, model = self._open.pop(name)
        if model is not None:
            self._models[model][1] = t1
        trace = self._sampler.snapshot().slice(t0, t1)
        summary = {"test": name, "model": model, "window_s": t1 - t0, **trace.summary()}
        written: dict[str, Path] = {}
        if files:
            stem = self._unique(safe_name(name.split("/")[-1]))
            folder = self.out_dir / "tests"
            folder.mkdir(parents=True, exist_ok=True)
            written["csv"] = trace.to_csv(folder / f"{stem}.csv")
            written["png"] = trace.plot(folder / f"{stem}.png", title=name.rsplit("::", 1)[-1])
            written["json"] = folder / f"{stem}.json"
            written["json"].write_text(json.dumps(summary, indent=1, default=str))
        return Window(name, model, t0, t1, summary, written)

    def finish(self) -> dict[str, Path]:
        """Stop sampling; write the run's trace, chart and summary, plus one chart per model."""
        if not self._started:
            return {}
        thread_cpu = _thread_cpu_s(self._sampler.native_thread_id)
        trace = self._sampler.stop()
        wall = max(time.perf_counter() - self._t_start, 1e-9)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        sfx = self.suffix
        out = {
            "csv": trace.to_csv(self.out_dir / f"session{sfx}.csv"),
            "json": trace.to_json(self.out_dir / f"session{sfx}.json"),
            "png": trace.plot(self.out_dir / f"session{sfx}.png", title="whole run"),
        }
        self.overhead = overhead = {"sampler_thread_cpu_s": thread_cpu,
                    "sampler_core_pct": thread_cpu / wall * 100.0,
                    "us_per_sample": thread_cpu / max(len(trace), 1) * 1e6}
        summaries = {"session": {**trace.summary(), "sampler_overhead": overhead}}
        for model, (t0, t1) in self._models.items():
            part = trace.slice(t0, t1)
            stem = f"model-{safe_name(model)}{sfx}"
            out[f"png:{model}"] = part.plot(self.out_dir / f"{stem}.png", title=model)
            summaries[model] = part.summary()
        out["summary"] = self.out_dir / f"summary{sfx}.json"
        out["summary"].write_text(json.dumps(summaries, indent=1, default=str))
        log.info("telemetry written to %s (sampler: %.2f%% of a core)", self.out_dir,
                 overhead["sampler_core_pct"])
        return out

    def _unique(self, stem: str) -> str:
        name, n = stem, 1
        while name in self._names:
            n += 1
            name = f"{stem}-{n}"
        self._names.add(name)
        return name


def _thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds of one thread of this process (the sampler), 0 when not found."""
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    return 0.0
