"""Fixed-width text tables for the terminal: every table a run prints is laid out here.

Two kinds: a :class:`Layout` of columns with fixed widths and alignments (the summary tables),
and :func:`aligned`, columns as wide as their widest cell (the perf table). Widths count
characters, as the terminal reporter does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Column:
    """One column: its title, its width (padding included) and its alignment."""

    title: str
    width: int
    align: Literal["<", ">"] = "<"

    def cell(self, value: object) -> str:
        """``value`` padded to the column's width (never cut)."""
        return f"{value:{self.align}{self.width}}"


@dataclass(frozen=True)
class Layout:
    """Columns side by side with no gap between them: a column's width is its spacing."""

    columns: tuple[Column, ...]

    def header(self) -> str:
        """The column titles on one line."""
        return self.line(*(c.title for c in self.columns))

    def ruled(self) -> list[str]:
        """The header and a rule of dashes as long as it."""
        head = self.header()
        return [head, "-" * len(head)]

    def line(self, *values: object) -> str:
        """One row: each value in its column."""
        return "".join(c.cell(v) for c, v in zip(self.columns, values, strict=True))


def fit_widths(rows: Sequence[Sequence[str]], count: int | None = None,
               cap: int | None = None) -> list[int]:
    """The width of each of the first ``count`` columns (all by default): its widest cell,
    at most ``cap``."""
    n = len(rows[0]) if count is None else count
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    return widths if cap is None else [min(w, cap) for w in widths]


def joined(cells: Iterable[str], widths: Iterable[int], sep: str = "  ") -> str:
    """Left-aligned cells padded to their widths, ``sep`` between them."""
    return sep.join(c.ljust(w) for c, w in zip(cells, widths, strict=True))


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned text columns as wide as their widest cell, two spaces apart; nothing for a
    table without a row under its header."""
    if len(rows) < 2:
        return []
    widths = fit_widths(rows)
    return [joined(r, widths).rstrip() for r in rows]


def name_width(names: Iterable[str], header: str, room: int) -> int:
    """A first column's width: the longest name (or the header) plus a gap, at most ``room``."""
    return min(max(len(header), *(len(n) for n in names)) + 2, room)


def named(name: str, width: int, rest: str) -> list[str]:
    """``name`` then ``rest`` on one line; a name too long for its column gets its own line."""
    if len(name) < width:
        return [f"{name:<{width}}{rest}"]
    return [name, " " * width + rest]


def cut(line: str, width: int) -> str:
    """``line`` cut to ``width`` characters, an ellipsis marking the cut."""
    return line if len(line) <= width else line[:width - 1] + "…"
