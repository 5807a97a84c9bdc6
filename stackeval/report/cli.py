"""``stackeval report``: the comparison report and the Allure HTML report of a saved run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.errors import ConfigError
from stackeval.report import agreement, allure, build_comparison
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
    if args.compare:
        return cmd_compare(args, reports)
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
    results = (Path(args.allure_results) if args.allure_results
               else allure.results_dir_of(run, reports))
    if not args.no_allure:
        index = allure.generate(results, reports / "allure-report", run_id=run.name,
                                root=_project_root())
        print(f"Allure report: {index}  (open it in a browser; history: "
              f"{reports / allure.HISTORY_FILE})")
    agreed = _check_agreement(run, results)
    thresholds = [Threshold(suite, metric, parse_fraction(raw, flag))
                  for raw, suite, metric, flag in (
                      (args.min_accuracy, "qa", "accuracy", "--min-accuracy"),
                      (args.min_pass_at_1, "coding", "pass@1", "--min-pass-at-1"))
                  if raw is not None]
    results_ = evaluate(run, thresholds)
    for r in results_:
        print(r.line(), file=sys.stdout if r.passed else sys.stderr)
    return 1 if any(not r.passed for r in results_) or not agreed else 0


def _check_agreement(run: Path, results: Path) -> bool:
    """Say whether the run's Allure results and records agree; False when they do not."""
    if not allure.has_results(results):
        print(f"no Allure results of run {run.name} at {results}: the Allure report and the "
              "records cannot be compared", file=sys.stderr)
        return not any(any(True for _ in store.read_records(run, suite))
                       for suite in agreement.SUITES)
    checked = agreement.check(run, results)
    print(checked.line(), file=sys.stdout if checked.ok else sys.stderr)
    return checked.ok


def cmd_compare(args: argparse.Namespace, reports: Path) -> int:
    """Compare saved runs, each against the first: scores with the paired test, speed, and
    what was served differently."""
    from stackeval.report.crossrun import compare_runs, resolve_run
    from stackeval.report.crossrun_page import write_cross_run

    runs = [resolve_run(name, reports) for name in args.compare]
    out = (Path(args.out) if args.out else
           reports / "comparison" / f"compare-{runs[0].name}-vs-{runs[-1].name}")
    files = write_cross_run(compare_runs(runs), out)
    print(f"cross-run comparison of {len(runs)} runs (baseline {runs[0].name}):")
    print(f"  {files.markdown}")
    print(f"  {files.html}")
    for line in files.findings:
        print(f"  - {line}")
    return 0


def add_report_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``stackeval report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="write the model comparison report and the Allure HTML report of a run",
        description=cmd_report.__doc__)
    p.add_argument("--run", help="a run directory (default: the latest under REPORTS_DIR/runs)")
    p.add_argument("--reports-dir", default="reports", help="default: reports")
    p.add_argument("--compare", nargs="+", metavar="RUN",
                   help="compare two or more runs (directories or run ids), each against the "
                        "first: deltas per model, suite and category with a paired test, and "
                        "differences in what was served; writes compare.md/.html and nothing "
                        "else")
    p.add_argument("--out", help="where the comparison goes (default: "
                                 "REPORTS_DIR/comparison/<run id>)")
    p.add_argument("--prices", help=f"LLMaaS and electricity prices (default: {DEFAULT_PRICES})")
    p.add_argument("--no-prices", action="store_true", help="leave the cost section empty")
    p.add_argument("--allure-results", help="the run's Allure results (default: the directory "
                                            "the run wrote into, REPORTS_DIR/allure-results/"
                                            "<run id>)")
    p.add_argument("--no-allure", action="store_true",
                   help="skip the Allure HTML report (no Node.js needed)")
    p.add_argument("--min-accuracy", metavar="FRACTION",
                   help="exit 1 if a model's Q&A accuracy is below this (0.6 or 60%%)")
    p.add_argument("--min-pass-at-1", metavar="FRACTION",
                   help="exit 1 if a model's coding pass@1 is below this")
    p.set_defaults(func=cmd_report)
    return p
