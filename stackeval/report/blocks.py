"""What a report section is made of (paragraphs, bullets, tables, figures) and how cells read.

Missing data is written as "not run" (the suite produced no records for the model) or "–" (the
figure was not measured), never as 0. Every accuracy and pass rate carries its 95% interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stackeval.report.charts import Chart
from stackeval.report.stats import Distribution, Rate

NOT_RUN = "not run"
DASH = "–"


@dataclass(frozen=True)
class Paragraph:
    """Plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bullet list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A chart with its caption."""

    chart: Chart


Block = Paragraph | Bullets | Table | Figure


@dataclass(frozen=True)
class Section:
    """A titled part of the report; ``zh`` is the Chinese subtitle."""

    title: str
    zh: str
    blocks: tuple[Block, ...]


# -- formatting ---------------------------------------------------------------------------------


def interval(ci: tuple[float, float] | None) -> str:
    """``8–42%``: an interval of fractions as percentages."""
    if ci is None:
        return DASH
    return f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f}%"


def rate(r: Rate | None) -> str:
    """``75% (3/4; 30–95%)``: the share passed, the counts and the Wilson 95% interval."""
    if r is None or r.value is None:
        return DASH
    return f"{100 * r.value:.0f}% ({r.passed}/{r.total}; {interval(r.interval)})"


def pct(x: float | None, ci: tuple[float, float] | None = None) -> str:
    """A fraction as a percentage, with its interval when one is given."""
    if x is None:
        return DASH
    return f"{100 * x:.1f}%" + (f" ({interval(ci)})" if ci is not None else "")


def points(x: float | None, ci: tuple[float, float] | None = None) -> str:
    """A difference of fractions in percentage points: ``+4.0 pts (−5.1 to +13.2)``."""
    if x is None:
        return DASH
    text = f"{100 * x + 0.0:+.1f} pts"  # + 0.0: no "-0.0"
    return text if ci is None else text + f" ({100 * ci[0] + 0.0:+.1f} to {100 * ci[1] + 0.0:+.1f})"


def p_value(p: float | None) -> str:
    """A p-value with the precision it deserves."""
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def num(x: float | None, digits: int = 2) -> str:
    """A number with fixed decimals, or a dash."""
    return DASH if x is None else f"{x:.{digits}f}"


def money(x: float | None, currency: str) -> str:
    """An amount with enough decimals for tiny local costs."""
    if x is None:
        return DASH
    digits = 2 if abs(x) >= 1 else 4 if abs(x) >= 0.01 else 6
    return f"{x:.{digits}f} {currency}"


def spread(d: Distribution, digits: int = 2) -> str:
    """The median with p10–p90 in parentheses."""
    if not d.n:
        return DASH
    return f"{num(d.p50, digits)} ({num(d.p10, digits)}–{num(d.p90, digits)})"


def cells(rows: Iterable[Sequence[Any]]) -> tuple[tuple[str, ...], ...]:
    """Rows of any values as rows of text."""
    return tuple(tuple(str(c) for c in r) for r in rows)
