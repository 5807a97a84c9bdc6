"""Percentiles, throughput and goodput over the records of one perf test.

Definitions (published with the figures, since tools disagree on names):

- TTFT: request start to the first chunk carrying content or reasoning text.
- ITL: every gap between consecutive text chunks, pooled over the test's requests (per chunk).
  guidellm, aiperf and genai-perf call per-request (last - first chunk) / (tokens - 1) "ITL";
  that is our TPOT without the tail after the last chunk.
- TPOT: (E2E - TTFT) / (output tokens - 1), per request. guidellm's "TPOT" includes TTFT.
- Stream output tokens/s: a request's output tokens / its E2E (prefill and queueing included).
- Decode tokens/s: 1 / TPOT (aiperf's per-user tokens/s is 1 / ITL).
- Aggregate output tokens/s: all output tokens / wall time, where wall time is the sum over
  rounds of (last end - first start) of that round's requests.
- Request throughput: completed requests / wall time.
- Goodput: requests meeting every SLO (TTFT and TPOT) / wall time, and as a share of requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stackeval.perf.record import PerfRecord
from stackeval.stats import mean, percentile

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Dist:
    """Count, mean, min, max and p50/p90/p99 of one metric."""

    n: int = 0
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Dist:
        """Summarize the values that are not None."""
        xs = [float(v) for v in values if v is not None]
        if not xs:
            return cls()
        return cls(len(xs), mean(xs), min(xs), max(xs),
                   *(percentile(xs, q) for q in PERCENTILES))


@dataclass(frozen=True)
class SLO:
    """Service-level objectives a request must all meet to count towards goodput."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None

    def met(self, r: PerfRecord) -> bool:
        """True when the request completed and met every objective that is set."""
        if not r.ok:
            return False
        if self.ttft_ms is not None and (r.ttft_s is None or r.ttft_s * 1000 > self.ttft_ms):
            return False
        if self.tpot_ms is not None and (r.tpot_s is None or r.tpot_s * 1000 > self.tpot_ms):
            return False
        return True


def wall_time_s(records: Iterable[PerfRecord]) -> float:
    """Sum over rounds of (last end - first start) of that round's requests."""
    spans: dict[int, list[float]] = {}
    for r in records:
        if r.t_start is None or r.t_end is None:
            continue
        lo_hi = spans.setdefault(r.round, [r.t_start, r.t_end])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], r.t_start), max(lo_hi[1], r.t_end)
    return math.fsum(hi - lo for lo, hi in spans.values())


@dataclass(frozen=True)
class LevelStats:
    """What one perf test measured: distributions, throughput, goodput and fidelity."""

    model: str
    scenario: str
    endpoint_kind: str
    concurrency: int
    slots: int | None
    requests: int
    completed: int
    errors: int
    wall_s: float
    ttft_s: Dist
    ttfa_s: Dist
    itl_s: Dist
    tpot_s: Dist
    e2e_s: Dist
    server_wait_s: Dist
    stream_output_tps: Dist
    decode_tps: Dist
    server_decode_tps: Dist
    decode_diff_pct: Dist
    output_tokens: int
    prompt_tokens: Dist
    cached_tokens: Dist
    aggregate_output_tps: float | None
    request_throughput_rps: float | None
    goodput_rps: float | None
    goodput_fraction: float | None
    slo: SLO
    fidelity_flagged: int
    length_short: int  # fixed length asked but fewer tokens came back
    token_sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def summarize(records: Sequence[PerfRecord], slo: SLO = SLO()) -> LevelStats:
    """Aggregate one test's records (all of one model, scenario and concurrency)."""
    if not records:
        raise ValueError("no perf records to summarize")
    first = records[0]
    ok = [r for r in records if r.ok]
    wall = wall_time_s(ok)
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    good = sum(slo.met(r) for r in records)
    return LevelStats(
        model=first.model, scenario=first.scenario, endpoint_kind=first.endpoint_kind,
        concurrency=first.concurrency, slots=first.slots, requests=len(records),
        completed=len(ok), errors=sum(r.error is not None for r in records), wall_s=wall,
        ttft_s=Dist.of(r.ttft_s for r in ok), ttfa_s=Dist.of(r.ttfa_s for r in ok),
        itl_s=Dist.of(x for r in ok for x in r.itl_s), tpot_s=Dist.of(r.tpot_s for r in ok),
        e2e_s=Dist.of(r.e2e_s for r in ok), server_wait_s=Dist.of(r.server_wait_s for r in ok),
        stream_output_tps=Dist.of(r.stream_output_tps for r in ok),
        decode_tps=Dist.of(r.client_decode_tps for r in ok),
        server_decode_tps=Dist.of(r.server_decode_tps for r in ok),
        decode_diff_pct=Dist.of(r.decode_diff_pct for r in ok),
        output_tokens=out_tokens, prompt_tokens=Dist.of(r.prompt_tokens for r in ok),
        cached_tokens=Dist.of(r.cached_tokens for r in ok),
        aggregate_output_tps=out_tokens / wall if wall > 0 else None,
        request_throughput_rps=len(ok) / wall if wall > 0 else None,
        goodput_rps=good / wall if wall > 0 else None,
        goodput_fraction=good / len(records),
        slo=slo, fidelity_flagged=sum(r.fidelity_flagged for r in ok),
        length_short=sum(r.length_ok is False for r in ok),
        token_sources=tuple(sorted({r.token_source for r in ok if r.token_source})),
    )
