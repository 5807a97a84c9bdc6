"""A telemetry recording: samples, event marks, and what they add up to."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

NAN = float("nan")
TIME_COLUMNS = ("t", "wall")
"""Every trace starts with these: perf_counter seconds and epoch seconds of each sample."""


@dataclass(frozen=True)
class Mark:
    """An event noted during sampling, e.g. a test boundary."""

    t: float  # perf_counter seconds, same clock as the samples
    wall: float  # epoch seconds
    label: str


@dataclass(frozen=True)
class GpuEnergy:
    """Energy one GPU drew over a trace, and the part of it above the idle baseline."""

    gpu: str  # column prefix, e.g. "gpu0"
    joules: float
    seconds: float
    method: str  # "counter" (NVML energy counter) or "power_integral" (trapezoid over power_w)
    baseline_w: float | None = None

    @property
    def idle_j(self) -> float | None:
        """What the GPU would have drawn idling for the same time."""
        return None if self.baseline_w is None else self.baseline_w * self.seconds

    @property
    def above_idle_j(self) -> float | None:
        """Energy minus idle; can dip below zero by noise on a near-idle window."""
        idle = self.idle_j
        return None if idle is None else self.joules - idle

    @property
    def mean_w(self) -> float | None:
        """Average power over the window."""
        return self.joules / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, derived values included."""
        return {
            **asdict(self),
            "mean_w": self.mean_w,
            "idle_j": self.idle_j,
            "above_idle_j": self.above_idle_j,
        }


