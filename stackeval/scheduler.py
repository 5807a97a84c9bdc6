"""Concurrent asks: each model's work runs in a bounded pool, results are fetched by key.

A model server decodes several requests at once (slots x replicas), while tests run one at a
time. So when a model's first test starts, the work of all its later tests is submitted here;
each test then waits for its own result, and test ids, grading, records and reports stay per
test. Nothing here knows pytest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass
class ModelProgress:
    """How far a model's submitted work has come.

    The clock runs only while work is pending: between a model's coding and its Q&A the perf
    tests run with nothing submitted, and that time would skew the rate and the time left.
    """

    submitted: int = 0
    done: int = 0
    output_tokens: int = 0
    busy_s: float = 0.0  # closed spans with work pending
    busy_since: float | None = None  # start of the open span, None when idle

    def add(self) -> None:
        """One more piece of work submitted (call under the pool's lock)."""
        if self.busy_since is None:
            self.busy_since = time.monotonic()
        self.submitted += 1

    def finish(self, tokens: int) -> None:
        """One piece of work done (call under the pool's lock)."""
        self.done += 1
        self.output_tokens += tokens
        if self.done == self.submitted and self.busy_since is not None:
            self.busy_s += time.monotonic() - self.busy_since
            self.busy_since = None

    @property
    def elapsed(self) -> float:
        """Seconds with work pending."""
        since = self.busy_since
        return self.busy_s + (time.monotonic() - since if since is not None else 0.0)

    def line(self, model: str) -> str:
        """One progress line: done/total, aggregate tokens/s, estimated time left."""
        elapsed = max(self.elapsed, 1e-9)
        rate = self.output_tokens / elapsed
        left = (elapsed / self.done * (self.submitted - self.done)) if self.done else None
        eta = f"~{_clock(left)} left" if left is not None else "starting"
        return (f"{model}: {self.done}/{self.submitted} answered, {rate:.1f} output tok/s, "
                f"{_clock(elapsed)} asking, {eta}")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


class AskPool:
    """Bounded thread pools per model; work submitted under a key, its result taken once."""

    def __init__(self, concurrency: Callable[[str], int]) -> None:
        self._concurrency = concurrency
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._futures: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()
        self.progress: dict[str, ModelProgress] = {}
        self.closing = threading.Event()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._futures

    def submit(self, model: str, key: Hashable, work: Callable[[], Any],
               tokens: Callable[[Any], int] | None = None) -> None:
        """Queue ``work`` for ``model`` (FIFO, at most the model's concurrency at once)."""
        with self._lock:
            if key in self._futures or self.closing.is_set():
                return
            pool = self._pools.get(model)
            if pool is None:
                workers = max(1, self._concurrency(model))
                pool = self._pools[model] = ThreadPoolExecutor(
                    workers, thread_name_prefix=f"ask-{model}")
            progress = self.progress.setdefault(model, ModelProgress())
            progress.add()

        def run() -> Any:
            used = 0
            try:
                result = work()
                used = tokens(result) if tokens else 0
                return result
            finally:  # failed work is finished too: the progress line must not wait for it
                with self._lock:
                    progress.finish(used)

        self._futures[key] = pool.submit(run)

    def result(self, key: Hashable) -> Any:
        """Wait for the work submitted under ``key`` and return (or raise) its outcome."""
        return self._futures.pop(key).result()

    def close(self) -> None:
        """Drop work not yet started; work in flight finishes on its own (its server may stop)."""
        self.closing.set()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
