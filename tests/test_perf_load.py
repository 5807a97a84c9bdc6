"""Load generation without a server: seeded prompts, request bodies, concurrent rounds."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from stackeval.client import StreamingClient
from stackeval.errors import ClientError
from stackeval.perf.load import LoadGenerator, RoundRunner, rounds_for
from stackeval.perf.prompts import PromptFactory
from stackeval.perf.record import RunContext
from stackeval.sampling import Sampling
from stackeval.stack.base import Endpoint

STREAM = (Path(__file__).parent / "transcripts" / "llamacpp_chat_stream.sse").read_bytes()
EP = Endpoint("http://127.0.0.1:9/v1", "smollm2:135m", None, "direct")


class FakeServer:
    """An httpx transport that replays a llama.cpp stream after ``delay_s`` and logs bodies."""

    def __init__(self, delay_s: float = 0.0, fail_if: str = "") -> None:
        self.delay_s = delay_s
        self.fail_if = fail_if
        self.bodies: list[dict] = []
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        body = json.loads(request.content)
        time.sleep(self.delay_s)
        with self._lock:
            self.bodies.append(body)
            self.spans.append((t0, time.perf_counter()))
        if self.fail_if and self.fail_if in json.dumps(body):
            return httpx.Response(400, json={"error": "bad request"})
        return httpx.Response(200, content=STREAM)


def generator(server: FakeServer, fmt: str = "chat") -> LoadGenerator:
    client = StreamingClient(transport=httpx.MockTransport(server), retries=0)
    return LoadGenerator(client, EP, Sampling(max_tokens=48, seed=7, fixed_length=True), fmt)


def test_prompts_are_seeded_distinct_and_nonce_first():
    a, b = PromptFactory("short", seed=1), PromptFactory("short", seed=1)
    pa, pb = a.take(5), b.take(5)
    assert pa == pb  # same seed, same prompts
    assert len({p.system for p in pa}) == 5 and len({p.id for p in pa}) == 5
    # The nonce opens the system message, so no two prompts share more than a few characters.
    assert len({p.system[:4] for p in pa}) == 5
    assert PromptFactory("short", seed=2).prompt(0) != pa[0]
    long = PromptFactory("long", seed=1).prompt(0)
    assert len(long.user.split()) > 250 > 20 > len(pa[0].user.split())
    assert a.take(1)[0] == a.prompt(5)  # the stream continues where it left off
    with pytest.raises(ValueError):
        PromptFactory("medium")


def test_request_body_asks_for_a_fixed_length_and_varies_the_seed():
    server = FakeServer()
    gen = generator(server)
    for p in PromptFactory("short").take(2):
        gen.send(p)
    first, second = server.bodies
    assert first["max_tokens"] == 48 and first["ignore_eos"] is True
    assert first["min_tokens"] == 48 and first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    assert (first["seed"], second["seed"]) == (7, 8)
    assert first["messages"][0]["role"] == "system"
    assert "ignore_eos" not in Sampling(max_tokens=64, seed=1234).body()


def test_completion_format_for_base_models():
    server = FakeServer()
    generator(server, "completion").send(PromptFactory("short").prompt(0))
    assert server.bodies[0]["prompt"].endswith("Answer:") and "messages" not in server.bodies[0]
    with pytest.raises(ValueError):
        LoadGenerator(StreamingClient(), EP, Sampling(64), "speech")


def test_a_round_runs_its_requests_concurrently():
    server = FakeServer(delay_s=0.2)
    runner = RoundRunner(generator(server), PromptFactory("short"), concurrency=4)
    (rnd,) = runner.run(rounds=1)
    starts, ends = zip(*server.spans, strict=True)
    assert max(starts) < min(ends)  # all four were in flight together
    assert len(rnd.results) == 4 and all(r.output_tokens == 48 for r in rnd.results)


def test_failures_come_back_in_place_and_become_error_records():
    prompts = PromptFactory("short", tag="t")
    server = FakeServer(fail_if=prompts.prompt(1).id)
    runner = RoundRunner(generator(server), prompts, concurrency=3)
    (rnd,) = runner.run(rounds=1)
    assert isinstance(rnd.results[1], ClientError)
    ctx = RunContext("r", "m", None, "sweep", "direct", 3, 2, 48, True)
    recs = rnd.records(ctx, 0)
    assert [r.ok for r in recs] == [True, False, True]
    assert "HTTP 400" in recs[1].error and recs[1].prompt_id == prompts.prompt(1).id


def test_warmup_rounds_are_dropped_and_a_disabled_benchmark_keeps_its_one_round():
    runner = RoundRunner(generator(FakeServer()), PromptFactory("short"), concurrency=2)
    measured = runner.run(rounds=2, warmup_rounds=1)
    assert len(runner.rounds) == 3 and measured == runner.rounds[1:]
    ids = [p.id for r in runner.rounds for p in r.prompts]
    assert len(set(ids)) == 6  # warm-up prompts are not reused
    once = RoundRunner(generator(FakeServer()), PromptFactory("short"), concurrency=2)
    args, kwargs = once.setup()
    once(*args, **kwargs)  # what pytest-benchmark does with --benchmark-disable
    assert len(once.measured(4)) == 1


def test_rounds_for_covers_the_request_count():
    assert [rounds_for(8, c) for c in (1, 2, 4, 8, 16)] == [8, 4, 2, 1, 1]
    assert rounds_for(5, 2) == 3
    with pytest.raises(ValueError):
        RoundRunner(generator(FakeServer()), PromptFactory("short"), concurrency=0)


class FakeStack:
    """Just enough of a Stack for run_level: one model, optionally no direct endpoint."""

    profile = "fake"

    def __init__(self, direct: bool = True) -> None:
        self.direct = direct
        self.acquired: list[str] = []

    def acquire(self, model: str) -> None:
        self.acquired.append(model)

    def served(self, model: str):
        from stackeval.records import ServedModel

        return ServedModel(name=model, sha256="f00d")

    def describe(self) -> dict:
        return {"parallel": 2}

    def endpoint(self, model: str) -> Endpoint:
        return Endpoint("http://127.0.0.1:9/v1", model, "sk-x", "gateway")

    def direct_endpoint(self, model: str) -> Endpoint | None:
        return EP if self.direct else None


def test_run_level_records_and_summarizes_every_measured_request():
    from stackeval.config import PerfSettings
    from stackeval.perf.scenario import run_level

    server = FakeServer()
    client = StreamingClient(transport=httpx.MockTransport(server), retries=0)
    settings = PerfSettings(perf_requests=3, perf_warmup=1, perf_max_tokens=48)
    stack = FakeStack()
    level = run_level(stack, client, "m", scenario="sweep", endpoint_kind="direct",
                      concurrency=2, settings=settings, run_id="r1")
    assert stack.acquired == ["m"]
    assert len(server.bodies) == 6  # 1 warm-up round + 2 measured rounds of 2
    assert len(level.records) == 4 and {r.round for r in level.records} == {0, 1}
    assert all(r.slots == 2 and r.sha256 == "f00d" and r.length_ok for r in level.records)
    assert level.stats.completed == 4 and level.stats.endpoint_kind == "direct"
    assert server.bodies[0]["messages"][1]["content"].startswith("Explain")  # sweep: short

    gw = run_level(FakeStack(direct=False), client, "m", scenario="long", endpoint_kind="direct",
                   concurrency=1, settings=settings, run_id="r1")
    assert gw.context.endpoint_kind == "gateway"  # no direct server: measured via the gateway
    assert server.bodies[-1]["messages"][1]["content"].startswith("Document:")


def test_cold_start_needs_a_stack_that_loads_on_demand():
    from stackeval.config import PerfSettings
    from stackeval.errors import StackError
    from stackeval.perf.scenario import can_reload, cold_start

    assert not can_reload(FakeStack())
    with pytest.raises(StackError, match="cold start"):
        cold_start(FakeStack(), StreamingClient(), "m", settings=PerfSettings())
