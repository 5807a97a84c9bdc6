"""Open-loop arrivals and the knee search, without a model: schedules, dispatch, fake servers."""

from __future__ import annotations

import heapq
import json
import math
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from stackeval.client import StreamingClient
from stackeval.config import PerfSettings
from stackeval.perf.arrivals import KneeStep, find_knee, run_open_loop, schedule
from stackeval.perf.load import LoadGenerator
from stackeval.perf.openloop import verdict
from stackeval.perf.prompts import PromptFactory
from stackeval.perf.record import PerfRecord, RunContext
from stackeval.perf.summary import knee_lines, perf_rows
from stackeval.sampling import Sampling
from stackeval.stack.base import Endpoint
from stackeval.stats import percentile

STREAM = (Path(__file__).parent / "transcripts" / "llamacpp_chat_stream.sse").read_bytes()
EP = Endpoint("http://127.0.0.1:9/v1", "smollm2:135m", None, "direct")


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


@pytest.mark.parametrize("rate", [0.5, 4.0, 50.0])
def test_poisson_schedule_has_exponential_gaps_at_the_rate(rate):
    n = 4001
    g = gaps(schedule(rate, n, "poisson", seed=7))
    mean, sd = statistics.fmean(g), statistics.stdev(g)
    se = (1 / rate) / math.sqrt(len(g))  # an exponential's sd equals its mean
    assert abs(mean - 1 / rate) < 4 * se
    assert abs(sd / mean - 1) < 0.1  # coefficient of variation 1 (constant would be 0)
    # Counts per window of 1/rate seconds are Poisson(1): variance equals mean.
    t = schedule(rate, n, "poisson", seed=7)
    counts = [0] * int(t[-1] * rate)
    for x in t:
        if int(x * rate) < len(counts):
            counts[int(x * rate)] += 1
    assert statistics.fmean(counts) == pytest.approx(1, abs=0.1)
    assert statistics.pvariance(counts) == pytest.approx(1, abs=0.15)


def test_constant_schedule_is_even_and_schedules_are_seeded():
    assert schedule(4, 5, "constant") == [0, 0.25, 0.5, 0.75, 1.0]
    assert schedule(2, 10, seed=1) == schedule(2, 10, seed=1) != schedule(2, 10, seed=2)
    with pytest.raises(ValueError):
        schedule(0, 3)
    with pytest.raises(ValueError):
        schedule(1, 3, "bursty")


class SlotServer:
    """A fake server with ``slots`` request slots and a fixed service time: its capacity is
    slots / service_s requests per second; beyond it requests queue for a slot."""

    def __init__(self, slots: int = 1, service_s: float = 0.0) -> None:
        self.service_s = service_s
        self.slots = threading.BoundedSemaphore(slots)
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.arrivals.append(time.perf_counter())
        json.loads(request.content)
        with self.slots:
            time.sleep(self.service_s)
        return httpx.Response(200, content=STREAM)


def generator(server: SlotServer) -> LoadGenerator:
    client = StreamingClient(transport=httpx.MockTransport(server), retries=0)
    return LoadGenerator(client, EP, Sampling(max_tokens=48, seed=1234, fixed_length=True), "chat")


def test_dispatch_follows_the_schedule_within_sampling_error():
    rate, n = 40.0, 81
    server = SlotServer(slots=64)
    offsets = schedule(rate, n, "poisson", seed=3)
    run = run_open_loop(generator(server), PromptFactory("short").take(n), offsets,
                        rate_rps=rate)
    sent = [s.sent_s for s in run.sent]
    measured = gaps(sent)
    se = (1 / rate) / math.sqrt(len(measured))
    assert abs(statistics.fmean(measured) - 1 / rate) < 4 * se + 0.002
    assert abs(statistics.fmean(gaps(sorted(server.arrivals))) - 1 / rate) < 4 * se + 0.002
    # Went when due: no drift behind the schedule (the bound leaves room for a busy CI host).
    assert max(s.late_s for s in run.sent) < 0.1
    assert all(not isinstance(s.result, Exception) for s in run.sent)


def test_an_open_loop_does_not_wait_for_slow_answers():
    server = SlotServer(slots=16, service_s=0.3)
    n = 10
    t0 = time.perf_counter()
    run = run_open_loop(generator(server), PromptFactory("short").take(n),
                        schedule(50, n, "constant"))
    assert max(server.arrivals) - t0 < 0.3  # all ten sent before the first came back
    assert run.max_in_flight >= 5


