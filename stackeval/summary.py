"""The one-screen summary of a run, computed from its saved records with the report's statistics.

Every table fits in 100 columns whatever the model and category names: names are never cut,
the per-category accuracy is a table of its own (categories down, models across, wrapped to
more blocks when many models would not fit), and each figure says how many it counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from stackeval.report.stats import (
    PASS_AT_K,
    UNGRADED,
    coding_stats,
    qa_stats,
    speed_and_tokens,
)
from stackeval.table import Column, Layout, name_width, named


def qa_table(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model: accuracy overall and per category, median TTFT and decode tokens/s."""
    recs = list(records)
    speed, tokens = speed_and_tokens({"qa": recs})
    speed_of = {s.model: s for s in speed if s.suite == "qa"}
    tokens_of = {t.model: t for t in tokens if t.suite == "qa"}
    rows = []
    for model, st in qa_stats(recs).items():
        sp, tk = speed_of.get(model), tokens_of.get(model)
        rows.append({
            "model": model,
            "format": st.prompt_format,
            "n": st.attempts,
            "errors": sum(n for outcome, n in st.outcomes.items() if outcome in UNGRADED),
            "graded": st.overall.total,
            "accuracy": st.overall.value,
            "by_category": {c: r.value for c, r in st.by_category.items()},
            "by_category_n": {c: (r.passed, r.total) for c, r in st.by_category.items()},
            "ttft_s": sp.ttft_s.p50 if sp else None,
            "decode_tps": sp.decode_tps.p50 if sp else None,
            "output_tokens": tk.output_tokens if tk else 0,
        })
    return rows


WIDTH = 100  # every line of the summary fits in this many columns


def _pct(x: float | None) -> str:
    return "  -  " if x is None else f"{100 * x:4.0f}%"


_QA = Layout((Column("format", 11), Column("n", 6, ">"), Column("acc", 6, ">"),
               Column("TTFT p50", 10, ">"), Column("tok/s p50", 11, ">"),
               Column("out tok", 9, ">"), Column("err", 5, ">")))


def format_qa_table(rows: list[dict[str, Any]]) -> list[str]:
    """Render rows as lines for the terminal: one line per model, then accuracy by category.

    ``n`` counts attempts (questions x repeats); accuracy is over the graded ones, and ``err``
    counts the ungraded (infrastructure and grader errors).
    """
    if not rows:
        return []
    rest = _QA.header()
    w = name_width((r["model"] for r in rows), "model", WIDTH - len(rest))
    lines = Layout((Column("model", w), *_QA.columns)).ruled()
    for r in rows:
        ttft = "-" if r["ttft_s"] is None else f"{r['ttft_s']:.2f}s"
        tps = "-" if r["decode_tps"] is None else f"{r['decode_tps']:.1f}"
        lines += named(r["model"], w, _QA.line(r["format"], r["n"], _pct(r["accuracy"]), ttft,
                                               tps, r["output_tokens"], r["errors"]))
    return lines + _category_table(rows)


def _category_table(rows: list[dict[str, Any]]) -> list[str]:
    """Categories down, models across (``acc passed/graded``), in blocks that fit WIDTH."""
    cats = sorted({c for r in rows for c in r.get("by_category_n", {})})
    if not cats:
        return []
    cw = name_width(cats, "category", WIDTH)
    cells = {(r["model"], c): _cell(r["by_category_n"].get(c)) for r in rows for c in cats}
    widths = {r["model"]: max(len(r["model"]), *(len(cells[r["model"], c]) for c in cats)) + 2
              for r in rows}
    blocks: list[list[str]] = [[]]
    for r in rows:  # wrap the models into blocks of columns that fit
        used = cw + sum(widths[m] for m in blocks[-1])
        if blocks[-1] and used + widths[r["model"]] > WIDTH:
            blocks.append([])
        blocks[-1].append(r["model"])
    lines = ["", "accuracy by category (passed/graded attempts)"]
    for models in blocks:
        layout = Layout((Column("category", cw), *(Column(m, widths[m], ">") for m in models)))
        head = layout.header()
        lines += [head, "-" * min(len(head), WIDTH)]
        lines += [layout.line(c, *(cells[m, c] for m in models)) for c in cats]
    return lines


def _cell(count: tuple[int, int] | None) -> str:
    if not count or not count[1]:
        return "-"
    passed, total = count
    return f"{100 * passed / total:.0f}% {passed}/{total}"


def coding_table(records: Iterable[dict[str, Any]], k: int = 1) -> list[dict[str, Any]]:
    """Per model and suite: pass@1 and pass@k (HumanEval's unbiased estimator), lint findings."""
    k = max((x for x in PASS_AT_K if x <= k), default=1)  # the report's k values
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_suite[r["suite"]].append(r)
    rows = []
    for suite, recs in sorted(by_suite.items()):
        for model, st in coding_stats(recs).items():
            rows.append({
                "model": model, "suite": suite, "tasks": st.tasks, "samples": st.samples,
                "errors": sum(n for outcome, n in st.outcomes.items() if outcome in UNGRADED),
                "pass_at_1": st.pass_at.get(1), "k": k,
                "pass_at_k": st.pass_at.get(k) if k > 1 else None,
                "lint_findings": sum(st.findings.values()),
            })
    return sorted(rows, key=lambda r: (r["model"], r["suite"]))


def format_coding_table(rows: list[dict[str, Any]]) -> list[str]:
    """Render coding rows as fixed-width lines for the terminal."""
    if not rows:
        return []
    k = rows[0]["k"]
    sw = name_width((r["suite"] for r in rows), "suite", WIDTH)
    at_k = (Column(f"pass@{k}", 8, ">"),) if k > 1 else ()
    layout = Layout((Column("suite", sw), Column("tasks", 6, ">"), Column("n", 6, ">"),
                     Column("pass@1", 8, ">"), *at_k, Column("lint", 6, ">"),
                     Column("err", 5, ">")))
    w = name_width((r["model"] for r in rows), "model", WIDTH - len(layout.header()))
    lines = Layout((Column("model", w), *layout.columns)).ruled()
    for r in rows:
        pass_k = (_pct(r["pass_at_k"]),) if k > 1 else ()
        lines += named(r["model"], w, layout.line(
            r["suite"], r["tasks"], r["samples"], _pct(r["pass_at_1"]), *pass_k,
            r["lint_findings"], r["errors"]))
    return lines
