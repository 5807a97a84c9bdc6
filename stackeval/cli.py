"""``stackeval``: pull models, list the catalog, summarize saved runs, serve the stack by hand."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from stackeval import shutdown, store
from stackeval.coding.labcheck import add_check_lab_command
from stackeval.config import Settings, StackSettings
from stackeval.continue_config import continue_config, write_config
from stackeval.errors import ConfigError, StackEvalError
from stackeval.models.cache import default_cache_dir
from stackeval.models.catalog import load_catalog
from stackeval.models.pull import pull
from stackeval.models.resolve import resolve_models
from stackeval.options import options, resolve
from stackeval.report.cli import add_report_command
from stackeval.stack.factory import create_stack
from stackeval.summary import coding_table, format_coding_table, format_qa_table, qa_table
from stackeval.table import Column, Layout

# The settings each command reads; the rest keep their environment variables and defaults.
PULL = ("models", "cache_dir")
SERVE = tuple(o.name for o in options(StackSettings)) + ("reports_dir", "request_timeout")
CONTINUE = ("stack", "models", "base_url", "api_key", "gateway_port")


def _settings(args: argparse.Namespace) -> Settings:
    return resolve(Settings, lambda opt: getattr(args, opt.name, None))


def _add_settings(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """Register the named settings as flags; help shows each default and variable."""
    for opt in options(Settings):
        if opt.name not in names:
            continue
        if opt.flag:
            parser.add_argument(opt.cli, action="store_true", default=None, help=opt.help_text)
        else:
            parser.add_argument(opt.cli, default=None, help=opt.help_text,
                                action="append" if opt.many else "store")


_CATALOG = Layout((Column("name", 22), Column("kind", 6), Column("quant", 8),
                   Column("size", 8, ">")))


def cmd_models(args: argparse.Namespace) -> int:
    """List the catalog."""
    catalog = load_catalog()
    for m in catalog:
        flag = "default" if m.default else ""
        size = f"{m.size_bytes / 1e6:.0f} MB" if m.size_bytes else "?"
        print(_CATALOG.line(m.name, m.kind, m.quantization or "", size) + f"  {flag}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    """Download and verify the selected models (default: the default set)."""
    settings = _settings(args)
    cache = settings.cache_dir or default_cache_dir()
    for spec in resolve_models(settings.models):  # files to fetch, whatever the --stack
        started = time.perf_counter()
        pulled = pull(spec, cache, progress=True)
        print(f"{spec.name}: {pulled.path} ({pulled.size_bytes / 1e6:.0f} MB, "
              f"sha256 {pulled.sha256[:12]}…, {pulled.gguf.quantization}) "
              f"in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """Print the Q&A summary of a saved run (default: the latest)."""
    run = Path(args.run) if args.run else store.latest_run(Path(args.reports_dir))
    if run is None or not run.exists():
        print(f"no runs under {args.reports_dir}/runs", file=sys.stderr)
        return 1
    print(f"run {run.name}")
    rows = qa_table(store.read_records(run, "qa"))
    for line in format_qa_table(rows) or ["(no Q&A records)"]:
        print(line)
    coding = coding_table(store.read_records(run, "coding"))
    for line in format_coding_table(coding):
        print(line)
    if args.strict and (not rows or any(r["errors"] for r in rows + coding)):
        print("strict: the run has no records or has infrastructure/grader errors",
              file=sys.stderr)
        return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the stack and keep it up until Ctrl-C (for Continue.dev, Open WebUI, curl)."""
    settings = _settings(args)
    if not settings.api_key:
        raise ConfigError("serve: choose the gateway key with --api-key (or STACKEVAL_API_KEY); "
                          "clients send it as the bearer token")
    if not settings.gateway_port:
        settings = replace(settings, gateway_port=4000)
    # SIGTERM and Ctrl-C both raise here, in the main thread, so ``with stack:`` stops every
    # server, also while the stack is still starting (start() undoes what it started).
    interrupts = shutdown.interrupt_on((signal.SIGINT, signal.SIGTERM))
    try:
        specs = resolve_models(settings.models, profile=settings.stack)
        stack = create_stack(settings, specs, progress=True, eager=True)
        with stack:
            print(f"stack up: {stack.describe()}", flush=True)
            print("gateway key: the value of --api-key / STACKEVAL_API_KEY", flush=True)
            shutdown.wait_forever()
    except KeyboardInterrupt as exc:
        print(f"stack stopped ({exc or 'interrupted'})", flush=True)
    finally:
        interrupts.restore()
    return 0


def cmd_continue_config(args: argparse.Namespace) -> int:
    """Write a Continue.dev config.yaml for the gateway and models the harness measured."""
    settings = _settings(args)
    if not settings.api_key:
        raise ConfigError("continue-config: pass --api-key (the gateway key clients send)")
    base_url = settings.base_url or f"http://127.0.0.1:{settings.gateway_port or 4000}/v1"
    models = [(spec.name, spec.kind)
              for spec in resolve_models(settings.models, profile=settings.stack)]
    path = write_config(Path(args.output).expanduser(),
                        continue_config(base_url, settings.api_key, models))
    print(f"wrote {path} (mode 600) for {', '.join(m for m, _ in models)} at {base_url}")
    return 0


def cmd_regrade(args: argparse.Namespace) -> int:
    """Re-grade a stored run into a new run directory and print what changed."""
    from stackeval.regrade import regrade_run

    source = Path(args.run_dir)
    if not source.is_dir():
        raise ConfigError(f"regrade: {source} is not a run directory")
    target, changes = regrade_run(source, Path(args.reports_dir),
                                  Path(args.qa_dir) if args.qa_dir else None)
    same = sum(n for (old, new), n in changes.items() if old == new)
    print(f"re-graded {sum(changes.values())} answers of {source.name} into {target}: "
          f"{same} verdicts unchanged")
    for (old, new), n in sorted(changes.items()):
        if old != new:
            print(f"  {old} -> {new}: {n}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="stackeval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the model catalog").set_defaults(func=cmd_models)
    p = sub.add_parser("pull", help="download and verify models into the cache")
    _add_settings(p, PULL)
    p.set_defaults(func=cmd_pull)
    p = sub.add_parser("summary", help="print the Q&A summary of a saved run")
    p.add_argument("--run", help="a run directory (default: the latest under reports/runs)")
    p.add_argument("--reports-dir", default="reports")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when the run has no records or any infrastructure/grader error")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("continue-config", help="write a Continue.dev config.yaml for the gateway")
    p.add_argument("--output", "-o", default="~/.continue/config.yaml")
    _add_settings(p, CONTINUE)
    p.set_defaults(func=cmd_continue_config)
    p = sub.add_parser("serve", help="start the embedded stack and keep it running")
    _add_settings(p, SERVE)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("regrade", help="re-grade a run's stored Q&A answers with the current "
                       "graders (no server); writes a new run")
    p.add_argument("run_dir", help="the run directory to re-grade (reports/runs/<run-id>)")
    p.add_argument("--reports-dir", default="reports", help="where the new run is written")
    p.add_argument("--qa-dir", help="question files (default: fixtures/qa)")
    p.set_defaults(func=cmd_regrade)
    add_report_command(sub)
    add_check_lab_command(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except StackEvalError as exc:
        print(f"stackeval: error: {exc}", file=sys.stderr)
        return 2
