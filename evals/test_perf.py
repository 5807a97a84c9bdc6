"""Performance evals: cold start, single-stream latency, a concurrency sweep and (with
``--rates``) an open-loop rate sweep that finds the knee, per model.

Requests go to the inference server directly (llama.cpp keeps its ``timings`` there, so every
request's client-measured decode rate is checked against the server's); one short-prompt case
goes through the gateway to show what it adds. Stacks that expose no server directly (external
endpoints) are measured through their gateway. Output length is fixed (ignore_eos +
min_tokens), so short answers cannot inflate tokens/s. Requests are measured in fixtures: a
harness failure is a test *error*; a broken measurement (lengths not held) a *failure*.
"""

from __future__ import annotations

import warnings

import pytest

from stackeval import attach
from stackeval.errors import ClientError
from stackeval.perf.openloop import RateLevel, knee_record, rate_sweep
from stackeval.perf.scenario import ColdStart, Level, can_reload, cold_start, run_level
from stackeval.plugin import session_settings

pytestmark = pytest.mark.perf

# id -> (prompt scenario, endpoint kind)
SINGLE = {"short": ("short", "direct"), "long": ("long", "direct"),
          "gateway-short": ("short", "gateway")}
COLD_ROUNDS = 2


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over scenarios / concurrency levels; the plugin adds the models
    (``smollm2:135m-c4``)."""
    if "concurrency" in metafunc.fixturenames:
        levels = session_settings(metafunc.config).perf.concurrency
        metafunc.parametrize("concurrency", levels, ids=[f"c{c}" for c in levels])
    elif "single" in metafunc.fixturenames:
        metafunc.parametrize("single", list(SINGLE))


def _measure(request: pytest.FixtureRequest, benchmark, model: str, scenario: str, kind: str,
             concurrency: int) -> Level:
    """Run one scenario under benchmark.pedantic; save, attach and return its records."""
    ps, settings, stack, client, writer = (request.getfixturevalue(name) for name in (
        "perf_settings", "stackeval_settings", "stack", "client", "record_writer"))
    benchmark.group = f"{model} {scenario if scenario != 'sweep' else 'concurrency'}"
    attach.labels(model=model, suite="perf", scenario=scenario)
    if kind == "gateway" and stack.direct_endpoint(model) is None:
        pytest.skip(f"the {stack.profile} stack has no direct endpoint: every scenario already "
                    "goes through the gateway")
    level = run_level(stack, client, model, scenario=scenario, endpoint_kind=kind,
                      concurrency=concurrency, settings=ps, run_id=settings.run_id,
                      seed=settings.seed, temperature=settings.temperature,
                      pedantic=benchmark.pedantic)
    for rec in level.records:
        writer.write("perf", {"record": "request", **rec.to_dict()})
    summary = {"record": "summary", "run_id": settings.run_id, "sha256": level.context.sha256,
               "max_tokens": level.context.max_tokens, **level.stats.to_dict()}
    writer.write("perf", summary)
    benchmark.extra_info.update(
        model=model, sha256=level.context.sha256, scenario=scenario,
        endpoint=level.context.endpoint_kind,
        concurrency=concurrency, slots=level.context.slots, max_tokens=ps.perf_max_tokens,
        summary=level.stats.to_dict(), requests=[r.to_dict() for r in level.records])
    attach.as_json("perf summary", level.stats.to_dict())
    attach.as_json("perf requests", [r.to_dict() for r in level.records])
    if level.errors:
        raise ClientError(f"{len(level.errors)} of {len(level.records)} requests failed; first: "
                          f"{level.errors[0]}")
    return level


@pytest.fixture
def cold(request: pytest.FixtureRequest, benchmark, model: str, perf_settings,
         stackeval_settings, record_writer) -> list[ColdStart]:
    """Unload and reload the model's server, timing load and the first request."""
    stack = request.getfixturevalue("stack")
    if not can_reload(stack):
        pytest.skip(f"the {stack.profile} stack keeps models loaded; no cold start to measure")
    benchmark.group = f"{model} cold start"
    attach.labels(model=model, suite="perf", scenario="cold")
    client = request.getfixturevalue("client")
    starts = cold_start(stack, client, model, settings=perf_settings, rounds=COLD_ROUNDS,
                        seed=stackeval_settings.seed, pedantic=benchmark.pedantic)
    sha = stack.served(model).sha256
    rows = [{"record": "cold_start", "run_id": stackeval_settings.run_id, "sha256": sha,
             **s.to_dict()} for s in starts]
    for row in rows:
        record_writer.write("perf", row)
    benchmark.extra_info.update(model=model, sha256=sha, scenario="cold", cold_starts=rows)
    attach.as_json("cold starts", rows)
    return starts


