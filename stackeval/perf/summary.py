"""A compact perf table for the terminal, computed from saved perf records only; the rows are
laid out by :func:`stackeval.table.aligned`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_ORDER = {"cold": 0, "short": 1, "long": 2, "sweep": 3, "rate": 4}


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f}"


def _signed_ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:+.0f}"


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "-" if x is None else format(x, fmt)


def _scenario(s: dict[str, Any]) -> str:
    name = s["scenario"]
    return f"{name}@gateway" if s.get("endpoint_kind") == "gateway" else name


def perf_rows(records: Iterable[dict[str, Any]]) -> list[list[str]]:
    """Table rows (header first) from ``summary`` and ``cold_start`` records of perf.jsonl."""
    records = list(records)
    summaries = [r for r in records if r.get("record") == "summary"]
    summaries.sort(key=lambda s: (s["model"], _ORDER.get(s["scenario"], 9),
                                  s.get("endpoint_kind") != "direct", s["concurrency"],
                                  s.get("rate_rps") or 0))
    header = ["model", "scenario", "c", "slots", "n", "TTFT p50/p90/p99 ms", "TPOT p50 ms",
              "ITL p50/p99 ms", "E2E p50 s", "stream tok/s", "agg tok/s", "req/s", "good %",
              "decode tok/s cli/srv", "diff %", "flag"]
    rows = [header]
    for s in summaries:
        ttft, itl = s["ttft_s"], s["itl_s"]
        srv = s["server_decode_tps"]["p50"]
        rows.append([
            s["model"], _scenario(s), _load(s),
            "-" if s.get("slots") is None else str(s["slots"]),
            f"{s['completed']}/{s['requests']}",
            f"{_ms(ttft['p50'])}/{_ms(ttft['p90'])}/{_ms(ttft['p99'])}",
            _ms(s["tpot_s"]["p50"]), f"{_ms(itl['p50'])}/{_ms(itl['p99'])}",
            _num(s["e2e_s"]["p50"], ".2f"), _num(s["stream_output_tps"]["p50"]),
            _num(s["aggregate_output_tps"]), _num(s["request_throughput_rps"], ".2f"),
            _num(None if s["goodput_fraction"] is None else s["goodput_fraction"] * 100, ".0f"),
            f"{_num(s['decode_tps']['p50'])}/{_num(srv)}",
            _num(_worst(s["decode_diff_pct"]), "+.1f"),
            str(s["fidelity_flagged"]) if s["fidelity_flagged"] else "",
        ])
    return rows


def _load(s: dict[str, Any]) -> str:
    """Closed loop: the stream count; open loop: the offered rate and arrival process."""
    if s.get("rate_rps") is None:
        return str(s["concurrency"])
    return f"{s['rate_rps']:g}/s {'poisson' if s.get('arrival') == 'poisson' else 'const'}"


def knee_lines(records: Iterable[dict[str, Any]]) -> list[str]:
    """One line per model's open-loop knee, with the goodput at it."""
    records = list(records)
    out = []
    for k in (r for r in records if r.get("record") == "knee"):
        at = next((s for s in records if s.get("record") == "summary"
                   and s.get("model") == k["model"] and s.get("scenario") == "rate"
                   and k.get("knee_rps") is not None and s.get("rate_rps") == k["knee_rps"]),
                  None)
        good = "" if at is None or at.get("goodput_rps") is None else (
            f"; goodput there {at['goodput_rps']:.2f} req/s, "
            f"{_num(at.get('aggregate_output_tps'))} output tok/s")
        out.append(f"{k['model']}: open-loop knee {k['describe']} ({k['arrival']} arrivals, "
                   f"SLO p{k['slo_percentile']:g} TTFT <= {k['slo_ttft_ms']:g} ms, TPOT <= "
                   f"{k['slo_tpot_ms']:g} ms, {k['requests_per_rate']} requests per rate){good}")
    return out


def cold_lines(records: Iterable[dict[str, Any]]) -> list[str]:
    """One line per cold-start measurement."""
    out = []
    for r in records:
        if r.get("record") != "cold_start":
            continue
        out.append(f"{r['model']}: load {_num(r.get('load_s'), '.2f')} s, first request TTFT "
                   f"{_ms(r.get('first_ttft_s'))} ms / E2E {_num(r.get('first_e2e_s'), '.2f')} s "
                   f"(round {r.get('round')})")
    return out


def gateway_lines(records: Iterable[dict[str, Any]]) -> list[str]:
    """What the gateway adds to single-stream short-prompt TTFT and E2E, per model."""
    by: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        if r.get("record") == "summary" and r["scenario"] == "short":
            by[(r["model"], r["endpoint_kind"])] = r
    out = []
    for (model, kind), gw in sorted(by.items()):
        direct = by.get((model, "direct"))
        if kind != "gateway" or direct is None:
            continue
        d_ttft = _diff(gw["ttft_s"]["p50"], direct["ttft_s"]["p50"])
        d_e2e = _diff(gw["e2e_s"]["p50"], direct["e2e_s"]["p50"])
        out.append(f"{model}: gateway minus direct, single stream, short prompt: TTFT p50 "
                   f"{_signed_ms(d_ttft)} ms, E2E p50 {_signed_ms(d_e2e)} ms")
    return out


def _worst(d: dict[str, Any]) -> float | None:
    """The difference furthest from zero, keeping its sign."""
    if not d.get("n"):
        return None
    return max(d["min"], d["max"], key=abs)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b

