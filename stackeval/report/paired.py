"""The report's paired comparisons: is one model really better than another on the same items?"""

from __future__ import annotations

from stackeval.report.blocks import Bullets, Paragraph, Section, Table, cells, p_value, pct, points
from stackeval.report.comparison import Report
from stackeval.report.significance import Paired, holm
from stackeval.report.stats import SUITE_TITLES

ALPHA = 0.05
ITEM = {"qa": "question (one language)", "coding": "task (one language)"}


def verdict(pair: Paired, p: float | None) -> str:
    """Which model is better at the 5% level, or that the data cannot tell them apart."""
    if p is None or pair.diff is None:
        return "nothing shared"
    if p >= ALPHA:
        return "no clear difference"
    return f"{pair.a if pair.diff > 0 else pair.b} higher"


def pair_row(pair: Paired, adjusted: float | None) -> tuple[str, ...]:
    """One table row: both scores, the gap with its interval, the discordant counts, the test."""
    return (f"{pair.a} vs {pair.b}", str(pair.items), pct(pair.mean_a), pct(pair.mean_b),
            points(pair.diff, pair.diff_ci), f"{pair.a_better} / {pair.b_better}",
            pair.test + (" (mid-p)" if pair.p_mid is not None else ""),
            p_value(pair.p), p_value(adjusted), verdict(pair, adjusted))


HEADERS = ("models (A vs B)", "shared items", "A", "B", "A − B (95% CI)", "A only / B only",
           "test", "p", "Holm p", "verdict")


def paired_section(report: Report) -> Section:
    """Every pair of models per suite, with the paired test and a family-wise correction."""
    title, zh = "Model comparisons", "模型两两比较（配对检验）"
    tables = []
    for suite in ("qa", "coding"):
        pairs = [p for p in report.paired.get(suite, ()) if p.items]
        if not pairs:
            continue
        adjusted = holm([p.p for p in pairs])  # type: ignore[misc]
        tables.append(Table(HEADERS, cells(pair_row(p, a) for p, a in zip(pairs, adjusted,
                                                                            strict=True)),
                            f"{SUITE_TITLES[suite]}: each model pair on the items both answered "
                            f"(an item is one {ITEM[suite]}; harness errors left out)."))
    if not tables:
        return Section(title, zh, (Paragraph(
            "Nothing to compare: fewer than two models have graded answers to the same items."),))
    notes = Bullets((
        "A only / B only: items one model got right and the other wrong; items both got right "
        "or both wrong say nothing about which is better.",
        "One graded attempt per item: McNemar's test, quoted as the mid-p (Fagerland et al. "
        "2013), with Newcombe's interval for the gap. With --repeats or --samples above 1, each "
        "item's share of passes is compared by a sign-flip permutation test with a bootstrap "
        "interval over items.",
        f"Holm p corrects for testing several pairs at once; the verdict uses it at "
        f"{ALPHA:.0%}. \"No clear difference\" means these items cannot tell the models apart, "
        "not that they are equal.",
    ))
    return Section(title, zh, (*tables, notes))
