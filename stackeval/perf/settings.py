"""Perf-run settings: declared once as options (flag, ini key, env var), resolved once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from stackeval.config import Option, resolve_values
from stackeval.errors import ConfigError
from stackeval.perf.stats import SLO


def _ints(value: str) -> tuple[int, ...]:
    return tuple(int(v) for v in value.split(",") if v.strip())


def _floats(value: str) -> tuple[float, ...]:
    return tuple(float(v) for v in value.split(",") if v.strip())


PERF_OPTIONS: tuple[Option, ...] = (
    Option("concurrency", (1, 2, 4, 8), "perf sweep: concurrent streams per level, "
           "comma-separated", _ints),
    Option("perf_requests", 8, "perf: measured requests per scenario and per concurrency level",
           int),
    Option("perf_warmup", 1, "perf: untimed warm-up rounds before each measured scenario/level",
           int),
    Option("perf_max_tokens", 64, "perf: output tokens per request, fixed (ignore_eos + "
           "min_tokens where the server supports them)", int),
    Option("slo_ttft_ms", 1000.0, "perf goodput: time-to-first-token objective in ms", float),
    Option("slo_tpot_ms", 50.0, "perf goodput: time-per-output-token objective in ms", float),
    Option("rates", (), "perf open-loop sweep: request rates (req/s), comma-separated; the knee "
           "is the highest meeting the SLOs (unset: no rate sweep)", _floats),
    Option("arrival", "poisson", "perf open-loop arrivals: poisson (exponential gaps) or "
           "constant (evenly spaced)"),
    Option("rate_requests", 24, "perf open-loop: requests sent at each rate", int),
    Option("slo_percentile", 90.0, "perf knee: the TTFT and TPOT percentile that must meet the "
           "SLOs", float),
    Option("knee_refine", 2, "perf knee: bisection steps between the last rate that met the SLOs "
           "and the first that did not", int),
    Option("telemetry_rate", 10.0, "telemetry samples per second around perf/qa/coding tests "
           "(0 turns telemetry off)", float),
)


@dataclass(frozen=True)
class PerfSettings:
    """What a perf run needs beyond the run settings."""

    concurrency: tuple[int, ...] = (1, 2, 4, 8)
    perf_requests: int = 8
    perf_warmup: int = 1
    perf_max_tokens: int = 64
    slo_ttft_ms: float = 1000.0
    slo_tpot_ms: float = 50.0
    telemetry_rate: float = 10.0
    rates: tuple[float, ...] = ()
    arrival: str = "poisson"
    rate_requests: int = 24
    slo_percentile: float = 90.0
    knee_refine: int = 2

    def __post_init__(self) -> None:
        if not self.concurrency or min(self.concurrency) < 1:
            raise ConfigError(f"--concurrency={self.concurrency!r}: give levels >= 1, e.g. 1,2,4,8")
        for name in ("perf_requests", "perf_max_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if self.perf_warmup < 0 or self.telemetry_rate < 0:
            raise ConfigError("--perf-warmup and --telemetry-rate cannot be negative")
        if any(r <= 0 for r in self.rates):
            raise ConfigError(f"--rates={self.rates!r}: give request rates above 0, e.g. 0.5,1,2")
        if self.arrival not in ("poisson", "constant"):
            raise ConfigError(f"--arrival={self.arrival!r}: choose poisson or constant")
        if self.rate_requests < 2 or self.knee_refine < 0:
            raise ConfigError("--rate-requests must be at least 2, --knee-refine at least 0")
        if not 0 < self.slo_percentile <= 100:
            raise ConfigError("--slo-percentile must be within (0, 100]")

    @property
    def slo(self) -> SLO:
        """The goodput objectives."""
        return SLO(ttft_ms=self.slo_ttft_ms, tpot_ms=self.slo_tpot_ms)

    @classmethod
    def resolve(cls, get: Callable[[Option], Any]) -> PerfSettings:
        """Build from ``get(option)`` (CLI, then ini), then ``STACKEVAL_*``, then defaults."""
        values = resolve_values(PERF_OPTIONS, get)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