@pytest.fixture
def single_level(request: pytest.FixtureRequest, benchmark, model: str, single: str) -> Level:
    """One stream at a time: short or long prompts, direct or through the gateway."""
    scenario, kind = SINGLE[single]
    return _measure(request, benchmark, model, scenario, kind, 1)


@pytest.fixture
def sweep_level(request: pytest.FixtureRequest, benchmark, model: str, concurrency: int) -> Level:
    """``concurrency`` simultaneous streams of short prompts, straight to the server."""
    return _measure(request, benchmark, model, "sweep", "direct", concurrency)


@pytest.fixture
def rate_levels(request: pytest.FixtureRequest, model: str, perf_settings, stackeval_settings,
                record_writer) -> list[RateLevel]:
    """Open-loop arrivals at each ``--rates`` level up to the knee; every level is saved as it
    ends. Opt-in: skipped without ``--rates``."""
    ps, settings, writer = perf_settings, stackeval_settings, record_writer
    if not ps.rates:
        pytest.skip("no --rates given: the open-loop rate sweep is opt-in (--rates 0.5,1,2,4)")
    stack = request.getfixturevalue("stack")
    attach.labels(model=model, suite="perf", scenario="rate")
    sha = stack.served(model).sha256

    def save(level: RateLevel) -> None:
        for rec, extra in zip(level.records, level.extras(), strict=True):
            writer.write("perf", {"record": "request", **rec.to_dict(), **extra})
        writer.write("perf", {"record": "summary", "run_id": settings.run_id, "sha256": sha,
                              "max_tokens": ps.perf_max_tokens, **level.summary()})

    knee, levels = rate_sweep(stack, request.getfixturevalue("client"), model, settings=ps,
                              run_id=settings.run_id, seed=settings.seed,
                              temperature=settings.temperature, on_level=save)
    row = knee_record(model, settings.run_id, knee, ps, sha)
    writer.write("perf", row)
    attach.as_json("open-loop knee", row)
    attach.as_json("open-loop levels", [level.summary() for level in levels])
    return levels


def _check(level: Level) -> None:
    """Lengths must hold (else tokens/s lies); fidelity gaps are warned about, not failed."""
    s = level.stats
    short = [f"{r.prompt_id}: {r.output_tokens} tokens ({r.finish_reason})"
             for r in level.records if r.length_ok is False]
    assert not short, (f"{len(short)} of {s.completed} requests returned fewer than "
                       f"{level.context.max_tokens} tokens although a fixed length was asked; "
                       "tokens/s would be inflated:\n" + "\n".join(short))
    if s.fidelity_flagged:
        warnings.warn(f"{s.model} {s.scenario} c={s.concurrency}: {s.fidelity_flagged} requests "
                      f"where client and server decode tokens/s differ by more than 5% (max "
                      f"{s.decode_diff_pct.max:+.1f}%)", stacklevel=2)


def test_cold_start(cold: list[ColdStart]) -> None:
    """The server loads and answers its first request."""
    assert all(s.load_s is not None and s.first.output_tokens for s in cold)


def test_single_stream(single_level: Level) -> None:
    """Single-stream latency and decode rate on short and long prompts."""
    _check(single_level)


def test_concurrency(sweep_level: Level) -> None:
    """TTFT/ITL/TPOT/E2E percentiles, throughput and goodput at one concurrency level."""
    _check(sweep_level)


def test_rate_sweep(rate_levels: list[RateLevel]) -> None:
    """Each offered rate got its requests with the fixed length; the knee is in perf.jsonl."""
    for level in rate_levels:
        short = [r.prompt_id for r in level.records if r.length_ok is False]
        assert not short, (f"{level.run.rate_rps:g} req/s: {len(short)} requests came back "
                           "shorter than the fixed length; tokens/s would be inflated")
