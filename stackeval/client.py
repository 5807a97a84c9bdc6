"""Streaming OpenAI-compatible client that times every chunk.

The clock starts after any client-side limiter (``queue_wait_s`` is kept apart); TTFT is the
first chunk carrying content or reasoning text, never the empty role chunk or the usage chunk.
Output tokens come from the server's ``usage`` when present, else its ``/tokenize``, else the
chunk count, and the source is always recorded.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from stackeval.errors import (
    ClientError,
    ContextOverflow,
    RequestTimeout,
    ServerError,
    ServerGone,
)
from stackeval.loops import LoopDetector, LoopGuard
from stackeval.records import Completion, TokenSource
from stackeval.stack.base import Endpoint

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def iter_sse(lines: Iterable[str]) -> Iterator[dict[str, Any] | None]:
    """Yield each ``data:`` event as a dict; ``None`` marks ``[DONE]``. Comments are skipped."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            yield None
            return
        if data:
            yield json.loads(data)


@dataclass
class StreamAccumulator:
    """Builds a Completion from timed chunks; kept apart from I/O so transcripts can replay it."""

    model: str
    endpoint: str
    t_start: float
    queue_wait_s: float = 0.0
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    chunk_times: list[float] = field(default_factory=list)
    t_first_token: float | None = None
    t_first_answer: float | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    loop: LoopDetector | None = None  # stops a stream that has degenerated into repetition
    stop_reason: str | None = None  # why the client stopped reading early
    _in_think: bool = False
    _answer_started: bool = False  # once answer text has come, a later <think> is answer text

    def add(self, t: float, chunk: dict[str, Any]) -> None:
        """Fold one parsed chunk that arrived at perf_counter time ``t``."""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if chunk.get("timings"):
            self.timings = chunk["timings"]
        for choice in chunk.get("choices") or []:
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
            # /v1/completions streams put text at the choice level.
            text = delta.get("content") or choice.get("text") or ""
            if not (reasoning or text):
                continue
            self.chunk_times.append(t)
            if self.t_first_token is None:
                self.t_first_token = t
            if reasoning:
                self.reasoning.append(reasoning)
            if text:
                answer = self._route_think(text)
                if answer.strip() and self.t_first_answer is None:
                    self.t_first_answer = t
            if self.loop is not None and self.stop_reason is None \
                    and self.loop.feed(reasoning + text):
                self.stop_reason = (f"repetition loop after {len(self.chunk_times)} tokens "
                                    f"(a {self.loop.period}-byte unit repeated)")

    def _route_think(self, text: str) -> str:
        """Send text inside <think>…</think> to reasoning; return the answer part."""
        answer = []
        while text:
            if self._in_think:
                end = text.find(THINK_CLOSE)
                if end < 0:
                    self.reasoning.append(text)
                    return "".join(answer)
                self.reasoning.append(text[:end])
                text = text[end + len(THINK_CLOSE):]
                self._in_think = False
            else:
                start = text.find(THINK_OPEN)
                if start < 0 or self._answer_started or text[:start].strip():
                    answer.append(text)
                    break
                answer.append(text[:start])
                text = text[start + len(THINK_OPEN):]
                self._in_think = True
        self.content.extend(answer)
        joined = "".join(answer)
        self._answer_started = self._answer_started or bool(joined.strip())
        return joined

    def finish(self, t_end: float, attempts: int = 1,
               tokenize: Callable[[str], int | None] | None = None) -> Completion:
        """The final record; counts tokens from usage, else tokenize, else chunks."""
        text = "".join(self.content)
        usage = self.usage or {}
        output_tokens = usage.get("completion_tokens")
        source = TokenSource.USAGE
        if output_tokens is None and tokenize is not None:
            output_tokens = tokenize(text + "".join(self.reasoning))
            source = TokenSource.TOKENIZE
        if output_tokens is None:
            output_tokens, source = len(self.chunk_times), TokenSource.CHUNKS
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        if cached is None and self.timings:
            cached = self.timings.get("cache_n")
        return Completion(
            model=self.model, endpoint=self.endpoint, text=text.strip(),
            reasoning="".join(self.reasoning).strip(), finish_reason=self.finish_reason,
            t_start=self.t_start, t_first_token=self.t_first_token,
            t_first_answer=self.t_first_answer, t_end=t_end, queue_wait_s=self.queue_wait_s,
            chunk_times=tuple(self.chunk_times), prompt_tokens=usage.get("prompt_tokens"),
            output_tokens=output_tokens, token_source=source, cached_tokens=cached,
            server_timings=self.timings, attempts=attempts, stop_reason=self.stop_reason,
        )


