"""PNG rendering of a Trace with matplotlib's Agg backend."""

from __future__ import annotations

import math
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackeval.telemetry.trace import Trace

# (panel title, column patterns); a panel with no matching data is left out. Process CPU % is
# of one core and system CPU % of the whole machine: two scales, so never one axis.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("System CPU %\n(100 = all cores)", ("cpu.percent",)),
    ("Process CPU %\n(100 = one core)", ("proc.*.cpu_percent", "docker.*.cpu_percent")),
    ("System memory\nused MiB", ("mem.used_mib",)),
    ("Process memory\nMiB (RSS)", ("proc.*.rss_mib", "docker.*.mem_used_mib")),
    ("GPU util %", ("gpu*.util_percent",)),
    ("GPU memory MiB", ("gpu*.mem_used_mib",)),
    ("GPU power W", ("gpu*.power_w",)),
)
MAX_MARK_LABELS = 20  # beyond this the labels overlap into noise; lines are still drawn


def plot_trace(trace: Trace, path: Path, title: str = "") -> Path:
    """Write one PNG with a subplot per panel that has data; returns the path."""
    # Figure without pyplot: no global state, no GUI backend, safe off the main thread.
    from matplotlib.figure import Figure

    t0 = trace.rows[0][0] if trace.rows else 0.0
    xs = [row[0] - t0 for row in trace.rows]
    panels = []
    for name, patterns in PANELS:
        cols = [c for c in trace.columns if any(fnmatchcase(c, p) for p in patterns)]
        cols = [c for c in cols if any(not math.isnan(v) for v in trace.column(c))]
        if cols:
            panels.append((name, cols))
    fig = Figure(figsize=(10, 2.2 * max(len(panels), 1) + 0.6), layout="constrained")
    axes = fig.subplots(max(len(panels), 1), 1, sharex=True, squeeze=False)[:, 0]
    if not panels:
        axes[0].text(0.5, 0.5, "no samples", ha="center", va="center", transform=axes[0].transAxes)
    for ax, (name, cols) in zip(axes, panels, strict=False):
        for c in cols:
            ax.plot(xs, trace.column(c), label=c, linewidth=1)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize="x-small", ncol=2)
        for m in trace.marks:
            ax.axvline(m.t - t0, color="grey", linestyle="--", linewidth=0.8)
    if len(trace.marks) <= MAX_MARK_LABELS:
        for m in trace.marks:
            axes[0].annotate(
                m.label,
                (m.t - t0, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize="x-small",
                color="grey",
            )
    axes[-1].set_xlabel("seconds since first sample")
    if title:
        fig.suptitle(title)
    fig.savefig(path, format="png", dpi=100)
    return path
