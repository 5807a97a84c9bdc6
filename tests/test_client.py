"""The streaming client on recorded transcripts of real servers (llama.cpp and LiteLLM)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from stackeval.client import StreamAccumulator, StreamingClient, iter_sse
from stackeval.errors import ClientError, ServerError, ServerGone
from stackeval.records import TokenSource
from stackeval.stack.base import Endpoint

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def replay(name: str, status: int = 200) -> httpx.MockTransport:
    body = (TRANSCRIPTS / name).read_bytes()
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body))


def chat(transport: httpx.BaseTransport, kind: str = "gateway", **kw):
    ep = Endpoint("http://127.0.0.1:9/v1", "smollm2:135m", "sk-secret-key", kind)
    with StreamingClient(transport=transport, retries=kw.pop("retries", 0), backoff_s=0) as c:
        return c.chat(ep, [{"role": "user", "content": "q"}], max_tokens=48)


def test_llamacpp_chat_stream_usage_and_timings():
    comp = chat(replay("llamacpp_chat_stream.sse"))
    assert comp.text.startswith("美国")
    assert comp.token_source is TokenSource.USAGE
    assert comp.output_tokens == comp.server_timings["predicted_n"]
    assert comp.prompt_tokens == comp.server_timings["prompt_n"]
    assert comp.server_decode_tokens_per_s == pytest.approx(
        comp.server_timings["predicted_per_second"])
    assert comp.finish_reason in ("stop", "length")
    assert comp.ttft_s is not None and comp.ttft_s <= comp.e2e_s


def test_gateway_role_chunk_is_not_first_token():
    lines = (TRANSCRIPTS / "litellm_chat_stream.sse").read_text().splitlines()
    events = [e for e in iter_sse(lines) if e is not None]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant"}
    acc = StreamAccumulator("m", "e", t_start=0.0)
    for i, e in enumerate(events):
        acc.add(float(i + 1), e)
    comp = acc.finish(t_end=100.0)
    assert comp.t_first_token == 2.0  # the role chunk at t=1 carries no text
    # The usage-only chunk and the finish chunk add no text, so they are not timed chunks.
    assert len(comp.chunk_times) == sum(
        1 for e in events for ch in e["choices"] if ch.get("delta", {}).get("content"))
    assert comp.output_tokens == events[-1]["usage"]["completion_tokens"]
    assert comp.server_timings is None  # LiteLLM drops llama.cpp's timings


def test_completion_stream_text_at_choice_level():
    ep = Endpoint("http://127.0.0.1:9/v1", "gemma3:270m", None, "gateway")
    with StreamingClient(transport=replay("litellm_completion_stream.sse"), retries=0) as c:
        comp = c.complete(ep, "Q: x\nA:", max_tokens=24)
    assert "France" in comp.text and comp.token_source is TokenSource.USAGE
    assert comp.cached_tokens == 11


def test_truncated_answer_keeps_finish_reason():
    assert chat(replay("llamacpp_chat_length.sse")).finish_reason == "length"


def test_reasoning_content_and_think_tags_are_separated():
    acc = StreamAccumulator("m", "e", t_start=0.0)
    acc.add(1.0, {"choices": [{"delta": {"role": "assistant"}}]})
    acc.add(2.0, {"choices": [{"delta": {"reasoning_content": "let me think"}}]})
    acc.add(3.0, {"choices": [{"delta": {"content": ""}}]})
    acc.add(4.0, {"choices": [{"delta": {"content": "Sunday"}}]})
    comp = acc.finish(5.0)
    assert (comp.ttft_s, comp.ttfa_s, comp.text, comp.reasoning) == (2.0, 4.0, "Sunday",
                                                                     "let me think")
    assert comp.token_source is TokenSource.CHUNKS and comp.output_tokens == 2

    acc = StreamAccumulator("m", "e", t_start=0.0)
    for t, piece in enumerate(["<think>", "100 mod 7", " = 2</think>", "\n\nIt is ", "Sunday."]):
        acc.add(float(t + 1), {"choices": [{"delta": {"content": piece}}]})
    comp = acc.finish(9.0)
    assert comp.text == "It is Sunday."
    assert comp.reasoning == "100 mod 7 = 2"
    assert comp.ttft_s == 1.0 and comp.ttfa_s == 4.0


def test_derived_metrics():
    acc = StreamAccumulator("m", "e", t_start=10.0)
    for t in (10.5, 10.6, 10.8):
        acc.add(t, {"choices": [{"delta": {"content": "x"}}]})
    acc.add(10.8, {"choices": [], "usage": {"completion_tokens": 3, "prompt_tokens": 5}})
    comp = acc.finish(11.0)
    assert comp.ttft_s == pytest.approx(0.5)
    assert comp.itl_s == pytest.approx((0.1, 0.2))
    assert comp.tpot_s == pytest.approx((1.0 - 0.5) / 2)
    assert comp.decode_tokens_per_s == pytest.approx(4.0)


def test_unknown_model_error_names_endpoint_not_key():
    with pytest.raises(ClientError) as err:
        chat(replay("litellm_unknown_model.txt", status=400))
    msg = str(err.value)
    assert "Invalid model name" in msg and "127.0.0.1:9/v1" in msg
    assert "sk-secret-key" not in msg


def test_5xx_is_retried_then_reported():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(503, text="busy")

    with pytest.raises(ServerError, match="after 3 attempts"):
        chat(httpx.MockTransport(handler), retries=2)
    assert len(calls) == 3


def test_retry_then_success_records_attempts():
    body = (TRANSCRIPTS / "llamacpp_chat_stream.sse").read_bytes()
    answers = iter([httpx.Response(429, text="slow down"), httpx.Response(200, content=body)])
    comp = chat(httpx.MockTransport(lambda r: next(answers)), retries=2)
    assert comp.attempts == 2 and comp.text


def test_dead_server_fails_fast_without_retries():
    def refuse(request):
        raise httpx.ConnectError("refused")

    def gone(model):
        raise ServerGone(f"model server for {model!r} has exited")

    ep = Endpoint("http://127.0.0.1:9/v1", "smollm2:135m", None)
    with StreamingClient(transport=httpx.MockTransport(refuse), retries=5, backoff_s=10,
                         alive_check=gone) as c:
        with pytest.raises(ServerGone, match="has exited"):
            c.chat(ep, [{"role": "user", "content": "q"}])
