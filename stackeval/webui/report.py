"""The web layer's cost, from saved ``webui`` records: one question timed four ways per model."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

# Outermost last: each path adds one layer to the one before it.
VIAS = ("direct", "gateway", "webui", "browser")


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def latency_table(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and path: median TTFT and end-to-end seconds over the timed rounds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("kind") == "latency":
            groups[(r["model"], r["via"])].append(r)
    order = {v: i for i, v in enumerate(VIAS)}
    rows = []
    for (model, via), recs in sorted(groups.items(), key=lambda kv: (kv[0][0],
                                                                      order.get(kv[0][1], 9))):
        rows.append({
            "model": model, "via": via, "case_id": recs[0].get("case_id"), "n": len(recs),
            "ttft_s": _median(r.get("ttft_s") for r in recs),
            "e2e_s": _median(r.get("e2e_s") for r in recs),
            "output_tokens": _median(r.get("output_tokens") for r in recs),
        })
    return rows


def format_latency_table(rows: list[dict[str, Any]]) -> list[str]:
    """Fixed-width lines, with each path's end-to-end time over the direct call's."""
    head = f"{'model':<22}{'via':<9}{'n':>3}{'TTFT':>9}{'E2E':>9}{'out tok':>9}{'E2E/direct':>12}"
    lines = [head, "-" * len(head)]
    direct = {r["model"]: r["e2e_s"] for r in rows if r["via"] == "direct"}
    for r in rows:
        ttft = "-" if r["ttft_s"] is None else f"{r['ttft_s']:.3f}"
        e2e = "-" if r["e2e_s"] is None else f"{r['e2e_s']:.3f}"
        tok = "-" if r["output_tokens"] is None else f"{r['output_tokens']:.0f}"
        base = direct.get(r["model"])
        ratio = f"{r['e2e_s'] / base:.2f}x" if base and r["e2e_s"] is not None else "-"
        lines.append(f"{r['model']:<22}{r['via']:<9}{r['n']:>3}{ttft:>9}{e2e:>9}{tok:>9}"
                     f"{ratio:>12}")
    return lines