@dataclass(frozen=True)
class Trace:
    """Samples as ``columns`` + ``rows`` (NaN where a reading was missing), plus marks and notes.

    Column names are ``<source>.<metric>_<unit>``, e.g. ``cpu.percent``, ``proc.pid42.rss_mib``,
    ``gpu0.power_w``, ``gpu0.energy_mj`` (cumulative), ``docker.vllm.cpu_percent``.
    """

    columns: tuple[str, ...] = TIME_COLUMNS
    rows: tuple[tuple[float, ...], ...] = ()
    marks: tuple[Mark, ...] = ()
    rate_hz: float = 0.0  # requested rate
    unavailable: dict[str, str] = field(default_factory=dict)  # source name -> reason
    baseline_w: dict[str, float] = field(default_factory=dict)  # idle power per GPU prefix
    overruns: int = 0  # ticks skipped because a sample took longer than the period

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> tuple[float, ...]:
        """All values of one column, NaN where missing."""
        i = self.columns.index(name)
        return tuple(row[i] for row in self.rows)

    def _points(self, name: str) -> Iterator[tuple[float, float]]:
        """(t, value) pairs of a column, gaps left out."""
        i = self.columns.index(name)
        return ((row[0], row[i]) for row in self.rows if not math.isnan(row[i]))

    @property
    def duration_s(self) -> float:
        """Time from the first sample to the last."""
        return self.rows[-1][0] - self.rows[0][0] if len(self.rows) > 1 else 0.0

    @property
    def achieved_hz(self) -> float:
        """Samples per second actually taken."""
        return (len(self.rows) - 1) / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def gpus(self) -> tuple[str, ...]:
        """GPU prefixes (``gpu0``, ...) that have power or energy readings."""
        found = {c.split(".")[0] for c in self.columns if c.endswith((".power_w", ".energy_mj"))}
        return tuple(sorted(g for g in found if g.startswith("gpu")))

    def energy(self, baseline_w: float | Mapping[str, float] | None = None) -> dict[str, GpuEnergy]:
        """Energy per GPU from energy-counter deltas, else from integrating power.

        ``baseline_w`` (one figure for all GPUs, or per prefix) overrides the idle baseline the
        sampler measured.
        """
        if baseline_w is None:
            base: Mapping[str, float] = self.baseline_w
        elif isinstance(baseline_w, Mapping):
            base = baseline_w
        else:
            base = {g: float(baseline_w) for g in self.gpus}
        out = {}
        for gpu in self.gpus:
            e = self._counter_energy(gpu) or self._power_energy(gpu)
            if e is not None:
                out[gpu] = replace(e, baseline_w=base.get(gpu))
        return out

    def _counter_energy(self, gpu: str) -> GpuEnergy | None:
        if f"{gpu}.energy_mj" not in self.columns:
            return None
        pts = list(self._points(f"{gpu}.energy_mj"))
        if len(pts) < 2:
            return None
        # Sum only forward steps: the counter restarts from zero if the driver reloads.
        mj = sum(max(b - a, 0.0) for (_, a), (_, b) in pairwise(pts))
        return GpuEnergy(gpu, mj / 1000.0, pts[-1][0] - pts[0][0], "counter")

    def _power_energy(self, gpu: str) -> GpuEnergy | None:
        if f"{gpu}.power_w" not in self.columns:
            return None
        pts = list(self._points(f"{gpu}.power_w"))
        if len(pts) < 2:
            return None
        j = sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in pairwise(pts))
        return GpuEnergy(gpu, j, pts[-1][0] - pts[0][0], "power_integral")

    def slice(self, t0: float | None = None, t1: float | None = None) -> Trace:
        """The samples and marks with ``t0 <= t <= t1`` (perf_counter seconds; None = open end)."""
        lo = -math.inf if t0 is None else t0
        hi = math.inf if t1 is None else t1
        return replace(
            self,
            rows=tuple(r for r in self.rows if lo <= r[0] <= hi),
            marks=tuple(m for m in self.marks if lo <= m.t <= hi),
        )

    def summary(self) -> dict[str, Any]:
        """Per-column peak/mean/min, duration, sample count, rates, GPU energy, what was missing."""
        stats = {}
        for name in self.columns:
            # Cumulative counters have no meaningful mean; energy() reports them.
            if name in TIME_COLUMNS or name.endswith("_mj"):
                continue
            values = [v for _, v in self._points(name)]
            if values:
                stats[name] = {
                    "peak": max(values),
                    "mean": math.fsum(values) / len(values),
                    "min": min(values),
                }
        return {
            "samples": len(self.rows),
            "duration_s": self.duration_s,
            "rate_hz": self.rate_hz,
            "achieved_hz": self.achieved_hz,
            "overruns": self.overruns,
            "columns": stats,
            "energy": {g: e.to_dict() for g, e in self.energy().items()},
            "unavailable": [{"source": s, "reason": r} for s, r in self.unavailable.items()],
            "marks": len(self.marks),
        }

    def to_csv(self, path: str | Path) -> Path:
        """Write the samples as CSV (empty cell where missing); returns the path."""
        path = Path(path)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(self.columns)
            # repr() round-trips floats exactly, which the perf_counter column needs.
            w.writerows(["" if math.isnan(v) else repr(v) for v in row] for row in self.rows)
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with the summary alongside the raw samples."""
        return {
            "columns": list(self.columns),
            "rows": [[None if math.isnan(v) else v for v in row] for row in self.rows],
            "marks": [asdict(m) for m in self.marks],
            "rate_hz": self.rate_hz,
            "unavailable": self.unavailable,
            "baseline_w": self.baseline_w,
            "overruns": self.overruns,
            "summary": self.summary(),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        """Rebuild a trace from :meth:`to_dict` output (the summary is recomputed, not read)."""
        return cls(
            columns=tuple(data["columns"]),
            rows=tuple(tuple(NAN if v is None else float(v) for v in r) for r in data["rows"]),
            marks=tuple(Mark(**m) for m in data.get("marks", ())),
            rate_hz=data.get("rate_hz", 0.0),
            unavailable=dict(data.get("unavailable", {})),
            baseline_w=dict(data.get("baseline_w", {})),
            overruns=data.get("overruns", 0),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Trace:
        """Read a trace written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def plot(self, path: str | Path, title: str = "") -> Path:
        """Render CPU, memory and GPU panels, marks as vertical lines, to a PNG at ``path``."""
        # matplotlib is heavy; load it only when a plot is asked for.
        from stackeval.telemetry.plot import plot_trace

        return plot_trace(self, Path(path), title)
