"""The one-screen summary of a run, computed from its saved records only."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from stackeval.coding.passk import suite_pass_at_k


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def qa_table(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model: accuracy overall and per category, median TTFT and decode tokens/s."""
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_model[r["model"]].append(r)
    rows = []
    for model, recs in by_model.items():
        graded = [r for r in recs if r["outcome"] not in ("infrastructure_error", "grader_error")]
        cats: dict[str, list[bool]] = defaultdict(list)
        for r in graded:
            cats[r["category"]].append(r["outcome"] == "pass")
        rows.append({
            "model": model,
            "format": recs[0].get("prompt_format", "chat"),
            "n": len(recs),
            "passed": sum(r["outcome"] == "pass" for r in recs),
            "errors": len(recs) - len(graded),
            "accuracy": (sum(r["outcome"] == "pass" for r in graded) / len(graded)
                         if graded else None),
            "by_category": {c: sum(v) / len(v) for c, v in sorted(cats.items())},
            "ttft_s": _median(r["metrics"].get("ttft_s") for r in recs if r.get("metrics")),
            "decode_tps": _median(r["metrics"].get("decode_tokens_per_s")
                                  for r in recs if r.get("metrics")),
            "output_tokens": sum((r.get("metrics") or {}).get("output_tokens") or 0 for r in recs),
        })
    return rows


def _pct(x: float | None) -> str:
    return "  -  " if x is None else f"{100 * x:4.0f}%"


def format_qa_table(rows: list[dict[str, Any]]) -> list[str]:
    """Render rows as fixed-width lines for the terminal."""
    if not rows:
        return []
    cats = sorted({c for r in rows for c in r["by_category"]})
    short = {c: c[:11] for c in cats}
    head = (f"{'model':<22}{'fmt':<6}{'acc':>6} " + "".join(f"{short[c]:>12}" for c in cats)
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
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["model"], r["suite"])].append(r)
    rows = []
    for (model, suite), recs in sorted(groups.items()):
        per_task: dict[str, list[bool]] = defaultdict(list)
        for r in recs:
            if r["outcome"] != "infrastructure_error":
                per_task[f"{r['task_id']}-{r['lang']}"].append(bool(r["passed"]))
        findings = sum((r.get("quality") or {}).get("findings") or 0 for r in recs)
        rows.append({
            "model": model, "suite": suite, "tasks": len(per_task), "samples": len(recs),
            "errors": sum(r["outcome"] == "infrastructure_error" for r in recs),
            "pass_at_1": suite_pass_at_k(per_task, 1),
            "k": k, "pass_at_k": suite_pass_at_k(per_task, k) if k > 1 else None,
            "lint_findings": findings,
        })
    return rows


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
