"""How much CPU the telemetry sampler itself costs, at 10 Hz and 50 Hz.

Run: ``.venv/bin/python benchmarks/sampler_overhead.py [--seconds 10] [--rates 10 50]``.
Prints, per rate, the sampler thread's CPU time as % of one core and per sample, next to the
whole process's CPU time minus an idle baseline of the same length.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import psutil

from stackeval.telemetry import Sampler

log = logging.getLogger("sampler_overhead")


def _thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, by OS thread id."""
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    return 0.0


def measure(rate_hz: float, seconds: float, idle_cpu_s: float) -> dict[str, float]:
    """Sample this process and its host for ``seconds`` at ``rate_hz``; return the costs."""
    sampler = Sampler(rate_hz=rate_hz, pids=[os.getpid()], gpu=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sampler.start()
    time.sleep(seconds)
    thread_s = _thread_cpu_s(sampler.native_thread_id)  # read before the thread ends
    trace = sampler.stop()
    wall = time.perf_counter() - wall0
    process_s = time.process_time() - cpu0 - idle_cpu_s * wall / seconds
    return {
        "samples": len(trace),
        "achieved_hz": trace.achieved_hz,
        "overruns": trace.overruns,
        "columns": len(trace.columns),
        "thread_core_pct": thread_s / wall * 100,
        "thread_us_per_sample": thread_s / max(len(trace), 1) * 1e6,
        "process_core_pct": process_s / wall * 100,
        "process_us_per_sample": process_s / max(len(trace), 1) * 1e6,
        "unavailable": ", ".join(trace.unavailable) or "none",
    }


def main() -> None:
    """Measure the idle baseline, then each rate, and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate (default 10)")
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 50.0])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    cpu0 = time.process_time()
    time.sleep(args.seconds)
    idle = time.process_time() - cpu0
    print(f"idle baseline: {idle * 1e3:.2f} ms CPU over {args.seconds:.0f} s")
    print(f"host: {psutil.cpu_count()} logical CPUs")
    header = (
        f"{'rate':>6} {'samples':>7} {'got Hz':>7} {'overrun':>7} {'cols':>4} "
        f"{'thread %core':>12} {'µs/sample':>9} {'proc %core':>10} {'µs/sample':>9}  unavailable"
    )
    print(header)
    for rate in args.rates:
        r = measure(rate, args.seconds, idle)
        print(
            f"{rate:>6.0f} {r['samples']:>7} {r['achieved_hz']:>7.2f} {r['overruns']:>7} "
            f"{r['columns']:>4} {r['thread_core_pct']:>12.3f} {r['thread_us_per_sample']:>9.0f} "
            f"{r['process_core_pct']:>10.3f} {r['process_us_per_sample']:>9.0f}  {r['unavailable']}"
        )


if __name__ == "__main__":
    main()
