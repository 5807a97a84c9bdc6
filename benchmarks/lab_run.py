"""Wall time, CPU use and harness efficiency of an eval run (`make eval`, `pytest evals/ -m qa`).

    python benchmarks/lab_run.py -- .venv/bin/pytest evals/ -m qa -q
    python benchmarks/lab_run.py --run reports/runs/<id>            # figures of a finished run

Runs the command (if given) and prints:
- wall time, and the CPU the command's whole process tree used (model servers, gateway, pytest,
  sandboxes: every descendant), as a share of the usable cores; also sampled once a second, so the
  share *while asks run* is known apart from start-up and reports;
- per model and suite, from the run's records: answers, output and prompt tokens, and the span
  from the first ask's start to the last answer's end;
- efficiency = span / (output tokens / best aggregate decode rate + prefill time), where the best
  rate is the highest aggregate tokens/s of the run's perf sweep (``--perf-run`` to take it from
  another run) and prefill time is prompt tokens / the prompt rate of perf's single-stream
  long-prompt requests (prompt tokens / TTFT). 1.0 would be a harness that never lets the server
  idle; 2.0 takes twice as long as the server's best rate needs;
- tokens the loop detector saved: at most max_tokens − output tokens per stopped answer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stackeval import store  # noqa: E402
from stackeval.config import usable_cores  # noqa: E402


def tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and its living descendants."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def run_command(argv: list[str]) -> dict:
    """Run argv; sample the tree's CPU once a second; return wall, CPU shares and samples."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    child = subprocess.Popen(argv, cwd=ROOT)
    proc = psutil.Process(child.pid)
    samples: list[tuple[float, float, float]] = []  # (time, tree cpu share, system cpu share)
    stop = threading.Event()

    def sample() -> None:
        last_t, last_cpu = time.monotonic(), 0.0
        psutil.cpu_percent()
        while not stop.wait(1.0):
            try:
                cpu = tree_cpu(proc)
            except psutil.Error:
                return
            now = time.monotonic()
            samples.append((now - t0, (cpu - last_cpu) / (now - last_t) / usable_cores(),
                            psutil.cpu_percent() / 100))
            last_t, last_cpu = now, cpu

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    rc = child.wait()
    stop.set()
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rc": rc, "wall_s": wall, "cpu_s": cpu, "cpu_share": cpu / wall / usable_cores(),
            "samples": samples}


def perf_rates(run: Path) -> dict[str, dict[str, float]]:
    """Per model: best aggregate decode tokens/s of the sweep; server prompt tokens/s."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    prompt: dict[str, list[float]] = defaultdict(list)
    for rec in store.read_records(run, "perf"):
        model = rec.get("model")
        if rec.get("record") == "summary" and rec.get("scenario") == "sweep":
            agg = rec.get("aggregate_output_tps")
            if agg:
                out[model]["decode"] = max(out[model].get("decode", 0.0), float(agg))
        # Single-stream long prompts: their TTFT is (almost all) prefill.
        if rec.get("record") == "request" and rec.get("scenario") == "long" \
                and rec.get("ttft_s") and rec.get("prompt_tokens"):
            prompt[model].append(rec["prompt_tokens"] / rec["ttft_s"])
    for model, rates in prompt.items():
        out[model]["prompt"] = statistics.median(rates)
    return dict(out)


def run_figures(run: Path, perf_run: Path | None) -> None:
    """Print per model and suite: answers, tokens, span, efficiency, loop savings."""
    rates = perf_rates(perf_run or run)
    print(f"run {run.name}")
    header = (f"{'model':<22}{'suite':<8}{'answers':>8}{'out tok':>9}{'prompt tok':>11}"
              f"{'span s':>8}{'tok/s':>7}{'ideal s':>9}{'span/ideal':>11}{'loops':>6}{'saved≤':>8}")
    print(header)
    for suite in ("qa", "coding"):
        by_model: dict[str, list[dict]] = defaultdict(list)
        for rec in store.read_records(run, suite):
            if rec.get("metrics"):
                by_model[rec["model"]].append(rec)
        for model, recs in by_model.items():
            m = [r["metrics"] for r in recs]
            out_tok = sum(x.get("output_tokens") or 0 for x in m)
            prompt_tok = sum(x.get("prompt_tokens") or 0 for x in m)
            starts = [x["t_start"] for x in m if x.get("t_start") is not None]
            span = (max(x["t_end"] for x in m if x.get("t_end")) - min(starts)) if starts else None
            loops = [r for r in recs if (r["metrics"].get("stop_reason"))]
            limit = max((r.get("request") or {}).get("body", {}).get("max_tokens") or 0
                        for r in recs)
            saved = sum(max(0, limit - (r["metrics"].get("output_tokens") or 0)) for r in loops)
            rate = rates.get(model, {})
            ideal = None
            if rate.get("decode"):
                ideal = out_tok / rate["decode"] + (prompt_tok / rate["prompt"]
                                                    if rate.get("prompt") else 0.0)
            eff = f"{span / ideal:.2f}" if ideal and span else "—"
            print(f"{model:<22}{suite:<8}{len(recs):>8}{out_tok:>9}{prompt_tok:>11}"
                  f"{(f'{span:.0f}' if span else '—'):>8}"
                  f"{(f'{out_tok / span:.1f}' if span else '—'):>7}"
                  f"{(f'{ideal:.0f}' if ideal else '—'):>9}{eff:>11}{len(loops):>6}{saved:>8}")
    for model, rate in rates.items():
        print(f"perf: {model}: best aggregate decode {rate.get('decode', 0):.1f} tok/s, "
              f"server prompt rate {rate.get('prompt', 0):.0f} tok/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a run directory to report on (default: the newest one "
                                      "the command created)")
    parser.add_argument("--perf-run", help="take decode/prompt rates from this run's perf sweep")
    parser.add_argument("--reports-dir", default=str(ROOT / "reports"))
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    runs = Path(args.reports_dir) / "runs"
    existing = set(runs.glob("*")) if runs.exists() else set()
    if argv:
        result = run_command(argv)
        busy = [tree for _, tree, _ in result["samples"]]
        asking = [s for s in busy if s > 0.25]  # seconds when models were at work
        print(f"command exit {result['rc']}; wall {result['wall_s']:.0f} s; CPU of its process "
              f"tree {result['cpu_s']:.0f} s = {result['cpu_share']:.0%} of {usable_cores()} "
              f"cores on average; while asks ran ({len(asking)} s): "
              f"{(statistics.mean(asking) if asking else 0):.0%} of the cores (tree), system "
              f"{statistics.mean([s for *_, s in result['samples']] or [0]):.0%}")
        Path(os.environ.get("LAB_SAMPLES", "/dev/null")).write_text(json.dumps(result))
    run = Path(args.run) if args.run else max(set(runs.glob("*")) - existing, default=None)
    if run is None:
        print("no run directory to report on", file=sys.stderr)
        return 1
    run_figures(run, Path(args.perf_run) if args.perf_run else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
