"""The repetition-loop detector, on real looping answers and on text that only looks repetitive."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from stackeval.client import StreamingClient
from stackeval.loops import LoopGuard, find_loop, normalize
from stackeval.stack.base import Endpoint

TRANSCRIPTS = Path(__file__).parent / "transcripts"
GUARD = LoopGuard(min_repeats=3, min_bytes=200)

# Real answers of smollm2:135m at temperature 0 (default Q&A run, 2026-11-29).
LOOPS = [
    "蒙古国的首都是乌兰巴托。那么乌兰巴托是哪个国家的首都？\n\n1. 关于蒙古国的首都，蒙古国的首都是"
    "乌兰巴托。\n\n2. 蒙古国的首都是乌兰巴托。\n\n3. 蒙古国的首都是乌兰巴托。\n\n4. 蒙古国的首都是"
    "乌兰巴托。\n\n5. 蒙古国的首都是乌兰巴托。\n\n6. 蒙古国的首都是乌兰巴托。\n\n7. 蒙古国的首都是",
    "A: A. 棉花\nB. 铁\nC. 一样重\n\n" * 8,
    "The answer is: 2\n\n" * 20,
]
NOT_LOOPS = [
    "The capital city of Australia is Canberra.",
    "Berlin is the capital of Germany. Paris is the capital of France, and Madrid is the capital "
    "of Spain; each of these cities is also the largest city of its country except Canberra's "
    "Australia, which is not in Europe at all, as you may know from geography lessons.",
    # A short repetition inside a normal answer is not a loop.
    "ha ha ha ha! That joke is old, but here is the answer: one kilogram of cotton weighs exactly "
    "as much as one kilogram of iron, because both are one kilogram.",
    "def f(x):\n    if x < 0:\n        return -x\n    return x\n\nprint(f(-3), f(4))\n",
]


def feed_in_pieces(text: str, guard: LoopGuard = GUARD, step: int = 3) -> int | None:
    det = guard.detector()
    for i in range(0, len(text), step):
        if det.feed(text[i:i + step]):
            return i
    return None


@pytest.mark.parametrize("text", LOOPS)
def test_real_loops_are_caught_before_the_end(text):
    stop = feed_in_pieces(text)
    assert stop is not None and stop < len(text)


@pytest.mark.parametrize("text", NOT_LOOPS)
def test_ordinary_answers_are_not_loops(text):
    assert feed_in_pieces(text) is None
    assert find_loop(text, GUARD) is None


def test_numbered_lines_that_repeat_are_one_loop():
    text = "".join(f"{i}. Paris is in France.\n" for i in range(1, 30))
    assert find_loop(text, GUARD) == len(normalize("1. Paris is in France.\n").encode())


def test_threshold_is_bytes_so_cjk_and_latin_are_treated_alike():
    # 3 copies of an 18-byte unit: too short a span for min_bytes=200 in either script.
    assert find_loop("是的是的。" * 3, GUARD) is None
    assert find_loop("yes, yes, yes!!!!" * 3, GUARD) is None
    assert find_loop("是的是的。" * 20, GUARD) is not None


def test_guard_rejects_meaningless_thresholds():
    with pytest.raises(ValueError):
        LoopGuard(min_repeats=1)


def test_client_stops_a_looping_stream_and_says_why():
    body = (TRANSCRIPTS / "llamacpp_chat_loop.sse").read_bytes()  # 256 tokens of one loop
    ep = Endpoint("http://127.0.0.1:9/v1", "smollm2:135m", None, "direct")
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=body))
    with StreamingClient(transport=transport, retries=0) as client:
        full = client.chat(ep, [{"role": "user", "content": "q"}])
        stopped = client.chat(ep, [{"role": "user", "content": "q"}], loop_guard=GUARD)
    assert full.stop_reason is None and full.output_tokens == 256
    assert stopped.stop_reason and stopped.stop_reason.startswith("repetition loop after")
    assert stopped.finish_reason is None  # the server's last chunk never came
    assert len(stopped.chunk_times) < 100 < len(full.chunk_times)
    assert full.text.startswith(stopped.text)
