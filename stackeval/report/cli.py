"""``stackeval report``: the comparison report and the Allure HTML report of a saved run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.errors import ConfigError
from stackeval.report import allure, build_comparison
from stackeval.report.costs import DEFAULT_PRICES
from stackeval.report.gate import Threshold, evaluate, parse_fraction


def _project_root() -> Path:
    """Where node_modules lives: the working directory, else the checkout holding stackeval."""
    cwd = Path.cwd()
    if (cwd / "package.json").exists():
        return cwd
    return Path(__file__).resolve().parents[2]


def _prices_file(given: str | None) -> Path:
    """The price file asked for (it must exist), else the project's own example prices."""
    if given is not None:
        if not Path(given).is_file():
            raise ConfigError(f"--prices {given}: no such file")
        return Path(given)
    local = Path(DEFAULT_PRICES)
    return local if local.is_file() else _project_root() / DEFAULT_PRICES


def cmd_report(args: argparse.Namespace) -> int:
    """Write the comparison report (Markdown, HTML, PNGs) and the Allure HTML report."""
    reports = Path(args.reports_dir)
    run = Path(args.run) if args.run else store.latest_run(reports)
    if run is None or not run.is_dir():
        raise ConfigError(f"no runs under {reports}/runs: run the evals first "
                          "(pytest evals/ -m qa)")
    out = Path(args.out) if args.out else reports / "comparison" / run.name
    prices = None if args.no_prices else _prices_file(args.prices)
    files = build_comparison(run, out, prices)
    print(f"comparison report of run {run.name}:")
    print(f"  {files.markdown}")
    print(f"  {files.html}")
    for line in files.findings:
        print(f"  - {line}")
    if not args.no_allure:
        results = Path(args.allure_results) if args.allure_results else reports / "allure-results"
        index = allure.generate(results, reports / "allure-report", run_id=run.name,
                                root=_project_root())
        print(f"Allure report: {index}  (open it in a browser; history: "
              f"{reports / allure.HISTORY_FILE})")
    thresholds = [Threshold(suite, metric, parse_fraction(raw, flag))
                  for raw, suite, metric, flag in (
                      (args.min_accuracy, "qa", "accuracy", "--min-accuracy"),
                      (args.min_pass_at_1, "coding", "pass@1", "--min-pass-at-1"))
                  if raw is not None]
    results_ = evaluate(run, thresholds)
    for r in results_:
        print(r.line(), file=sys.stdout if r.passed else sys.stderr)
    return 1 if any(not r.passed for r in results_) else 0


def add_report_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``stackeval report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="write the model comparison report and the Allure HTML report of a run",
        description=cmd_report.__doc__)
    p.add_argument("--run", help="a run directory (default: the latest under REPORTS_DIR/runs)")
    p.add_argument("--reports-dir", default="reports", help="default: reports")
    p.add_argument("--out", help="where the comparison goes (default: "
                                 "REPORTS_DIR/comparison/<run id>)")
    p.add_argument("--prices", help=f"LLMaaS and electricity prices (default: {DEFAULT_PRICES})")
    p.add_argument("--no-prices", action="store_true", help="leave the cost section empty")
    p.add_argument("--allure-results", help="default: REPORTS_DIR/allure-results")
    p.add_argument("--no-allure", action="store_true",
                   help="skip the Allure HTML report (no Node.js needed)")
    p.add_argument("--min-accuracy", metavar="FRACTION",
                   help="exit 1 if a model's Q&A accuracy is below this (0.6 or 60%%)")
    p.add_argument("--min-pass-at-1", metavar="FRACTION",
                   help="exit 1 if a model's coding pass@1 is below this")
    p.set_defaults(func=cmd_report)
    return p
