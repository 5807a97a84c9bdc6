"""Load generation: one request at a time, or rounds of N concurrent streams, over threads.

Each round starts its N requests together (a barrier; the client's clock starts after it) and
ends when the last one finishes, so a round's wall time is what N simultaneous users see.
With fixed output lengths every stream of a round ends at about the same time, which keeps
rounds close to a steady closed loop. The server's slots bound real concurrency: beyond them,
requests wait server-side, which shows as TTFT and ``server_wait_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from stackeval.client import StreamingClient
from stackeval.errors import ClientError
from stackeval.perf.prompts import Prompt, PromptFactory
from stackeval.perf.record import PerfRecord, RunContext
from stackeval.records import Completion
from stackeval.sampling import Sampling
from stackeval.stack.base import Endpoint

log = logging.getLogger(__name__)

Result = Completion | ClientError


class LoadGenerator:
    """Sends perf requests to an endpoint in the form the model understands.

    Given several endpoints (a model's server replicas), requests take them in turn.
    """

    def __init__(self, client: StreamingClient, endpoint: Endpoint | Sequence[Endpoint],
                 shape: Sampling, prompt_format: str = "chat") -> None:
        if prompt_format not in ("chat", "completion"):
            raise ValueError(f"prompt_format must be chat or completion, not {prompt_format!r}")
        self.client = client
        self.endpoints = [endpoint] if isinstance(endpoint, Endpoint) else list(endpoint)
        self.endpoint = self.endpoints[0]
        self.shape = shape
        self.prompt_format = prompt_format
        self._sent = 0
        self._lock = threading.Lock()

    def send(self, prompt: Prompt) -> Completion:
        """One streamed request; ClientError on infrastructure failure."""
        with self._lock:
            index, self._sent = self._sent, self._sent + 1
        body = self.shape.body(index)
        endpoint = self.endpoints[index % len(self.endpoints)]
        if self.prompt_format == "completion":
            return self.client.complete(endpoint, prompt.text, **body)
        return self.client.chat(endpoint, prompt.messages, **body)

    def round(self, prompts: Sequence[Prompt]) -> list[Result]:
        """All prompts at once, one thread each; failures come back in place, not raised."""
        if len(prompts) == 1:
            return [self._guarded(prompts[0], None)]
        barrier = threading.Barrier(len(prompts))
        with ThreadPoolExecutor(len(prompts), thread_name_prefix="stackeval-load") as pool:
            return list(pool.map(lambda p: self._guarded(p, barrier), prompts))

    def _guarded(self, prompt: Prompt, barrier: threading.Barrier | None) -> Result:
        if barrier is not None:
            barrier.wait()
        try:
            return self.send(prompt)
        except ClientError as exc:
            log.warning("perf request %s failed: %s", prompt.id, exc)
            return exc


@dataclass(frozen=True)
class Round:
    """One round's prompts and what came back, in order."""

    prompts: tuple[Prompt, ...]
    results: tuple[Result, ...]

    def records(self, ctx: RunContext, number: int) -> list[PerfRecord]:
        """One record per request of this round (``number`` counts measured rounds from 0)."""
        return [PerfRecord.of(ctx, number, i, p.id, r)
                for i, (p, r) in enumerate(zip(self.prompts, self.results, strict=True))]


class RoundRunner:
    """Runs rounds of ``concurrency`` requests and keeps them; the callable pytest-benchmark times.

    ``benchmark.pedantic(runner, setup=runner.setup, rounds=R, warmup_rounds=W)`` calls
    ``setup`` for fresh prompts before each round; :meth:`measured` drops the warm-up rounds.
    Without pytest, :meth:`run` does the same loop.
    """

    def __init__(self, generator: LoadGenerator, prompts: PromptFactory, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.generator = generator
        self.prompts = prompts
        self.concurrency = concurrency
        self.rounds: list[Round] = []

    def setup(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Arguments for the next round: fresh prompts (pytest-benchmark's ``setup`` hook)."""
        return (self.prompts.take(self.concurrency),), {}

    def __call__(self, prompts: Sequence[Prompt]) -> Round:
        done = Round(tuple(prompts), tuple(self.generator.round(prompts)))
        self.rounds.append(done)
        return done

    def run(self, rounds: int, warmup_rounds: int = 0) -> list[Round]:
        """Run warm-up then measured rounds without pytest-benchmark."""
        for _ in range(warmup_rounds + rounds):
            args, _ = self.setup()
            self(*args)
        return self.measured(rounds)

    def measured(self, rounds: int) -> list[Round]:
        """The last ``rounds`` rounds (fewer if the benchmark was disabled and ran once)."""
        return self.rounds[max(0, len(self.rounds) - rounds):]


def rounds_for(requests: int, concurrency: int) -> int:
    """Rounds needed for at least ``requests`` requests at ``concurrency`` streams."""
    return max(1, -(-requests // concurrency))
