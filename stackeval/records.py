"""Typed, immutable records that flow from client to grader to reports.

Raw timestamps are stored; TTFT, ITL, TPOT and tokens/s are derived properties so a report
can recompute them from saved JSON.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from stackeval.stats import median


class Outcome(enum.StrEnum):
    """What became of one answer: a Q&A reply, or the program in a coding answer.

    Only PASS passes; only INFRA_ERROR is retried.
    """

    PASS = "pass"
    WRONG = "wrong_answer"
    TRUNCATED = "truncated"
    LOOP = "repetition_loop"  # stopped by the client's loop detector; never a pass
    CONTEXT_OVERFLOW = "context_overflow"
    INFRA_ERROR = "infrastructure_error"
    GRADER_ERROR = "grader_error"
    # what a coding answer's program came to (besides PASS and WRONG: ran, checks failed)
    RUNTIME_ERROR = "runtime_error"  # crashed, syntax error, non-zero exit
    TIMEOUT = "timeout"
    NO_CODE = "no_code"
    SANDBOX_VIOLATION = "sandbox_violation"  # hit a limit: memory, processes, files, network


class TokenSource(enum.StrEnum):
    """Where an output-token count came from."""

    USAGE = "server_usage"
    TOKENIZE = "server_tokenize"
    CHUNKS = "chunk_count"


@dataclass(frozen=True)
class ServedModel:
    """What was actually served under a model name."""

    name: str
    kind: str = "chat"  # chat | base
    file: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    quantization: str | None = None
    architecture: str | None = None
    context_size: int | None = None
    server: str | None = None  # e.g. "llama.cpp via xllamacpp 2026.10.11549"
    gateway: str | None = None  # e.g. "litellm 1.108.7"
    serving: dict[str, Any] | None = None  # replicas, slots and threads actually used

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Completion:
    """One streamed request as the client saw it, with raw perf_counter timestamps (seconds)."""

    model: str
    endpoint: str
    text: str
    reasoning: str = ""
    finish_reason: str | None = None
    t_start: float = 0.0  # after any client-side limiter
    t_first_token: float | None = None  # first content or reasoning chunk
    t_first_answer: float | None = None  # first content chunk after reasoning
    t_end: float = 0.0
    queue_wait_s: float = 0.0
    chunk_times: tuple[float, ...] = ()  # arrival time of each chunk carrying text
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    token_source: TokenSource = TokenSource.CHUNKS
    cached_tokens: int | None = None
    server_timings: dict[str, Any] | None = None  # llama.cpp "timings" / Ollama eval_* fields
    attempts: int = 1
    stop_reason: str | None = None  # the client stopped reading early (a repetition loop)

    @property
    def e2e_s(self) -> float:
        """End-to-end latency from request start to the last byte."""
        return self.t_end - self.t_start

    @property
    def ttft_s(self) -> float | None:
        """Time to the first chunk carrying content or reasoning text."""
        return None if self.t_first_token is None else self.t_first_token - self.t_start

    @property
    def ttfa_s(self) -> float | None:
        """Time to the first answer (non-reasoning) chunk."""
        return None if self.t_first_answer is None else self.t_first_answer - self.t_start

    @property
    def itl_s(self) -> tuple[float, ...]:
        """Each gap between consecutive text chunks."""
        t = self.chunk_times
        return tuple(b - a for a, b in zip(t, t[1:], strict=False))

    @property
    def tpot_s(self) -> float | None:
        """(E2E - TTFT) / (output_tokens - 1): mean time per output token after the first."""
        if self.ttft_s is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Client-side decode rate: 1 / TPOT."""
        tpot = self.tpot_s
        return None if not tpot else 1.0 / tpot

    @property
    def server_decode_tokens_per_s(self) -> float | None:
        """The server's own decode rate where it reports one."""
        t = self.server_timings or {}
        if "predicted_per_second" in t:
            return float(t["predicted_per_second"])
        if t.get("eval_count") and t.get("eval_duration"):
            return t["eval_count"] / (t["eval_duration"] / 1e9)
        return None

    def metrics(self) -> dict[str, Any]:
        """Flat metrics for attachments and records."""
        itl = self.itl_s
        return {
            "model": self.model,
            "endpoint": self.endpoint,
            "finish_reason": self.finish_reason,
            "t_start": self.t_start,  # perf_counter seconds: comparable within one process
            "t_end": self.t_end,
            "ttft_s": self.ttft_s,
            "ttfa_s": self.ttfa_s,
            "e2e_s": self.e2e_s,
            "queue_wait_s": self.queue_wait_s,
            "tpot_s": self.tpot_s,
            "itl_median_s": median(itl),
            "decode_tokens_per_s": self.decode_tokens_per_s,
            "server_decode_tokens_per_s": self.server_decode_tokens_per_s,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "token_source": self.token_source.value,
            "cached_tokens": self.cached_tokens,
            "chunks": len(self.chunk_times),
            "attempts": self.attempts,
            "stop_reason": self.stop_reason,
            "server_timings": self.server_timings,
        }


@dataclass(frozen=True)
class Grade:
    """A grader's verdict: passed or not, what it extracted, and why."""

    passed: bool
    explanation: str
    extracted: str | None = None
    checks: tuple[str, ...] = ()  # one line per check that ran, for the failure message


@dataclass(frozen=True)
class QACase:
    """One Q&A question in one language, loaded from ``fixtures/qa``."""

    id: str  # e.g. "strawberry"
    lang: str  # "zh" | "en"
    category: str
    prompt: str
    grader: dict[str, Any]
    note: str = ""
    source: str = ""  # "file:line" for error messages

    @property
    def test_id(self) -> str:
        """The id used in test names: ``strawberry-zh``."""
        return f"{self.id}-{self.lang}"


@dataclass(frozen=True)
class QAResult:
    """One graded Q&A attempt, as saved to ``reports/``."""

    run_id: str
    model: str
    case_id: str
    lang: str
    category: str
    repeat: int
    outcome: Outcome
    explanation: str
    prompt_format: str  # "chat" | "completion"
    answer: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    served: dict[str, Any] = field(default_factory=dict)
    reasoning: str = ""
    request: dict[str, Any] = field(default_factory=dict)  # path + body: the ask, replayable
    regraded_from: str | None = None  # the run whose stored answer this record re-grades

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d
