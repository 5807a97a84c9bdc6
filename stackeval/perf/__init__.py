"""Performance measurement: seeded load, per-request records, percentiles, goodput, fidelity.

``LoadGenerator`` sends fixed-length requests through a ``StreamingClient``, alone or in rounds
of concurrent streams; ``PerfRecord`` keeps what each request did; ``summarize`` turns one
test's records into ``LevelStats``; ``RunMonitor`` samples telemetry for a whole run and slices
per-test windows. Works without pytest; ``stackeval.plugin.perf`` is the pytest side;
its settings are ``stackeval.config.PerfSettings``.
"""

from __future__ import annotations

from stackeval.perf.fidelity import THRESHOLD_PCT, Fidelity, check
from stackeval.perf.load import LoadGenerator, Round, RoundRunner, rounds_for
from stackeval.perf.monitor import RunMonitor, Window
from stackeval.perf.prompts import Prompt, PromptFactory
from stackeval.perf.record import PerfRecord, RunContext
from stackeval.perf.scenario import ColdStart, Level, cold_start, run_level
from stackeval.perf.stats import SLO, Dist, LevelStats, summarize

__all__ = [
    "SLO",
    "THRESHOLD_PCT",
    "ColdStart",
    "Dist",
    "Fidelity",
    "Level",
    "LevelStats",
    "LoadGenerator",
    "PerfRecord",
    "Prompt",
    "PromptFactory",
    "Round",
    "RoundRunner",
    "RunContext",
    "RunMonitor",
    "Window",
    "check",
    "cold_start",
    "rounds_for",
    "run_level",
    "summarize",
]
