"""Open-loop load: requests arrive on a schedule, whether or not earlier ones have finished.

The concurrency sweep (``perf/load.py``) is a closed loop: each round waits for its slowest
stream, so an overloaded server slows the load down and never shows its queue. Here arrivals
follow the clock — evenly spaced (``constant``) or a Poisson process (``poisson``: independent
exponential gaps, the usual model of many independent users) at a given request rate — so past
the server's capacity the queue grows and TTFT with it. :func:`find_knee` sweeps rates upwards,
stops at the first that breaks the SLOs and bisects between the last good and first bad rate:
the knee is the highest rate whose TTFT and TPOT percentiles still meet the objectives.

Schedules are seeded, so a rerun offers the same load. Lateness (a request sent after its
scheduled time because the machine or the in-flight cap held it back) is recorded per request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stackeval.errors import ClientError
from stackeval.perf.load import LoadGenerator, Result
from stackeval.perf.prompts import Prompt

log = logging.getLogger(__name__)

ARRIVALS = ("poisson", "constant")
MAX_IN_FLIGHT = 256  # threads; past it requests wait client-side and show up as lateness


def schedule(rate_rps: float, n: int, arrival: str = "poisson", seed: int = 1234) -> list[float]:
    """Send offsets in seconds from the start for ``n`` requests at ``rate_rps``.

    ``constant``: one every 1/rate; ``poisson``: exponential gaps with mean 1/rate (the first
    request goes at 0 either way, so the measured span covers n - 1 gaps)."""
    if rate_rps <= 0:
        raise ValueError(f"rate must be positive, got {rate_rps}")
    if arrival not in ARRIVALS:
        raise ValueError(f"arrival must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    if arrival == "constant":
        return [i / rate_rps for i in range(n)]
    rng = random.Random(f"{seed}:{rate_rps}")
    t, out = 0.0, []
    for i in range(n):
        if i:
            t += rng.expovariate(rate_rps)
        out.append(t)
    return out


@dataclass(frozen=True)
class Sent:
    """One open-loop request: when it was due, when it went, what came back."""

    prompt: Prompt
    due_s: float  # scheduled offset from the start
    sent_s: float  # actual offset when the request was handed to the client
    result: Result

    @property
    def late_s(self) -> float:
        """How much later than scheduled the request went."""
        return max(0.0, self.sent_s - self.due_s)


@dataclass(frozen=True)
class OpenLoopRun:
    """All requests of one rate level, in schedule order."""

    rate_rps: float
    arrival: str
    sent: tuple[Sent, ...]
    max_in_flight: int  # the most requests in flight at once


def run_open_loop(generator: LoadGenerator, prompts: Sequence[Prompt], offsets: Sequence[float],
                  *, max_in_flight: int = MAX_IN_FLIGHT, rate_rps: float = 0.0,
                  arrival: str = "poisson", clock: Callable[[], float] = time.perf_counter
                  ) -> OpenLoopRun:
    """Send each prompt at its offset on its own thread; wait for all; failures stay in place."""
    if len(prompts) != len(offsets):
        raise ValueError("one offset per prompt")
    lock = threading.Lock()
    in_flight = peak = 0
    sent_at: list[float] = [0.0] * len(prompts)

    def one(i: int, t0: float) -> Result:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        sent_at[i] = clock() - t0
        try:
            return generator.send(prompts[i])
        except ClientError as exc:
            log.warning("open-loop request %s failed: %s", prompts[i].id, exc)
            return exc
        finally:
            with lock:
                in_flight -= 1

    workers = max(1, min(max_in_flight, len(prompts)))
    with ThreadPoolExecutor(workers, thread_name_prefix="stackeval-arrivals") as pool:
        t0 = clock()
        futures = []
        for i, due in enumerate(offsets):
            wait = t0 + due - clock()
            if wait > 0:
                time.sleep(wait)
            futures.append(pool.submit(one, i, t0))
        results = [f.result() for f in futures]
    return OpenLoopRun(rate_rps, arrival, tuple(
        Sent(p, due, sent_at[i], r) for i, (p, due, r) in enumerate(
            zip(prompts, offsets, results, strict=True))), peak)


@dataclass(frozen=True)
class KneeStep:
    """One measured rate of a knee search."""

    rate_rps: float
    meets_slo: bool
    detail: str  # which percentile broke which objective, or the figures that held


@dataclass(frozen=True)
class Knee:
    """The highest rate that met the SLOs, and how it was found."""

    rate_rps: float | None  # None: even the lowest rate tried broke the SLOs
    bounded: bool  # a higher rate was seen to fail (else the knee is at least rate_rps)
    steps: tuple[KneeStep, ...]

    def describe(self) -> str:
        """One sentence for terminals and reports."""
        if self.rate_rps is None:
            low = min((s.rate_rps for s in self.steps), default=0.0)
            return f"below {low:g} req/s (the lowest rate tried already broke the SLOs)"
        if not self.bounded:
            return f"at least {self.rate_rps:g} req/s (every rate tried met the SLOs)"
        fail = min(s.rate_rps for s in self.steps if not s.meets_slo)
        return f"{self.rate_rps:g} req/s (SLOs met up to it; broken at {fail:g} req/s)"


def find_knee(measure: Callable[[float], KneeStep], rates: Sequence[float],
              refine: int = 2) -> Knee:
    """Measure ``rates`` upwards until one breaks the SLOs, then bisect ``refine`` times
    between the last rate that held and the first that broke (assumes more load never helps)."""
    if not rates:
        raise ValueError("give at least one rate")
    steps: list[KneeStep] = []
    good: float | None = None
    bad: float | None = None
    for rate in sorted(set(rates)):
        step = measure(rate)
        steps.append(step)
        if not step.meets_slo:
            bad = rate
            break
        good = rate
    if bad is not None and good is not None:
        for _ in range(refine):
            mid = round((good + bad) / 2, 4)
            if mid in (good, bad):
                break
            step = measure(mid)
            steps.append(step)
            good, bad = (mid, bad) if step.meets_slo else (good, mid)
    return Knee(good, bad is not None, tuple(steps))
