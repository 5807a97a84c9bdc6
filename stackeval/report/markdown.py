"""The comparison report as Markdown, with the PNG charts referenced by relative path."""

from __future__ import annotations

import os
from pathlib import Path

from stackeval.report.blocks import Bullets, Figure, Paragraph, Section, Table
from stackeval.report.comparison import Report, title


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(t: Table) -> list[str]:
    lines = ["| " + " | ".join(map(_cell, t.headers)) + " |",
             "|" + "|".join("---" for _ in t.headers) + "|"]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in t.rows]
    if t.caption:
        lines += ["", f"*{t.caption}*"]
    return lines


def render_markdown(report: Report, sections: list[Section], path: Path) -> Path:
    """Write the report as Markdown at ``path``; figures link to their PNGs relative to it."""
    return write_markdown(title(report), "模型对比实验报告",
                          f"Run `{report.run_id}` · records in `{report.run_dir}` · generated "
                          f"{report.generated_at}", sections, path)


def write_markdown(heading: str, zh: str, meta: str, sections: list[Section], path: Path) -> Path:
    """Write any sections as a Markdown page under a title, a Chinese subtitle and a meta line."""
    lines = [f"# {heading}", "", zh, "", meta, ""]
    figure_no = 0
    for number, section in enumerate(sections, start=1):
        lines += [f"## {number}. {section.title} · {section.zh}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                lines += [block.text, ""]
            elif isinstance(block, Bullets):
                lines += [f"- {item}" for item in block.items] + [""]
            elif isinstance(block, Table):
                lines += _table(block) + [""]
            elif isinstance(block, Figure):
                figure_no += 1
                rel = os.path.relpath(block.chart.path, path.parent)
                lines += [f"![{block.chart.title}]({Path(rel).as_posix()})", "",
                          f"*Figure {figure_no}: {block.chart.caption}*", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
