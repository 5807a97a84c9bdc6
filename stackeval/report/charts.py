"""PNG charts of a comparison report, drawn with matplotlib's Agg backend.

Every chart names its run in the title, and a model or suite without data is drawn as "not run"
(a label, no bar), never as a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackeval.report.comparison import Report
from stackeval.report.resources import PANELS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NOT_RUN = "not run"


@dataclass(frozen=True)
class Chart:
    """One rendered PNG and the words that go with it."""

    key: str
    path: Path
    title: str
    caption: str


def _figure(width: float, height: float) -> Figure:
    # Figure without pyplot: no global state and no GUI backend, safe in any thread.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, report: Report, title: str, path: Path) -> Path:
    fig.suptitle(f"{title}\nrun {report.run_id}", fontsize="medium")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def _colors(models: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(models)}


def accuracy_by_category(report: Report, out: Path) -> Chart | None:
    """Grouped bars: Q&A accuracy per category (and overall) for every model."""
    if not report.qa:
        return None
    cats = sorted({c for s in report.qa.values() for c in s.by_category}) + ["overall"]
    models = list(report.models)
    colors = _colors(models)
    fig = _figure(max(7.0, 1.3 * len(cats) * max(1, len(models)) / 2 + 3), 4.6)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        stats = report.qa.get(model)
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(cats))]
        for x, cat in zip(xs, cats, strict=True):
            rate = None if stats is None else (
                stats.overall if cat == "overall" else stats.by_category.get(cat))
            value = None if rate is None else rate.value
            if value is None:
                ax.text(x, 0.02, NOT_RUN if stats is None else "n/a", rotation=90, ha="center",
                        va="bottom", fontsize="x-small", color="grey")
                continue
            lo, hi = rate.interval or (value, value)
            ax.bar(x, 100 * value, width, color=colors[model],
                   yerr=[[100 * (value - lo)], [100 * (hi - value)]], capsize=2,
                   error_kw={"elinewidth": 0.8, "ecolor": "#444444"})
            ax.text(x, 1, f"{100 * value:.0f}", ha="center", va="bottom", fontsize="x-small")
    handles = [_patch(colors[m], m + ("" if m in report.qa else f" ({NOT_RUN})")) for m in models]
    ax.legend(handles=handles, fontsize="small", loc="upper right")
    ax.set_xticks(range(len(cats)), cats, rotation=15)
    ax.set_ylim(0, 110)
    ax.set_ylabel("accuracy % (graded answers)")
    ax.grid(True, axis="y", alpha=0.3)
    title = "Q&A accuracy by category"
    path = _save(fig, report, title, out / "accuracy_by_category.png")
    return Chart("accuracy_by_category", path, title,
                 f"Share of graded Q&A answers that passed, per category and overall (run "
                 f"{report.run_id}), with Wilson 95% intervals as error bars. Harness errors "
                 "are left out of the denominator; a model without Q&A records is marked "
                 "\"not run\".")


def _patch(color: Any, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=color, label=label)


def speed_vs_accuracy(report: Report, out: Path) -> Chart | None:
    """Scatter: median decode tokens/s against Q&A accuracy, one point per model."""
    points, missing = [], []
    for model in report.models:
        speed = report.speed_of(model)
        tps = speed.decode_tps.p50 if speed else None
        acc = report.qa[model].overall.value if model in report.qa else None
        if tps is None or acc is None:
            missing.append(f"{model} ({'no Q&A' if acc is None else 'no speed data'})")
        else:
            points.append((model, tps, 100 * acc))
    if not points:
        return None
    colors = _colors(list(report.models))
    fig = _figure(7.0, 4.6)
    ax = fig.add_subplot()
    for model, tps, acc in points:
        ax.scatter([tps], [acc], s=80, color=colors[model], zorder=3)
        ax.annotate(model, (tps, acc), textcoords="offset points", xytext=(6, 6),
                    fontsize="small")
    ax.set_xlabel("decode tokens/s (median over all requests)")
    ax.set_ylabel("Q&A accuracy %")
    ax.set_ylim(-5, 105)
    ax.set_xlim(0, max(p[1] for p in points) * 1.25 + 1)
    ax.grid(True, alpha=0.3)
    if missing:
        ax.text(0.01, 0.01, "not plotted: " + ", ".join(missing), transform=ax.transAxes,
                fontsize="x-small", color="grey")
    title = "Decode speed vs Q&A accuracy"
    path = _save(fig, report, title, out / "speed_vs_accuracy.png")
    return Chart("speed_vs_accuracy", path, title,
                 f"Each point is one model (run {report.run_id}): up and to the right is better. "
                 "Models without Q&A records or speed samples are listed as not plotted.")


def latency_distribution(report: Report, out: Path) -> Chart | None:
    """Box plots of TTFT, end-to-end latency and decode tokens/s per model (all suites)."""
    models = list(report.models)
    rows = {m: report.speed_of(m) for m in models}
    if not any(s and s.e2e_s.n for s in rows.values()):
        return None
    panels = (("time to first token (s)", "ttft_s"), ("end-to-end latency (s)", "e2e_s"),
              ("decode tokens/s", "decode_tps"))
    fig = _figure(11.0, 1.2 + 0.6 * len(models) + 2.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, attr) in zip(axes, panels, strict=True):
        data, names = [], []
        for m in models:
            s = rows[m]
            values = getattr(s, attr).values if s else ()
            data.append(list(values) or [float("nan")])
            names.append(m if values else f"{m}\n({NOT_RUN})")
        ax.boxplot(data, orientation="horizontal", tick_labels=names, showmeans=True)
        ax.set_xlabel(label)
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(axis="y", labelsize="small")
        for i, d in enumerate(data, start=1):
            n = sum(1 for v in d if v == v)
            ax.text(1.0, i, f" n={n}", transform=ax.get_yaxis_transform(), fontsize="x-small",
                    va="center", ha="left", color="grey")
    title = "Latency and throughput distribution (all requests)"
    path = _save(fig, report, title, out / "latency_distribution.png")
    return Chart("latency_distribution", path, title,
                 f"Per-request distributions over every saved request of run {report.run_id} "
                 "(box: quartiles, whiskers: 1.5 IQR, triangle: mean). TTFT is the first chunk "
                 "with text; decode tokens/s is 1/TPOT.")


def resource_curves(report: Report, out: Path) -> Chart | None:
    """CPU, memory and GPU curves of every telemetry trace, one line per model."""
    if not report.resources:
        return None
    panels = [p for p in PANELS if any(p in r.series for r in report.resources)]
    if not panels:
        return None
    labels = list(dict.fromkeys(r.label for r in report.resources))
    colors = _colors(labels)
    fig = _figure(10.0, 2.4 * len(panels) + 1.0)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        for r in report.resources:
            if panel in r.series:
                ts, vs = r.series[panel]
                ax.plot(ts, vs, label=r.label, color=colors[r.label], linewidth=1)
        ax.set_ylabel(panel.replace(" (", "\n("), fontsize="small")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper right")
    axes[-1].set_xlabel("seconds since the trace started")
    title = "Resource use while each model ran"
    path = _save(fig, report, title, out / "resource_curves.png")
    return Chart("resource_curves", path, title,
                 f"Telemetry traces saved with run {report.run_id}. Process CPU % is of one "
                 "core (the model server's own where the sampler watched it; 200 = two cores "
                 "busy) and system CPU % of the whole machine (100 = every core busy), so "
                 "each has its own panel.")


def coding_pass_rates(report: Report, out: Path) -> Chart | None:
    """Bars of pass@1 per model; models without coding records are marked not run."""
    if not report.coding:
        return None
    models = list(report.models)
    colors = _colors(models)
    fig = _figure(max(6.0, 1.2 * len(models) + 2), 4.0)
    ax = fig.add_subplot()
    for i, model in enumerate(models):
        stats = report.coding.get(model)
        value = stats.pass_at.get(1) if stats else None
        if value is None:
            ax.text(i, 2, NOT_RUN, ha="center", va="bottom", color="grey", fontsize="small")
            continue
        ax.bar(i, 100 * value, 0.6, color=colors[model])
        ax.text(i, 100 * value + 1, f"{100 * value:.0f}", ha="center", va="bottom",
                fontsize="small")
    ax.set_xticks(range(len(models)), models, rotation=15)
    ax.set_ylim(0, 110)
    ax.set_ylabel("pass@1 %")
    ax.grid(True, axis="y", alpha=0.3)
    title = "Coding pass@1"
    path = _save(fig, report, title, out / "coding_pass_at_1.png")
    return Chart("coding_pass_at_1", path, title,
                 f"Unbiased pass@1 over the coding tasks of run {report.run_id}.")


def concurrency_sweep(report: Report, out: Path) -> Chart | None:
    """Aggregate output tokens/s and TTFT p50 against concurrent streams, one line per model."""
    levels: dict[str, list[tuple[int, float | None, float | None]]] = {}
    for s in report.perf_summaries:
        if s.get("record") == "summary" and s.get("scenario") == "sweep":
            ttft = (s.get("ttft_s") or {}).get("p50")
            levels.setdefault(s["model"], []).append(
                (int(s.get("concurrency") or 0), s.get("aggregate_output_tps"), ttft))
    if not levels:
        return None
    colors = _colors(list(report.models))
    fig = _figure(10.0, 4.2)
    ax_tps, ax_ttft = fig.subplots(1, 2)
    for model, pts in levels.items():
        pts.sort()
        cs = [c for c, _, _ in pts]
        color = colors.get(model)
        ax_tps.plot(cs, [t if t is not None else float("nan") for _, t, _ in pts], marker="o",
                    label=model, color=color)
        ax_ttft.plot(cs, [t if t is not None else float("nan") for _, _, t in pts], marker="o",
                     label=model, color=color)
    ax_tps.set_ylabel("aggregate output tokens/s")
    ax_ttft.set_ylabel("TTFT p50 (s)")
    for ax in (ax_tps, ax_ttft):
        ax.set_xlabel("concurrent streams")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    missing = [m for m in report.models if m not in levels]
    if missing:
        ax_tps.text(0.01, 0.01, f"{NOT_RUN}: " + ", ".join(missing), transform=ax_tps.transAxes,
                    fontsize="x-small", color="grey")
    title = "Throughput and TTFT under concurrency"
    path = _save(fig, report, title, out / "concurrency_sweep.png")
    return Chart("concurrency_sweep", path, title,
                 f"Performance suite sweep of run {report.run_id}: more streams raise total "
                 "throughput until the server's slots or cores saturate, at the cost of TTFT.")


def rate_sweep(report: Report, out: Path) -> Chart | None:
    """Open loop: goodput and TTFT p90 against the offered request rate, the knee marked."""
    levels: dict[str, list[tuple[float, float | None, float | None, float | None]]] = {}
    slo_ms: float | None = None
    for s in report.perf_summaries:
        if s.get("record") == "summary" and s.get("scenario") == "rate" and s.get("rate_rps"):
            levels.setdefault(s["model"], []).append(
                (float(s["rate_rps"]), s.get("request_throughput_rps"), s.get("goodput_rps"),
                 (s.get("ttft_s") or {}).get("p90")))
            slo_ms = (s.get("slo") or {}).get("ttft_ms", slo_ms)
    if not levels:
        return None
    knees = {k["model"]: k.get("knee_rps") for k in report.perf_summaries
             if k.get("record") == "knee"}
    colors = _colors(list(report.models))
    fig = _figure(10.0, 4.2)
    ax_rps, ax_ttft = fig.subplots(1, 2)
    nan = float("nan")
    for model, pts in levels.items():
        pts.sort()
        rates = [r for r, *_ in pts]
        color = colors.get(model)
        ax_rps.plot(rates, [t if t is not None else nan for _, t, _, _ in pts], marker="o",
                    color=color, label=f"{model} completed")
        ax_rps.plot(rates, [g if g is not None else nan for _, _, g, _ in pts], marker="s",
                    linestyle="--", color=color, label=f"{model} goodput")
        ax_ttft.plot(rates, [t if t is not None else nan for *_, t in pts], marker="o",
                     color=color, label=model)
        if knees.get(model):
            for ax in (ax_rps, ax_ttft):
                ax.axvline(knees[model], color=color, linestyle=":", alpha=0.8)
    top = max(r for pts in levels.values() for r, *_ in pts)
    ax_rps.plot([0, top], [0, top], color="grey", linewidth=0.8, label="offered")
    if slo_ms:
        ax_ttft.axhline(slo_ms / 1000, color="grey", linestyle="--", label="TTFT SLO")
    ax_rps.set_ylabel("requests/s")
    ax_ttft.set_ylabel("TTFT p90 (s)")
    for ax in (ax_rps, ax_ttft):
        ax.set_xlabel("offered request rate (req/s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    title = "Open-loop load: goodput and TTFT against request rate"
    path = _save(fig, report, title, out / "rate_sweep.png")
    return Chart("rate_sweep", path, title,
                 f"Open-loop rate sweep of run {report.run_id}: below the knee (dotted line) "
                 "completed requests follow the offered rate and meet the SLOs; past it the "
                 "queue grows, TTFT climbs and goodput falls away.")


CHARTS = (accuracy_by_category, speed_vs_accuracy, latency_distribution, concurrency_sweep,
          rate_sweep, coding_pass_rates, resource_curves)


def render_charts(report: Report, out: Path) -> dict[str, Chart]:
    """Draw every chart that has data into ``out``; keyed by chart name."""
    charts = {}
    for draw in CHARTS:
        chart = draw(report, out)
        if chart is not None:
            charts[chart.key] = chart
    return charts