def _records(run, rate: float) -> tuple[PerfRecord, ...]:
    ctx = RunContext("r", "m", None, "rate", "direct", 0, 1, 48, True)
    return tuple(PerfRecord.of(ctx, 0, i, s.prompt.id, s.result) for i, s in enumerate(run.sent))


def test_knee_on_a_fake_http_server_with_known_capacity():
    # 2 slots x 50 ms: capacity 40 req/s. Half of it holds the SLO, four times it cannot.
    settings = PerfSettings(slo_ttft_ms=120, slo_tpot_ms=1000, arrival="constant",
                            rate_requests=16, knee_refine=0)
    server = SlotServer(slots=2, service_s=0.05)
    gen = generator(server)

    def measure(rate: float) -> KneeStep:
        offsets = schedule(rate, settings.rate_requests, "constant")
        run = run_open_loop(gen, PromptFactory("short", tag=f"{rate}").take(len(offsets)),
                            offsets, rate_rps=rate)
        return verdict(_records(run, rate), settings, rate)

    knee = find_knee(measure, [10, 20, 160], refine=0)
    assert knee.rate_rps == 20 and knee.bounded
    assert [s.meets_slo for s in knee.steps] == [True, True, False]
    assert "TTFT p90" in knee.steps[-1].detail


def simulated(capacity_slots: int, service_s: float, slo_s: float, n: int = 200):
    """A deterministic queue (c slots, fixed service time) fed a constant schedule."""
    def measure(rate: float) -> KneeStep:
        free = [0.0] * capacity_slots
        ttft = []
        for t in schedule(rate, n, "constant"):
            start = max(t, heapq.heappop(free))
            heapq.heappush(free, start + service_s)
            ttft.append(start + service_s - t)
        p90 = percentile(ttft, 90)
        return KneeStep(rate, p90 <= slo_s, f"p90 {p90:.3f}")
    return measure


def test_knee_search_brackets_and_bisects_to_the_capacity():
    capacity = 2 / 0.05  # 40 req/s
    measure = simulated(2, 0.05, slo_s=0.1)
    knee = find_knee(measure, [5, 10, 20, 80], refine=6)
    assert knee.bounded and 0.95 * capacity <= knee.rate_rps <= capacity
    assert [s.rate_rps for s in knee.steps][:4] == [5, 10, 20, 80]  # stops at the first failure
    assert "broken at" in knee.describe()
    assert find_knee(measure, [1, 2]).describe().startswith("at least 2")
    low = find_knee(measure, [100, 200])
    assert low.rate_rps is None and low.describe().startswith("below 100")


def test_rate_levels_show_in_the_perf_table_with_the_knee():
    summary = {"record": "summary", "model": "m", "scenario": "rate", "endpoint_kind": "direct",
               "concurrency": 0, "rate_rps": 2.0, "arrival": "poisson", "slots": 2,
               "completed": 24, "requests": 24, "ttft_s": {"p50": 0.1, "p90": 0.2, "p99": 0.3},
               "tpot_s": {"p50": 0.02}, "itl_s": {"p50": 0.02, "p99": 0.04},
               "e2e_s": {"p50": 1.5}, "stream_output_tps": {"p50": 40.0},
               "aggregate_output_tps": 120.0, "request_throughput_rps": 1.9,
               "goodput_fraction": 1.0, "goodput_rps": 1.9, "decode_tps": {"p50": 50.0},
               "server_decode_tps": {"p50": 51.0}, "decode_diff_pct": {"n": 0},
               "fidelity_flagged": 0}
    knee = {"record": "knee", "model": "m", "knee_rps": 2.0, "describe": "2 req/s (...)",
            "arrival": "poisson", "slo_percentile": 90, "slo_ttft_ms": 1000, "slo_tpot_ms": 50,
            "requests_per_rate": 24}
    rows = perf_rows([summary, knee])
    assert rows[1][1:3] == ["rate", "2/s poisson"]
    (line,) = knee_lines([summary, knee])
    assert "open-loop knee 2 req/s" in line and "goodput there 1.90 req/s" in line
