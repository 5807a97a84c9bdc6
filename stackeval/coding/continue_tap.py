"""A recording pass-through between the Continue CLI and the gateway.

Continue prints only its final answer, so what it sent and when tokens came back is measured
here: every request is forwarded unchanged except for ``stream_options.include_usage`` (so the
server reports prompt and output tokens), and each streamed reply is folded into the same
``StreamAccumulator`` the direct client uses. Headers are forwarded but never recorded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from stackeval.client import StreamAccumulator, iter_sse
from stackeval.records import Completion

_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


@dataclass(frozen=True)
class Exchange:
    """One request Continue made and what came back."""

    path: str
    status: int
    body: dict[str, Any]  # what Continue sent (after the usage flag was added)
    completion: Completion | None  # None for a non-chat request or an error reply

    @property
    def tools(self) -> tuple[str, ...]:
        """Names of the tools Continue offered the model."""
        return tuple(str((t.get("function") or {}).get("name") or t.get("name"))
                     for t in self.body.get("tools") or [] if isinstance(t, dict))


class ContinueTap:
    """Listens on 127.0.0.1, forwards to ``upstream`` (a base URL ending in /v1), records."""

    def __init__(self, upstream: str, timeout_s: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.timeout_s = timeout_s
        self.exchanges: list[Exchange] = []
        self.last_activity = time.monotonic()  # a request or a streamed line passed through
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL to give Continue as its ``apiBase``."""
        if self._server is None:
            raise RuntimeError("ContinueTap is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> ContinueTap:
        """Bind a free port and serve in a daemon thread."""
        tap = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                tap._forward(self)

            def log_message(self, *args: Any) -> None:  # quiet: figures go into records
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="continue-tap")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ContinueTap:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _forward(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.last_activity = time.monotonic()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict) and body.get("stream"):
            body["stream_options"] = {**(body.get("stream_options") or {}),
                                      "include_usage": True}
            raw = json.dumps(body).encode()
        path = h.path.removeprefix("/v1")
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP_HEADERS}
        t0 = time.perf_counter()
        acc = StreamAccumulator(str(body.get("model")), self.upstream + path, t0)
        status = 502
        try:
            with httpx.Client(timeout=self.timeout_s) as http, http.stream(
                    "POST", self.upstream + path, content=raw, headers=headers) as resp:
                status = resp.status_code
                h.send_response(status)
                ctype = resp.headers.get("content-type", "application/json")
                h.send_header("Content-Type", ctype)
                h.send_header("Connection", "close")
                h.end_headers()
                streamed = "text/event-stream" in ctype
                for line in resp.iter_lines():
                    self.last_activity = time.monotonic()
                    h.wfile.write(line.encode() + b"\n")
                    h.wfile.flush()
                    if streamed and status == 200:
                        for event in iter_sse([line]):
                            if event is not None and "error" not in event:
                                acc.add(time.perf_counter(), event)
                    elif status == 200:
                        _fold_whole(acc, line)
        except (httpx.HTTPError, OSError) as exc:
            if status == 502:
                h.send_error(502, f"stackeval tap: {type(exc).__name__}")
        completion = acc.finish(time.perf_counter()) if status == 200 and (
            acc.chunk_times or acc.usage) else None
        with self._lock:
            self.exchanges.append(Exchange(path, status, body if isinstance(body, dict) else {},
                                           completion))


def _fold_whole(acc: StreamAccumulator, line: str) -> None:
    """A non-streamed reply: one JSON document, its message taken as one chunk."""
    try:
        doc = json.loads(line)
    except ValueError:
        return
    for choice in doc.get("choices") or []:
        msg = choice.get("message") or {}
        choice["delta"] = {"content": msg.get("content") or ""}
    acc.add(time.perf_counter(), doc)
