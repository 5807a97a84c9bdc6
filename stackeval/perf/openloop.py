"""The open-loop rate sweep on a running stack: each rate's records and summary, and the knee.

Every request goes straight to the model's server (its replicas in turn), with the perf suite's
fixed output length, so rates are comparable with the concurrency sweep. A rate level meets the
SLOs when no request failed and the ``slo_percentile`` of TTFT and of TPOT are within the
``--slo-ttft-ms`` / ``--slo-tpot-ms`` objectives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackeval.client import StreamingClient
from stackeval.config import PerfSettings
from stackeval.perf.arrivals import Knee, KneeStep, OpenLoopRun, find_knee, run_open_loop, schedule
from stackeval.perf.load import LoadGenerator
from stackeval.perf.prompts import PromptFactory
from stackeval.perf.record import PerfRecord, RunContext
from stackeval.perf.scenario import direct_endpoints, slots_of
from stackeval.perf.stats import LevelStats, summarize
from stackeval.sampling import Sampling
from stackeval.stack.base import Stack
from stackeval.stats import percentile

SCENARIO = "rate"


@dataclass(frozen=True)
class RateLevel:
    """One rate's requests, their aggregate and the SLO verdict."""

    run: OpenLoopRun
    records: tuple[PerfRecord, ...]
    stats: LevelStats
    step: KneeStep
    slo_percentile: float

    def extras(self) -> list[dict[str, Any]]:
        """Per request: when it was due, how late it went (parallel to ``records``)."""
        return [{"rate_rps": self.run.rate_rps, "arrival": self.run.arrival,
                 "due_s": round(s.due_s, 6), "late_s": round(s.late_s, 6)}
                for s in self.run.sent]

    def summary(self) -> dict[str, Any]:
        """The level's perf summary plus what only an open loop has."""
        sent = [s.sent_s for s in self.run.sent]
        span = max(sent) - min(sent) if len(sent) > 1 else 0.0
        late = [s.late_s for s in self.run.sent]
        return {**self.stats.to_dict(), "rate_rps": self.run.rate_rps,
                "arrival": self.run.arrival,
                "offered_rps": (len(sent) - 1) / span if span > 0 else None,
                "late_p99_s": percentile(late, 99), "max_in_flight": self.run.max_in_flight,
                "slo_percentile": self.slo_percentile, "meets_slo": self.step.meets_slo,
                "slo_detail": self.step.detail}


def verdict(records: tuple[PerfRecord, ...], settings: PerfSettings, rate: float) -> KneeStep:
    """Whether a level met the SLOs at the configured percentile, and why (not)."""
    q = settings.slo_percentile
    ok = [r for r in records if r.ok]
    failed = len(records) - len(ok)
    ttft = percentile([r.ttft_s for r in ok if r.ttft_s is not None], q)
    tpot = percentile([r.tpot_s for r in ok if r.tpot_s is not None], q)
    broken = []
    if failed:
        broken.append(f"{failed} of {len(records)} requests failed")
    if ttft is None or ttft * 1000 > settings.slo_ttft_ms:
        broken.append(f"TTFT p{q:g} {_ms(ttft)} > {settings.slo_ttft_ms:g} ms")
    if tpot is None or tpot * 1000 > settings.slo_tpot_ms:
        broken.append(f"TPOT p{q:g} {_ms(tpot)} > {settings.slo_tpot_ms:g} ms")
    held = f"TTFT p{q:g} {_ms(ttft)}, TPOT p{q:g} {_ms(tpot)}"
    return KneeStep(rate, not broken, "; ".join(broken) if broken else held)


def _ms(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x * 1000:.0f} ms"


def run_rate(stack: Stack, client: StreamingClient, model: str, rate: float, *,
             settings: PerfSettings, run_id: str, seed: int = 1234,
             temperature: float = 0.0) -> RateLevel:
    """Send ``settings.rate_requests`` requests at ``rate`` req/s and summarize them."""
    stack.acquire(model)
    served = stack.served(model)
    shape = Sampling(settings.perf_max_tokens, temperature, seed, fixed_length=True)
    endpoints = direct_endpoints(stack, model)
    generator = LoadGenerator(client, endpoints, shape,
                              "completion" if served.kind == "base" else "chat")
    prompts = PromptFactory("short", seed, tag=f"rate-{rate:g}").take(settings.rate_requests)
    offsets = schedule(rate, settings.rate_requests, settings.arrival, seed)
    run = run_open_loop(generator, prompts, offsets, rate_rps=rate, arrival=settings.arrival)
    ctx = RunContext(run_id, model, served.sha256, SCENARIO, endpoints[0].kind, 0,
                     slots_of(stack), settings.perf_max_tokens, shape.fixed_length)
    records = tuple(PerfRecord.of(ctx, 0, i, s.prompt.id, s.result)
                    for i, s in enumerate(run.sent))
    return RateLevel(run, records, summarize(records, settings.slo),
                     verdict(records, settings, rate), settings.slo_percentile)


def rate_sweep(stack: Stack, client: StreamingClient, model: str, *, settings: PerfSettings,
               run_id: str, seed: int = 1234, temperature: float = 0.0,
               on_level: Callable[[RateLevel], None] | None = None
               ) -> tuple[Knee, list[RateLevel]]:
    """Rates upwards until the SLOs break, bisected ``knee_refine`` times; every level measured
    is handed to ``on_level`` as soon as it is done (so its records are saved at once)."""
    levels: list[RateLevel] = []
    stack.acquire(model)
    warm = LoadGenerator(client, direct_endpoints(stack, model),
                         Sampling(settings.perf_max_tokens, temperature, seed, fixed_length=True),
                         "completion" if stack.served(model).kind == "base" else "chat")
    for prompt in PromptFactory("short", seed, tag="rate-warmup").take(settings.perf_warmup):
        warm.send(prompt)  # untimed: the first request of a fresh server is not the load's

    def measure(rate: float) -> KneeStep:
        level = run_rate(stack, client, model, rate, settings=settings, run_id=run_id,
                         seed=seed, temperature=temperature)
        levels.append(level)
        if on_level is not None:
            on_level(level)
        return level.step

    return find_knee(measure, settings.rates, settings.knee_refine), levels


def knee_record(model: str, run_id: str, knee: Knee, settings: PerfSettings,
                sha256: str | None) -> dict[str, Any]:
    """The ``knee`` line of perf.jsonl."""
    return {"record": "knee", "run_id": run_id, "model": model, "sha256": sha256,
            "knee_rps": knee.rate_rps, "bounded": knee.bounded, "describe": knee.describe(),
            "arrival": settings.arrival, "slo_percentile": settings.slo_percentile,
            "slo_ttft_ms": settings.slo_ttft_ms, "slo_tpot_ms": settings.slo_tpot_ms,
            "requests_per_rate": settings.rate_requests, "max_tokens": settings.perf_max_tokens,
            "steps": [{"rate_rps": s.rate_rps, "meets_slo": s.meets_slo, "detail": s.detail}
                      for s in knee.steps]}
