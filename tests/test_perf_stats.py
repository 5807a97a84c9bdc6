"""Perf metrics on recorded streams: records, fidelity, percentiles, throughput and goodput."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackeval.client import StreamAccumulator, iter_sse
from stackeval.errors import RequestTimeout
from stackeval.perf.fidelity import check
from stackeval.perf.record import PerfRecord, RunContext
from stackeval.perf.stats import SLO, Dist, summarize, wall_time_s
from stackeval.records import Completion, TokenSource
from stackeval.stats import percentile

TRANSCRIPTS = Path(__file__).parent / "transcripts"
CTX = RunContext("run1", "smollm2:135m", "abc", "sweep", "direct", 2, 2, 48, True)


def replay(name: str, t_start: float = 100.0, ttft: float = 0.3, decode_s: float = 0.9,
           role_chunk: bool = False) -> Completion:
    """A recorded stream re-timed: first text chunk at ``ttft``, the last ``decode_s`` later.

    llama.cpp sends one chunk per *character*: the 48 tokens of the Chinese transcript arrive in
    25 chunks, so chunk gaps (ITL) are not token gaps (TPOT).
    """
    events = [e for e in iter_sse((TRANSCRIPTS / name).read_text().splitlines()) if e]
    texts = [any((c.get("delta") or {}).get("content") for c in e.get("choices") or [])
             for e in events]
    gap = decode_s / max(sum(texts) - 1, 1)
    acc = StreamAccumulator("smollm2:135m", "direct", t_start)
    t = t_start + ttft - gap
    if role_chunk:
        acc.add(t_start + 0.01, {"choices": [{"delta": {"role": "assistant"}}]})
    for e, has_text in zip(events, texts, strict=True):
        t = t + gap if has_text else t
        acc.add(t, e)
    return acc.finish(t)


def test_llamacpp_stream_record_has_both_rates_and_sources():
    # The transcript's server figure is 51.07 tok/s (48 tokens); replay at the same pace.
    comp = replay("llamacpp_chat_stream.sse", decode_s=0.920366, role_chunk=True)
    rec = PerfRecord.of(CTX, 0, 0, "p0", comp)
    assert rec.ttft_s == pytest.approx(0.3)  # not the role chunk at 0.01
    assert rec.output_tokens == 48 and rec.token_source == TokenSource.USAGE.value
    assert rec.length_ok is True and rec.prompt_tokens == 49 and rec.cached_tokens == 0
    assert rec.server_tps_source == "llama.cpp timings.predicted_per_second"
    assert rec.server_decode_tps == pytest.approx(51.0666, rel=1e-4)
    assert abs(rec.decode_diff_pct) < 1.0 and not rec.fidelity_flagged
    assert len(rec.itl_s) == 24  # chunk gaps, not token gaps
    # E2E minus the server's prefill + decode: time spent outside a slot.
    assert rec.server_wait_s == pytest.approx(rec.e2e_s - (294.628 + 920.366) / 1000)


def test_fidelity_flags_a_client_slower_than_the_server_by_more_than_5_percent():
    comp = replay("llamacpp_chat_stream.sse", decode_s=0.920366 * 1.10)
    fid = check(comp)
    assert fid.diff_pct == pytest.approx(-9.1, abs=0.3) and fid.flagged
    assert PerfRecord.of(CTX, 0, 0, "p", comp).fidelity_flagged


def test_gateway_stream_has_no_server_rate_and_is_not_flagged():
    comp = replay("litellm_chat_stream.sse")
    rec = PerfRecord.of(CTX, 0, 0, "p", comp)
    assert rec.server_decode_tps is None and rec.decode_diff_pct is None
    assert not rec.fidelity_flagged and rec.server_wait_s is None
    assert rec.token_source == "server_usage"


def test_ollama_eval_fields_are_the_server_rate():
    comp = Completion("m", "e", "x", t_start=0, t_first_token=0.1, t_end=1.1, output_tokens=11,
                      server_timings={"eval_count": 11, "eval_duration": 1_000_000_000})
    fid = check(comp)
    assert fid.server_source == "ollama eval_count/eval_duration"
    assert fid.server_tps == pytest.approx(11.0) and fid.client_tps == pytest.approx(10.0)
    assert fid.flagged  # -9.1%: Ollama counts n tokens over the decode time, not n - 1 gaps


def test_reasoning_and_empty_chunks_count_in_ttft_and_itl():
    acc = StreamAccumulator("m", "e", 0.0)
    acc.add(0.1, {"choices": [{"delta": {"role": "assistant"}}]})
    acc.add(0.5, {"choices": [{"delta": {"reasoning_content": "hmm"}}]})
    acc.add(0.6, {"choices": [{"delta": {"content": ""}}]})
    acc.add(0.7, {"choices": [{"delta": {"content": "yes"}}]})
    acc.add(0.7, {"choices": [], "usage": {"completion_tokens": 2, "prompt_tokens": 3}})
    rec = PerfRecord.of(CTX, 0, 0, "p", acc.finish(0.8))
    assert rec.ttft_s == pytest.approx(0.5) and rec.ttfa_s == pytest.approx(0.7)
    assert rec.itl_s == pytest.approx((0.2,))
    assert rec.length_ok is False  # 2 of 48 tokens: the server ignored the fixed length


def test_failed_request_becomes_an_error_record():
    rec = PerfRecord.of(CTX, 1, 3, "p", RequestTimeout("no answer within 120 s"))
    assert not rec.ok and rec.error.startswith("RequestTimeout") and rec.ttft_s is None


def test_record_round_trips_through_json():
    rec = PerfRecord.of(CTX, 0, 0, "p", replay("llamacpp_chat_stream.sse"))
    back = PerfRecord.from_dict(rec.to_dict())
    assert back.itl_s == pytest.approx(rec.itl_s) and back.ttft_s == rec.ttft_s


def test_percentile_interpolates_like_numpy():
    xs = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 90) == pytest.approx(7.6)  # numpy.percentile(xs, 90)
    assert percentile(xs, 99) == pytest.approx(9.76)
    assert percentile([5.0], 99) == 5.0 and percentile([], 50) is None
    d = Dist.of([None, 2.0, 4.0])
    assert (d.n, d.mean, d.min, d.max, d.p50) == (2, 3.0, 2.0, 4.0, 3.0)
    assert Dist.of([]).p99 is None


def _rec(round_: int, t0: float, ttft: float, e2e: float, tokens: int = 10, **kw) -> PerfRecord:
    tpot = (e2e - ttft) / (tokens - 1)
    return PerfRecord(
        "r", "m", "sha", "sweep", "direct", 2, 2, round_, 0, "p", tokens, True, t_start=t0,
        t_end=t0 + e2e, ttft_s=ttft, e2e_s=e2e, tpot_s=tpot, itl_s=(tpot,) * (tokens - 1),
        output_tokens=tokens, token_source="server_usage", length_ok=True,
        client_decode_tps=1 / tpot, **kw)


def test_aggregate_throughput_and_goodput_over_rounds():
    recs = [
        _rec(0, 0.0, 0.2, 1.1),  # tpot 0.1
        _rec(0, 0.0, 0.5, 2.0, server_decode_tps=1 / (1.5 / 9) * 1.2, decode_diff_pct=-16.7,
             fidelity_flagged=True),  # round 0 spans 2.0 s
        _rec(1, 10.0, 1.5, 2.5),  # round 1 spans 2.5 s; TTFT misses the SLO
        PerfRecord("r", "m", "sha", "sweep", "direct", 2, 2, 1, 1, "p", 10, True,
                   error="ServerError: HTTP 500"),
    ]
    s = summarize(recs, SLO(ttft_ms=1000, tpot_ms=150))
    assert wall_time_s(recs) == pytest.approx(4.5)
    assert (s.requests, s.completed, s.errors) == (4, 3, 1)
    assert s.output_tokens == 30
    assert s.aggregate_output_tps == pytest.approx(30 / 4.5)
    assert s.request_throughput_rps == pytest.approx(3 / 4.5)
    # Good: the first (TTFT 0.2, TPOT 0.1). The second's TPOT 0.167 > 0.15, the third's TTFT
    # 1.5 s > 1 s, the fourth failed.
    assert s.goodput_fraction == pytest.approx(1 / 4)
    assert s.goodput_rps == pytest.approx(1 / 4.5)
    assert s.ttft_s.p50 == pytest.approx(0.5) and s.ttft_s.max == pytest.approx(1.5)
    assert s.itl_s.n == 27
    assert s.stream_output_tps.p50 == pytest.approx(10 / 2.0)
    assert s.fidelity_flagged == 1 and s.token_sources == ("server_usage",)


def test_short_outputs_are_counted_and_empty_ones_left_out():
    recs = [_rec(0, 0.0, 0.1, 1.0), _rec(0, 0.0, 0.1, 0.5, tokens=4)]
    recs[1] = PerfRecord(**{**recs[1].__dict__, "length_ok": False})
    empty = PerfRecord("r", "m", "sha", "sweep", "direct", 2, 2, 0, 2, "p", 10, True,
                       t_start=0.0, t_end=9.0, output_tokens=0, length_ok=False)
    s = summarize([*recs, empty])
    assert s.length_short == 1 and s.completed == 2
    assert s.wall_s == pytest.approx(1.0)  # the empty request's 9 s are not throughput time
    assert s.goodput_fraction == pytest.approx(2 / 3)  # no SLO set: every completed one counts


def test_summarize_needs_records():
    with pytest.raises(ValueError):
        summarize([])


def test_terminal_table_reads_saved_summaries():
    from stackeval.perf.summary import cold_lines, gateway_lines, perf_rows
    from stackeval.table import aligned

    def saved(kind: str, ttft: float, diffs: tuple[float, ...]) -> dict:
        recs = [PerfRecord(**{**_rec(0, 0.0, ttft, 1.0).__dict__, "decode_diff_pct": d,
                              "scenario": "short", "concurrency": 1, "endpoint_kind": kind})
                for d in diffs]
        return {"record": "summary", **summarize(recs).to_dict()}

    records = [saved("gateway", 0.25, (1.0,)), saved("direct", 0.2, (2.0, -7.5)),
               {"record": "cold_start", "model": "m", "round": 0, "load_s": 1.5,
                "first_ttft_s": 0.4, "first_e2e_s": 1.2}]
    rows = perf_rows(records)
    assert rows[0][:3] == ["model", "scenario", "c"]
    assert [r[1] for r in rows[1:]] == ["short", "short@gateway"]  # direct first
    assert rows[1][14] == "-7.5"  # the largest gap keeps its sign
    lines = aligned(rows)
    assert len(lines) == 3 and lines[0].startswith("model")
    assert gateway_lines(records) == [
        "m: gateway minus direct, single stream, short prompt: TTFT p50 +50 ms, E2E p50 +0 ms"]
    assert cold_lines(records) == [
        "m: load 1.50 s, first request TTFT 400 ms / E2E 1.20 s (round 0)"]
    assert aligned(perf_rows([])) == []
