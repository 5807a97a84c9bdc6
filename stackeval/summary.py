"""The one-screen summary of a run, computed from its saved records with the report's statistics."""

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
            "accuracy": st.overall.value,
            "by_category": {c: r.value for c, r in st.by_category.items()},
            "ttft_s": sp.ttft_s.p50 if sp else None,
            "decode_tps": sp.decode_tps.p50 if sp else None,
            "output_tokens": tk.output_tokens if tk else 0,
        })
    return rows


def _pct(x: float | None) -> str:
    return "  -  " if x is None else f"{100 * x:4.0f}%"


def format_qa_table(rows: list[dict[str, Any]]) -> list[str]:
    """Render rows as fixed-width lines for the terminal."""
    if not rows:
        return []
    cats = sorted({c for r in rows for c in r["by_category"]})
    head = (f"{'model':<22}{'fmt':<6}{'acc':>6} " + "".join(f"{c[:11]:>12}" for c in cats)
            + f"{'TTFT p50':>10}{'tok/s p50':>11}{'out tok':>9}{'err':>5}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ttft = "-" if r["ttft_s"] is None else f"{r['ttft_s']:.2f}s"
        tps = "-" if r["decode_tps"] is None else f"{r['decode_tps']:.1f}"
        lines.append(
            f"{r['model']:<22}{r['format'][:5]:<6}{_pct(r['accuracy']):>6} "
            + "".join(f"{_pct(r['by_category'].get(c)):>12}" for c in cats)
            + f"{ttft:>10}{tps:>11}{r['output_tokens']:>9}{r['errors']:>5}")
    return lines


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
    head = (f"{'model':<22}{'suite':<11}{'tasks':>6}{'pass@1':>8}"
            + (f"{f'pass@{k}':>8}" if k > 1 else "") + f"{'lint':>6}{'err':>5}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<22}{r['suite']:<11}{r['tasks']:>6}{_pct(r['pass_at_1']):>8}"
                     + (f"{_pct(r['pass_at_k']):>8}" if k > 1 else "")
                     + f"{r['lint_findings']:>6}{r['errors']:>5}")
    return lines