class StreamingClient:
    """Sends streamed chat/completion requests with retries for infrastructure errors only."""

    def __init__(self, *, timeout_s: float = 120.0, retries: int = 2, backoff_s: float = 1.0,
                 alive_check: Callable[[str], None] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.alive_check = alive_check
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=10.0),
                                  transport=transport, trust_env=False)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> StreamingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chat(self, endpoint: Endpoint, messages: list[dict[str, str]], *,
             loop_guard: LoopGuard | None = None, **params: Any) -> Completion:
        """Stream ``/chat/completions``; ``params`` go into the body (max_tokens, seed, ...).

        With ``loop_guard`` the stream is abandoned once the answer loops (``stop_reason``).
        """
        return self._request(endpoint, "/chat/completions", {"messages": messages, **params},
                             loop_guard)

    def complete(self, endpoint: Endpoint, prompt: str, *, loop_guard: LoopGuard | None = None,
                 **params: Any) -> Completion:
        """Stream ``/completions`` (base models without a chat template)."""
        return self._request(endpoint, "/completions", {"prompt": prompt, **params}, loop_guard)

    @staticmethod
    def request_body(endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON body sent for ``body``'s fields (what records keep to replay a request)."""
        return {"model": endpoint.model, "stream": True,
                "stream_options": {"include_usage": True}, **body}

    def _request(self, endpoint: Endpoint, path: str, body: dict[str, Any],
                 loop_guard: LoopGuard | None = None) -> Completion:
        body = self.request_body(endpoint, body)
        url = endpoint.base_url.rstrip("/") + path
        where = f"{url} (model {endpoint.model!r})"
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        t_queued = time.perf_counter()
        if self.alive_check is not None:
            self.alive_check(endpoint.model)  # a dead server fails at once, not after retries
        for attempt in range(1, self.retries + 2):
            try:
                return self._stream_once(endpoint, url, body, headers, attempt, t_queued,
                                         loop_guard)
            except (httpx.TransportError, _Retryable) as exc:
                if self.alive_check is not None:
                    self.alive_check(endpoint.model)  # raises ServerGone: no point retrying
                if attempt > self.retries:
                    raise self._final_error(exc, where, attempt) from exc
                delay = self.backoff_s * 2 ** (attempt - 1)
                log.warning("%s: %s; retry %d in %.1f s", where, _describe(exc), attempt, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _stream_once(self, endpoint: Endpoint, url: str, body: dict[str, Any],
                     headers: dict[str, str], attempt: int, t_queued: float,
                     loop_guard: LoopGuard | None = None) -> Completion:
        t0 = time.perf_counter()
        acc = StreamAccumulator(endpoint.model, endpoint.describe(), t0, queue_wait_s=0.0,
                                loop=loop_guard.detector() if loop_guard else None)
        with self._http.stream("POST", url, json=body, headers=headers) as resp:
            if resp.status_code in RETRY_STATUS:
                raise _Retryable(resp.status_code, resp.read().decode(errors="replace")[:300])
            if resp.status_code >= 400:
                detail = resp.read().decode(errors="replace")[:500]
                if "context" in detail.lower() and ("exceed" in detail.lower()
                                                    or "too long" in detail.lower()):
                    raise ContextOverflow(f"{url} (model {endpoint.model!r}): {detail}")
                raise ClientError(f"{url} (model {endpoint.model!r}) answered HTTP "
                                  f"{resp.status_code}: {detail}")
            lines = resp.iter_lines()
            for event in iter_sse(lines):
                if event is None:
                    break
                if "error" in event:
                    raise ClientError(f"{url} (model {endpoint.model!r}) sent an error "
                                      f"mid-stream: {event['error']}")
                acc.add(time.perf_counter(), event)
                if acc.stop_reason:
                    break  # leaving the block closes the connection; the server stops decoding
        completion = acc.finish(time.perf_counter(), attempt, self._tokenizer(endpoint))
        if attempt > 1:
            # Earlier attempts' time is queue, not service time.
            completion = replace(completion, queue_wait_s=t0 - t_queued)
        return completion

    def _tokenizer(self, endpoint: Endpoint) -> Callable[[str], int | None] | None:
        if endpoint.kind != "direct":
            return None
        root = endpoint.base_url.rstrip("/").removesuffix("/v1")

        def tokenize(text: str) -> int | None:
            try:
                resp = self._http.post(f"{root}/tokenize", json={"content": text})
                return len(resp.json()["tokens"]) if resp.status_code == 200 else None
            except (httpx.HTTPError, ValueError, KeyError):
                return None

        return tokenize

    def _final_error(self, exc: Exception, where: str, attempts: int) -> ClientError:
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeout(f"{where}: no answer within {self.timeout_s:.0f} s "
                                  f"({attempts} attempts)")
        if isinstance(exc, httpx.ConnectError):
            return ServerGone(f"{where}: connection refused after {attempts} attempts; is the "
                              "server running?")
        return ServerError(f"{where}: {_describe(exc)} after {attempts} attempts")


class _Retryable(Exception):
    """An HTTP status worth retrying (429/5xx)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
