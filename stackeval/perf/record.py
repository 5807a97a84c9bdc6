"""The per-request perf record: what one timed request did, flat and JSON-ready.

Raw perf_counter timestamps (``t_start``, ``t_end``) are kept so aggregates over a round (wall
time, throughput) can be recomputed from saved records alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from stackeval.perf.fidelity import THRESHOLD_PCT, check
from stackeval.records import Completion


@dataclass(frozen=True)
class RunContext:
    """What every record of one perf test shares."""

    run_id: str
    model: str
    sha256: str | None
    scenario: str  # short | long | sweep | cold
    endpoint_kind: str  # direct | gateway
    concurrency: int
    slots: int | None  # server request slots (llama.cpp --parallel); None when unknown
    max_tokens: int
    fixed_length: bool  # ignore_eos/min_tokens were asked for


@dataclass(frozen=True)
class PerfRecord:
    """One request of a perf test: latencies, token counts and their sources, fidelity."""

    run_id: str
    model: str
    sha256: str | None
    scenario: str
    endpoint_kind: str
    concurrency: int
    slots: int | None
    round: int
    index: int  # position within the round
    prompt_id: str
    max_tokens: int
    fixed_length: bool
    t_start: float | None = None  # perf_counter seconds, after the client-side start barrier
    t_end: float | None = None
    ttft_s: float | None = None
    ttfa_s: float | None = None
    e2e_s: float | None = None
    tpot_s: float | None = None
    itl_s: tuple[float, ...] = ()
    queue_wait_s: float | None = None  # client side (retries); the start barrier is not timed
    server_wait_s: float | None = None  # E2E minus the server's prefill + decode time
    output_tokens: int | None = None
    token_source: str | None = None
    length_ok: bool | None = None  # output_tokens == max_tokens when a fixed length was asked
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    client_decode_tps: float | None = None
    server_decode_tps: float | None = None
    server_tps_source: str | None = None
    decode_diff_pct: float | None = None
    fidelity_flagged: bool = False
    fidelity_threshold_pct: float = THRESHOLD_PCT
    finish_reason: str | None = None
    attempts: int = 1
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A completed request with output (failed or empty ones stay out of the figures)."""
        return self.error is None and bool(self.output_tokens)

    @property
    def stream_output_tps(self) -> float | None:
        """Output tokens over E2E: the rate one user sees, prefill and queueing included."""
        if not self.ok or not self.e2e_s:
            return None
        return self.output_tokens / self.e2e_s  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the derived stream rate."""
        d = asdict(self)
        d["itl_s"] = [round(x, 6) for x in self.itl_s]
        d["stream_output_tps"] = self.stream_output_tps
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerfRecord:
        """Rebuild from :meth:`to_dict` output (extra keys ignored)."""
        known = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in known}
        values["itl_s"] = tuple(values.get("itl_s") or ())
        return cls(**values)

    @classmethod
    def of(cls, ctx: RunContext, round_: int, index: int, prompt_id: str,
           result: Completion | BaseException,
           threshold_pct: float = THRESHOLD_PCT) -> PerfRecord:
        """The record of one finished request, or of one that failed with ``result``."""
        base: dict[str, Any] = dict(
            run_id=ctx.run_id, model=ctx.model, sha256=ctx.sha256, scenario=ctx.scenario,
            endpoint_kind=ctx.endpoint_kind, concurrency=ctx.concurrency, slots=ctx.slots,
            round=round_, index=index, prompt_id=prompt_id, max_tokens=ctx.max_tokens,
            fixed_length=ctx.fixed_length, fidelity_threshold_pct=threshold_pct)
        if isinstance(result, BaseException):
            return cls(**base, error=f"{type(result).__name__}: {result}")
        c = result
        fid = check(c, threshold_pct)
        t = c.server_timings or {}
        server_wait = None
        if "prompt_ms" in t and "predicted_ms" in t:
            server_wait = c.e2e_s - (t["prompt_ms"] + t["predicted_ms"]) / 1000.0
        return cls(
            **base, t_start=c.t_start, t_end=c.t_end, ttft_s=c.ttft_s, ttfa_s=c.ttfa_s,
            e2e_s=c.e2e_s, tpot_s=c.tpot_s, itl_s=c.itl_s, queue_wait_s=c.queue_wait_s,
            server_wait_s=server_wait, output_tokens=c.output_tokens,
            token_source=c.token_source.value,
            length_ok=(c.output_tokens == ctx.max_tokens) if ctx.fixed_length else None,
            prompt_tokens=c.prompt_tokens, cached_tokens=c.cached_tokens,
            client_decode_tps=fid.client_tps, server_decode_tps=fid.server_tps,
            server_tps_source=fid.server_source, decode_diff_pct=fid.diff_pct,
            fidelity_flagged=fid.flagged, finish_reason=c.finish_reason, attempts=c.attempts,
        )
