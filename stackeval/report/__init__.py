"""Reports built from saved run records: the model comparison (Markdown + HTML + PNG charts),
the Allure 3 HTML report, and the CI gate.

``build_comparison(run_dir, out_dir)`` works without pytest; ``stackeval report`` drives both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackeval.report.comparison import Report, build_report
from stackeval.report.costs import DEFAULT_PRICES, load_prices


@dataclass(frozen=True)
class ComparisonFiles:
    """Where one comparison report was written."""

    report: Report
    findings: tuple[str, ...]
    markdown: Path
    html: Path
    charts: tuple[Path, ...]


def build_comparison(run_dir: Path, out_dir: Path,
                     prices_file: Path | None = DEFAULT_PRICES) -> ComparisonFiles:
    """Compute the report of one run and write report.md, report.html and charts/ into out_dir."""
    from stackeval.report.charts import render_charts
    from stackeval.report.findings import findings
    from stackeval.report.html import render_html
    from stackeval.report.markdown import render_markdown
    from stackeval.report.sections import build_sections

    report = build_report(run_dir, load_prices(prices_file))
    charts = render_charts(report, out_dir / "charts")
    sections = build_sections(report, charts)
    return ComparisonFiles(
        report=report,
        findings=findings(report),
        markdown=render_markdown(report, sections, out_dir / "report.md"),
        html=render_html(report, sections, out_dir / "report.html"),
        charts=tuple(c.path for c in charts.values()))


__all__ = ["ComparisonFiles", "Report", "build_comparison", "build_report", "load_prices"]
