"""The cross-run comparison as Markdown and HTML: what changed in what was served, in the
scores (with the paired test) and in speed, each run against the first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from pathlib import Path

from stackeval.report.blocks import (
    DASH,
    Bullets,
    Paragraph,
    Section,
    Table,
    cells,
    num,
    p_value,
    points,
    rate,
)
from stackeval.report.crossrun import CrossRun, Delta, RunPair
from stackeval.report.html import write_html
from stackeval.report.markdown import write_markdown
from stackeval.report.paired import ALPHA
from stackeval.report.significance import holm

SUITE_NAMES = {"qa": "Q&A accuracy", "coding": "coding pass rate (all samples)"}


@dataclass(frozen=True)
class CrossRunFiles:
    """Where the cross-run comparison was written, and its headline lines."""

    markdown: Path
    html: Path
    findings: tuple[str, ...]


def _verdict(d: Delta, p: float | None) -> str:
    pair = d.pair
    if p is None or pair.diff is None:
        return "no shared items"
    if p >= ALPHA:
        return "no clear change"
    return "better" if pair.diff < 0 else "worse"  # pair is baseline minus other


def _score_rows(deltas: list[Delta]) -> tuple[list[tuple[str, ...]], list[float | None]]:
    ps = [d.pair.p for d in deltas]
    tested = [p for p in ps if p is not None]
    adjusted = iter(holm(tested))
    holm_ps = [next(adjusted) if p is not None else None for p in ps]
    rows = []
    for d, adj in zip(deltas, holm_ps, strict=True):
        pair = d.pair
        gap = None if pair.diff is None else -pair.diff
        ci = None if pair.diff_ci is None else (-pair.diff_ci[1], -pair.diff_ci[0])
        rows.append((d.model, d.scope, rate(d.base), rate(d.other), points(d.change),
                     str(pair.items), points(gap, ci),
                     f"{pair.b_better} / {pair.a_better}" if pair.items else DASH,
                     p_value(pair.p), p_value(adj), _verdict(d, adj)))
    return rows, holm_ps


def _served_section(rp: RunPair) -> Section:
    title = f"What was served: {rp.base.run_id} → {rp.other.run_id}"
    if not rp.served:
        body: tuple = (Paragraph("Same model files, quantizations, server and gateway versions, "
                                 "settings and host in both runs."),)
    else:
        body = (Table(("model", "what", rp.base.run_id, rp.other.run_id), cells(
            (s.model or "(whole run)", s.what, s.base, s.other) for s in rp.served),
            "Every difference in what was served or how. A score change next to a different "
            "sha256, quantization, server version or setting is not a change of the model "
            "alone."),)
    extra = []
    if rp.only_base:
        extra.append(f"Only in {rp.base.run_id}: {', '.join(rp.only_base)}.")
    if rp.only_other:
        extra.append(f"Only in {rp.other.run_id}: {', '.join(rp.only_other)}.")
    return Section(title, "部署与设置差异", body + ((Bullets(tuple(extra)),) if extra else ()))


def _scores_section(rp: RunPair) -> Section:
    blocks: list = []
    for suite, name in SUITE_NAMES.items():
        deltas = [d for d in rp.deltas if d.suite == suite]
        if not deltas:
            continue
        rows, _ = _score_rows(deltas)
        blocks.append(Table(
            ("model", "scope", rp.base.run_id, rp.other.run_id, "change", "shared items",
             "change on shared items (95% CI)", "gained / lost", "p", "Holm p", "verdict"),
            cells(rows),
            f"{name}: each run's own graded answers (Wilson 95% interval), then the same items "
            "in both runs compared pair by pair (McNemar mid-p with Newcombe's interval for one "
            "attempt per item, else a sign-flip permutation test with a bootstrap interval). "
            "gained / lost: items right only in the later run / only in the baseline."))
    if not blocks:
        blocks.append(Paragraph("No model has Q&A or coding records in both runs."))
    return Section(f"Scores: {rp.base.run_id} → {rp.other.run_id}", "准确率变化（配对检验）",
                   tuple(blocks))


def _speed_section(rp: RunPair) -> Section:
    rows = []
    for f in rp.figures:
        change = (None if f.base in (None, 0) or f.other is None
                  else 100 * (f.other - f.base) / f.base)
        rows.append((f.model, f.what, num(f.base), num(f.other),
                     DASH if change is None else f"{change:+.1f}%", f.better))
    if not rows:
        return Section(f"Speed: {rp.base.run_id} → {rp.other.run_id}", "速度变化", (Paragraph(
            "No timings shared by both runs."),))
    return Section(f"Speed: {rp.base.run_id} → {rp.other.run_id}", "速度变化", (Table(
        ("model", "figure", rp.base.run_id, rp.other.run_id, "change", "better when"),
        cells(rows), "Medians, no test: timings move with machine load; the perf suite's fixed-"
        "length figures are the ones to compare."),))


def findings(cross: CrossRun) -> tuple[str, ...]:
    """Headlines: significant score changes and served differences, per compared run."""
    out = []
    for rp in cross.pairs:
        head = f"{rp.other.run_id} vs {rp.base.run_id}:"
        for suite in SUITE_NAMES:
            deltas = [d for d in rp.deltas if d.suite == suite]
            _, holm_ps = _score_rows(deltas)
            for d, p in zip(deltas, holm_ps, strict=True):
                if d.scope == "overall" and p is not None and d.pair.diff is not None:
                    out.append(f"{head} {d.model} {suite} {points(-d.pair.diff)} on "
                               f"{d.pair.items} shared items (Holm p {p_value(p)}): "
                               f"{_verdict(d, p)}.")
        models = sorted({s.model for s in rp.served if s.model})
        if models:
            out.append(f"{head} a different file or server under the same name for "
                       f"{', '.join(models)} (see 'What was served').")
        run_level = [s.what for s in rp.served if s.model is None]
        if run_level:
            out.append(f"{head} the runs differ in {', '.join(run_level)}.")
    return tuple(out)


def sections(cross: CrossRun) -> list[Section]:
    """The page in reading order."""
    base = cross.runs[0]
    runs = Table(("role", "run", "stack", "models", "Q&A models", "coding models", "host CPU"),
                 cells((("baseline" if r is base else "compared"), r.run_id,
                        (r.environment.get("stack") or {}).get("profile") or DASH,
                        ", ".join(r.models) or DASH, len(r.ran.get("qa", ())),
                        len(r.ran.get("coding", ())),
                        (r.hardware.get("host") or {}).get("cpu_model") or DASH)
                       for r in cross.runs))
    out = [Section("Findings", "结论摘要", (Bullets(findings(cross) or (
        "No model was evaluated in two of these runs.",)),)),
           Section("Runs", "运行列表", (runs,))]
    for rp in cross.pairs:
        out += [_served_section(rp), _scores_section(rp), _speed_section(rp)]
    out.append(Section("Method", "方法说明", (Bullets((
        "Each later run is compared with the first (the baseline); an item is one question or "
        "task in one language, matched by id across runs.",
        "Harness errors are left out of every rate, as in the single-run report.",
        "Holm p corrects for the many scopes tested in one table; \"no clear change\" means "
        "the shared items cannot tell the runs apart.",
        "Everything is computed from the runs' saved records; rerun stackeval report --compare "
        "to rebuild it.",
    )),)))
    return out


def write_cross_run(cross: CrossRun, out_dir: Path) -> CrossRunFiles:
    """Write compare.md and compare.html into ``out_dir``."""
    ids = " → ".join(r.run_id for r in cross.runs)
    heading = f"Cross-run comparison — {ids}"
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    secs = sections(cross)
    md = write_markdown(heading, "跨运行对比报告", f"Baseline `{cross.runs[0].run_id}` · generated "
                        f"{generated}", secs, out_dir / "compare.md")
    html = write_html(heading, "跨运行对比报告 · baseline <code>" + escape(cross.runs[0].run_id)
                      + "</code> · generated " + escape(generated), secs, out_dir / "compare.html")
    return CrossRunFiles(md, html, findings(cross))
