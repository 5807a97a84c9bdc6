"""A small real OpenAI-compatible HTTP server for tests: ``/v1/models`` and streamed chat."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeServer:
    """Lists ``models``, wants ``key`` (None: any), streams ``reply(request body)`` back."""

    key: str | None
    models: tuple[str, ...]
    reply: Callable[[dict[str, Any]], str]
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # path, key, model
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class bound to this server's state."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self, model: str | None) -> bool:
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                server.seen.append((self.path, key, model))
                if server.key is not None and key != server.key:
                    self._send(401, b'{"error": {"message": "invalid api key"}}',
                               "application/json")
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802 - the http.server hook
                if self._authorized(None):
                    body = {"object": "list", "data": [{"id": m} for m in server.models]}
                    self._send(200, json.dumps(body).encode(), "application/json")

            def do_POST(self) -> None:  # noqa: N802 - the http.server hook
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self._authorized(body.get("model")):
                    return
                if body.get("model") not in server.models:
                    self._send(404, b'{"error": {"message": "no such model"}}',
                               "application/json")
                    return
                words = re.findall(r"\S+\s*|\s+", server.reply(body))
                chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
                          *({"choices": [{"index": 0, "delta": {"content": w}}]} for w in words),
                          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                          {"choices": [], "usage": {"prompt_tokens": 9,
                                                    "completion_tokens": len(words)}}]
                data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                self._send(200, data.encode(), "text/event-stream")

        return Handler


@contextmanager
def serving(*fakes: FakeServer) -> Iterator[tuple[FakeServer, ...]]:
    """Run each fake on a free local port (``fake.url`` set) for the ``with`` block."""
    running = []
    try:
        for fake in fakes:
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
            fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            running.append(httpd)
        yield fakes
    finally:
        for httpd in running:
            httpd.shutdown()
            httpd.server_close()
