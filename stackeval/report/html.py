"""The comparison report as one self-contained HTML page: plain CSS, PNGs as data URIs, no JS."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from stackeval.report.blocks import DASH, NOT_RUN, Bullets, Figure, Paragraph, Section, Table
from stackeval.report.comparison import Report, title

CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem;
     margin-top: 2.2rem; }
h2 .zh { color: #57606a; font-weight: normal; margin-left: 0.5rem; }
.meta { color: #57606a; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
td.missing { color: #8c959f; font-style: italic; }
caption { caption-side: bottom; text-align: left; color: #57606a; font-size: 0.82rem;
          padding-top: 0.3rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: 0.85rem; }
section.findings li { margin: 0.3rem 0; }
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="missing">{escape(c)}</td>' if c in (NOT_RUN, DASH) else
            f"<td>{escape(c)}</td>" for c in row) + "</tr>"
        for row in t.rows)
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report, sections: list[Section], path: Path) -> Path:
    """Write the report as one HTML file at ``path`` (opens from disk, needs no server)."""
    meta = ("模型对比实验报告 · run <code>" + escape(report.run_id) + "</code> · records in <code>"
            + escape(str(report.run_dir)) + "</code> · generated " + escape(report.generated_at))
    return write_html(title(report), meta, sections, path)


def write_html(heading: str, meta_html: str, sections: list[Section], path: Path) -> Path:
    """Write any sections as one self-contained HTML page (``meta_html`` is already escaped)."""
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(heading)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="meta">{meta_html}</p>',
    ]
    figure_no = 0
    for number, section in enumerate(sections, start=1):
        slug = section.title.lower().replace(" ", "-").replace("&", "")
        parts.append(f'<section class="{escape(slug)}" id="{escape(slug)}">'
                     f'<h2>{number}. {escape(section.title)}<span class="zh">'
                     f"{escape(section.zh)}</span></h2>")
        for block in section.blocks:
            if isinstance(block, Paragraph):
                parts.append(f"<p>{escape(block.text)}</p>")
            elif isinstance(block, Bullets):
                parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items)
                             + "</ul>")
            elif isinstance(block, Table):
                parts.append(_table(block))
            elif isinstance(block, Figure):
                figure_no += 1
                chart = block.chart
                parts.append(
                    f'<figure id="fig-{escape(chart.key)}"><img alt="{escape(chart.title)}" '
                    f'src="{_data_uri(chart.path)}"><figcaption>Figure {figure_no}: '
                    f"{escape(chart.caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
