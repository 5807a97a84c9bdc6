"""Telemetry traces saved with a run, summarized per model for the resources section."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from stackeval.stats import mean
from stackeval.telemetry.trace import Trace


@dataclass(frozen=True)
class Resources:
    """What the telemetry saw while one model (or the whole session) ran."""

    label: str  # a model name, or the trace's own name when it belongs to no model
    source: str  # the trace file, relative to the run dir
    duration_s: float
    cpu_percent_peak: float | None
    cpu_percent_mean: float | None
    rss_mib_peak: float | None
    gpu_mem_mib_peak: float | None
    gpu_util_mean: float | None
    energy_j: float | None
    energy_method: str | None
    series: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]]  # panel -> (t, values)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _telemetry_files(run_dir: Path) -> list[Path]:
    found = {*run_dir.glob("telemetry*.json"), *run_dir.glob("telemetry/**/*.json")}
    return sorted(found)


def _trace_label(path: Path, data: Mapping[str, Any], models: Sequence[str]) -> str:
    for key in ("model", "label"):
        if isinstance(data.get(key), str):
            return data[key]
    stem = _slug(path.stem.removeprefix("telemetry").lstrip("-_"))
    for m in models:  # a file named after a model, however its ':' was spelled
        if _slug(m) and (stem == _slug(m) or stem.endswith("-" + _slug(m))):
            return m
    return path.stem


def _mark_model(label: str, models: Sequence[str]) -> str | None:
    """The model a test-window mark belongs to: ``test_qa[smollm2:135m-paris-en]``."""
    hits = [m for m in models if f"[{m}-" in label or label.endswith(f"[{m}]")]
    return max(hits, key=len) if hits else None


def model_spans(trace: Trace, models: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Each model's time span, from the first of its test marks to the mark after its last."""
    if not trace.rows:
        return {}
    marks = sorted(trace.marks, key=lambda m: m.t)
    end = trace.rows[-1][0]
    spans: dict[str, tuple[float, float]] = {}
    for i, mark in enumerate(marks):
        model = _mark_model(mark.label, models)
        if model is None:
            continue
        until = marks[i + 1].t if i + 1 < len(marks) else end
        lo, hi = spans.get(model, (mark.t, until))
        spans[model] = (min(lo, mark.t), max(hi, until))
    return spans


def _series(trace: Trace, patterns: Sequence[str], t0: float
            ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Columns of the first pattern that matches, summed per sample; times relative to ``t0``."""
    cols: list[str] = []
    for p in patterns:  # a per-process column beats the machine-wide one
        cols = [c for c in trace.columns if fnmatchcase(c, p)]
        if cols:
            break
    idx = [trace.columns.index(c) for c in cols]
    ts, vs = [], []
    for row in trace.rows if idx else ():
        vals = [row[i] for i in idx if not math.isnan(row[i])]
        if vals:
            ts.append(row[0] - t0)
            vs.append(math.fsum(vals))
    return tuple(ts), tuple(vs)


# Process CPU % is of one core (200 = two cores busy), system CPU % of the whole machine
# (100 = every core busy): two scales, so two panels, never one axis.
PROCESS_CPU = "Process CPU % (100 = one core)"
SYSTEM_CPU = "System CPU % (100 = all cores)"
PROCESS_MEMORY = "Process memory MiB (RSS)"
SYSTEM_MEMORY = "System memory used MiB"
PANELS = {
    PROCESS_CPU: ("proc.*.cpu_percent", "docker.*.cpu_percent"),
    SYSTEM_CPU: ("cpu.percent",),
    PROCESS_MEMORY: ("proc.*.rss_mib", "docker.*.mem_used_mib"),
    SYSTEM_MEMORY: ("mem.used_mib",),
    "GPU memory MiB": ("gpu*.mem_used_mib",),
    "GPU power W": ("gpu*.power_w",),
}


def _panels(model: str | None) -> dict[str, tuple[str, ...]]:
    """Column patterns per panel; a model's own server process when the trace watched it."""
    if model is None:
        return PANELS
    server = f"proc.server-{model}."
    return {**PANELS, PROCESS_CPU: (server + "cpu_percent",),
            PROCESS_MEMORY: (server + "rss_mib",)}


def _summarize(label: str, source: str, trace: Trace, t0: float,
               model: str | None) -> Resources:
    series = {name: _series(trace, pats, t0) for name, pats in _panels(model).items()}
    series = {k: v for k, v in series.items() if v[1]}
    cpu = series.get(PROCESS_CPU, ((), ()))[1]  # the table's "per core" figures
    mem = series.get(PROCESS_MEMORY, ((), ()))[1] or series.get(SYSTEM_MEMORY, ((), ()))[1]
    gpu_mem = series.get("GPU memory MiB", ((), ()))[1]
    gpu_util = _series(trace, ("gpu*.util_percent",), t0)[1]
    energy = trace.energy()
    return Resources(
        label=label, source=source, duration_s=trace.duration_s,
        cpu_percent_peak=max(cpu) if cpu else None,
        cpu_percent_mean=mean(cpu),
        rss_mib_peak=max(mem) if mem else None, gpu_mem_mib_peak=max(gpu_mem) if gpu_mem else None,
        gpu_util_mean=mean(gpu_util),
        energy_j=math.fsum(e.joules for e in energy.values()) if energy else None,
        energy_method=", ".join(sorted({e.method for e in energy.values()})) or None,
        series=series)


def read_resources(run_dir: Path, models: Sequence[str], notes: list[str]) -> list[Resources]:
    """Per-model resource use from the run's telemetry traces.

    A session trace (``telemetry/session.json``) that watched each model's server process
    (``proc.server-<model>.*``) and marked each test is cut into one span per model; any other
    trace counts for the model its file is named after, or for itself.
    """
    out = []
    for path in _telemetry_files(run_dir):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            notes.append(f"{path.name}: unreadable ({exc})")
            continue
        raw = data.get("trace") if isinstance(data, dict) and "trace" in data else data
        if not isinstance(raw, Mapping) or not {"columns", "rows"} <= set(raw):
            continue  # summaries and per-test window files: not traces
        try:
            trace = Trace.from_dict(raw)
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(f"{path.name}: not a telemetry trace ({exc})")
            continue
        if not trace.rows:
            continue
        source, t0 = str(path.relative_to(run_dir)), trace.rows[0][0]
        spans = model_spans(trace, models)
        watched = [m for m in models
                   if any(c.startswith(f"proc.server-{m}.") for c in trace.columns)]
        if watched:
            for m in watched:
                part = trace.slice(*spans[m]) if m in spans else trace
                out.append(_summarize(m, source, part, t0, m))
        else:
            out.append(_summarize(_trace_label(path, data, models), source, trace, t0, None))
    return out
