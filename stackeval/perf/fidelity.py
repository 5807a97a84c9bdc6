"""Client-measured decode rate against the server's own figure, on every request.

The client rate is ``1 / TPOT`` = (output_tokens - 1) / (E2E - TTFT). llama.cpp's
``timings.predicted_per_second`` counts the same n - 1 gaps from the first sampled token, and
Ollama's ``eval_count / eval_duration`` is its equivalent; a difference above the threshold
means the client (or the path to it) distorts what the server did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from stackeval.records import Completion

THRESHOLD_PCT = 5.0


@dataclass(frozen=True)
class Fidelity:
    """Both decode rates, their difference and whether it passed the threshold."""

    client_tps: float | None
    server_tps: float | None
    server_source: str | None  # which server field the figure came from
    diff_pct: float | None  # (client - server) / server * 100
    flagged: bool  # |diff_pct| > threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def server_rate_source(timings: dict[str, Any] | None) -> str | None:
    """Name of the server field a decode rate can be read from, if any."""
    t = timings or {}
    if "predicted_per_second" in t:
        return "llama.cpp timings.predicted_per_second"
    if t.get("eval_count") and t.get("eval_duration"):
        return "ollama eval_count/eval_duration"
    return None


def check(completion: Completion, threshold_pct: float = THRESHOLD_PCT) -> Fidelity:
    """Compare the client's decode tokens/s with the server's for one request."""
    client, server = completion.decode_tokens_per_s, completion.server_decode_tokens_per_s
    diff = None
    if client is not None and server:
        diff = (client - server) / server * 100.0
    return Fidelity(client, server, server_rate_source(completion.server_timings), diff,
                    diff is not None and abs(diff) > threshold_pct)
