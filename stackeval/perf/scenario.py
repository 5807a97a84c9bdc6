"""Perf scenarios on a running stack: single stream, a concurrency level, cold start.

Each takes an optional ``pedantic`` runner with pytest-benchmark's signature, so the eval times
rounds through ``benchmark.pedantic`` while a plain script gets the same loop without pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackeval.client import StreamingClient
from stackeval.config import PerfSettings
from stackeval.errors import StackError
from stackeval.perf.load import LoadGenerator, RoundRunner, rounds_for
from stackeval.perf.prompts import PromptFactory
from stackeval.perf.record import PerfRecord, RunContext
from stackeval.perf.stats import LevelStats, summarize
from stackeval.records import Completion
from stackeval.sampling import Sampling
from stackeval.stack.base import Endpoint, Stack

Pedantic = Callable[..., Any]


@dataclass(frozen=True)
class Level:
    """One scenario's records and their aggregate."""

    context: RunContext
    records: tuple[PerfRecord, ...]
    stats: LevelStats

    @property
    def errors(self) -> list[str]:
        """Errors of failed requests."""
        return [r.error for r in self.records if r.error]


@dataclass(frozen=True)
class ColdStart:
    """One unload-load cycle: time to healthy, then the first request."""

    model: str
    round: int
    load_s: float | None  # spawn to healthy, as the stack measured it
    acquire_s: float  # the whole acquire() call
    first: Completion

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"model": self.model, "round": self.round, "load_s": self.load_s,
                "acquire_s": self.acquire_s, "first_ttft_s": self.first.ttft_s,
                "first_e2e_s": self.first.e2e_s, "first_prompt_tokens": self.first.prompt_tokens,
                "first_output_tokens": self.first.output_tokens,
                "first_cached_tokens": self.first.cached_tokens}


def _plain(target: Callable[..., Any], setup: Callable[[], Any] | None = None, rounds: int = 1,
           warmup_rounds: int = 0, iterations: int = 1) -> Any:
    """pytest-benchmark's pedantic loop without the timing, for use outside pytest."""
    result = None
    for _ in range(warmup_rounds + rounds):
        args, kwargs = setup() if setup else ((), {})
        result = target(*args, **kwargs)
    return result


def endpoint_for(stack: Stack, model: str, kind: str) -> Endpoint:
    """The direct (inference server) endpoint of a model, or its gateway endpoint when asked
    for or when the stack exposes no server directly (external endpoints)."""
    direct = stack.direct_endpoint(model) if kind == "direct" else None
    return direct if direct is not None else stack.endpoint(model)


def direct_endpoints(stack: Stack, model: str) -> list[Endpoint]:
    """Every replica of the model's server (requests are spread over them), else the gateway."""
    many = getattr(stack, "direct_endpoints", None)
    return many(model) if many is not None else [endpoint_for(stack, model, "direct")]


def slots_of(stack: Stack) -> int | None:
    """Request slots of one model across its server replicas, when the stack knows them."""
    facts = stack.describe()
    value = facts.get("parallel")
    return int(value) * int(facts.get("replicas") or 1) if value is not None else None


def run_level(stack: Stack, client: StreamingClient, model: str, *, scenario: str,
              endpoint_kind: str, concurrency: int, settings: PerfSettings, run_id: str,
              seed: int = 1234, temperature: float = 0.0,
              pedantic: Pedantic | None = None) -> Level:
    """Warm-up plus measured rounds of ``concurrency`` streams; ``scenario`` picks the prompts
    (``sweep`` uses short ones)."""
    stack.acquire(model)
    served = stack.served(model)
    shape = Sampling(settings.perf_max_tokens, temperature, seed, fixed_length=True)
    endpoint = endpoint_for(stack, model, endpoint_kind)
    generator = LoadGenerator(
        client, direct_endpoints(stack, model) if endpoint.kind == "direct" else endpoint, shape,
        "completion" if served.kind == "base" else "chat")
    prompts = PromptFactory("short" if scenario == "sweep" else scenario, seed,
                            tag=f"{scenario}-{endpoint_kind}-c{concurrency}")
    runner = RoundRunner(generator, prompts, concurrency)
    rounds = rounds_for(settings.perf_requests, concurrency)
    (pedantic or _plain)(runner, setup=runner.setup, rounds=rounds,
                         warmup_rounds=settings.perf_warmup, iterations=1)
    ctx = RunContext(run_id, model, served.sha256, scenario, endpoint.kind, concurrency,
                     slots_of(stack), settings.perf_max_tokens, shape.fixed_length)
    records = tuple(rec for i, rnd in enumerate(runner.measured(rounds))
                    for rec in rnd.records(ctx, i))
    return Level(ctx, records, summarize(records, settings.slo))


def can_reload(stack: Stack) -> bool:
    """True when the stack loads models itself and reports load times (embedded, lazily)."""
    return isinstance(getattr(stack, "load_times", None), dict) and not (
        getattr(stack, "eager", False) or getattr(stack, "_attached", False))


def cold_start(stack: Stack, client: StreamingClient, model: str, *, settings: PerfSettings,
               rounds: int = 2, seed: int = 1234, pedantic: Pedantic | None = None
               ) -> list[ColdStart]:
    """Unload, load and send the first request, ``rounds`` times; each round is timed whole."""
    if not can_reload(stack):
        raise StackError(f"the {stack.profile} stack does not load models on demand here; "
                         "cold start cannot be measured")
    load_times: dict[str, float] = stack.load_times  # type: ignore[attr-defined]
    prompts = PromptFactory("short", seed, tag="cold")
    shape = Sampling(settings.perf_max_tokens, 0.0, seed, fixed_length=True)
    kind = "completion" if stack.served(model).kind == "base" else "chat"
    done: list[ColdStart] = []

    def cycle() -> ColdStart:
        stack.release(model)
        load_times.pop(model, None)
        t0 = time.perf_counter()
        stack.acquire(model)
        acquire_s = time.perf_counter() - t0
        generator = LoadGenerator(client, endpoint_for(stack, model, "direct"), shape, kind)
        first = generator.send(prompts.take(1)[0])
        result = ColdStart(model, len(done), load_times.get(model), acquire_s, first)
        done.append(result)
        return result

    (pedantic or _plain)(cycle, rounds=rounds, warmup_rounds=0, iterations=1)
    if done and done[-1].load_s is None:
        raise StackError(f"{model} was not reloaded: release() kept it loaded")
    return done

