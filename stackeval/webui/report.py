"""The web layer's cost, from saved ``webui`` records: one question timed four ways per model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from stackeval.stats import median
from stackeval.table import Column, Layout

# Outermost last: each path adds one layer to the one before it.
VIAS = ("direct", "gateway", "webui", "browser")


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
            "ttft_s": median(r.get("ttft_s") for r in recs),
            "e2e_s": median(r.get("e2e_s") for r in recs),
            "output_tokens": median(r.get("output_tokens") for r in recs),
        })
    return rows


_LATENCY = Layout((Column("model", 22), Column("via", 9), Column("n", 3, ">"),
                   Column("TTFT", 9, ">"), Column("E2E", 9, ">"), Column("out tok", 9, ">"),
                   Column("E2E/direct", 12, ">")))


def format_latency_table(rows: list[dict[str, Any]]) -> list[str]:
    """Fixed-width lines, with each path's end-to-end time over the direct call's."""
    lines = _LATENCY.ruled()
    direct = {r["model"]: r["e2e_s"] for r in rows if r["via"] == "direct"}
    for r in rows:
        ttft = "-" if r["ttft_s"] is None else f"{r['ttft_s']:.3f}"
        e2e = "-" if r["e2e_s"] is None else f"{r['e2e_s']:.3f}"
        tok = "-" if r["output_tokens"] is None else f"{r['output_tokens']:.0f}"
        base = direct.get(r["model"])
        ratio = f"{r['e2e_s'] / base:.2f}x" if base and r["e2e_s"] is not None else "-"
        lines.append(_LATENCY.line(r["model"], r["via"], r["n"], ttft, e2e, tok, ratio))
    return lines
