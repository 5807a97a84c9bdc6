"""Partial credit in the coding section: what each model got right on the bash lab.

pass@1 counts a script only when every option is right, which is rare for small models; the
share of sub-checks passed (``--help``, each option, each figure) tells them apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackeval.report.blocks import DASH, NOT_RUN, Block, Table, cells, pct
from stackeval.stats import mean

if TYPE_CHECKING:
    from stackeval.report.comparison import Report


def partial_blocks(report: Report) -> list[Block]:
    """A table of mean partial scores (model x task), then one table per task of its
    sub-checks (sub-check x model: samples that passed it); nothing without such tasks."""
    tasks = sorted({t for s in report.coding.values() for t in s.partial})
    if not tasks:
        return []
    rows = []
    for m in report.models:
        stats = report.coding.get(m)
        if stats is None:
            rows.append((m, *([NOT_RUN] * (len(tasks) + 1))))
            continue
        means = [stats.partial[t].mean if t in stats.partial else None for t in tasks]
        overall = mean(means)
        rows.append((m, *(pct(x) for x in means), DASH if overall is None else pct(overall)))
    blocks: list[Block] = [Table(
        ("model", *tasks, "mean"), cells(rows),
        "Partial credit: the mean share of sub-checks passed per sample (--help, each option, "
        "each figure); pass@k above counts a sample only when all of them pass.")]
    for task in tasks:
        models = [m for m in report.models if task in getattr(report.coding.get(m), "partial", {})]
        names = list(dict.fromkeys(
            n for m in models for n in report.coding[m].partial[task].checks))
        blocks.append(Table(
            ("sub-check", *models),
            cells((name, *(_count(report, m, task, name) for m in models)) for name in names),
            f"{task}: samples that passed each sub-check."))
    return blocks


def _count(report: Report, model: str, task: str, name: str) -> str:
    r = report.coding[model].partial[task].checks.get(name)
    return DASH if r is None or not r.total else f"{r.passed}/{r.total}"
