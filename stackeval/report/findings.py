"""The report's findings: a few sentences computed from the data, never written by hand."""

from __future__ import annotations

from collections.abc import Mapping

from stackeval.report.comparison import Report
from stackeval.report.stats import SUITE_TITLES, SUITES, UNGRADED


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _best(items: Mapping[str, float], *, low: bool = False) -> list[str]:
    if not items:
        return []
    target = (min if low else max)(items.values())
    return [m for m, v in items.items() if v == target]


def _paired_line(report: Report, suite: str, best: str, other: str) -> str | None:
    """Whether the top model's lead over the next one survives a paired test."""
    pair = next((p for p in report.paired.get(suite, ())
                 if {p.a, p.b} == {best, other} and p.items), None)
    if pair is None or pair.diff is None or pair.p is None:
        return None
    sign = 1 if pair.a == best else -1
    gap = 100 * sign * pair.diff
    lo, hi = sorted(100 * sign * x for x in pair.diff_ci) if pair.diff_ci else (None, None)
    ci = f", 95% CI {lo:+.0f} to {hi:+.0f}" if lo is not None else ""
    real = ("a real difference at the 5% level" if pair.p < 0.05 else
            "not enough to tell them apart on these items")
    return (f"{best} vs {other}: {gap:+.0f} points on {pair.items} shared items{ci} "
            f"({pair.test}{' mid-p' if pair.p_mid is not None else ''}, p = {pair.p:.2g}): "
            f"{real}.")


def findings(report: Report) -> tuple[str, ...]:
    """A few sentences computed from the data: who is most accurate, fastest, cheapest."""
    out = []
    acc = {m: s.overall.value for m, s in report.qa.items() if s.overall.value is not None}
    tps = {m: s.decode_tps.p50 for m in report.models
           if (s := report.speed_of(m)) and s.decode_tps.p50 is not None}
    ttft = {m: s.ttft_s.p50 for m in report.models
            if (s := report.speed_of(m)) and s.ttft_s.p50 is not None}
    several = len(report.models) > 1
    if acc:
        best = _best(acc)
        qa_best = report.qa[best[0]]
        out.append(f"{'Highest Q&A accuracy' if several else 'Q&A accuracy'}: "
                   f"{' and '.join(best)} with {_pct(acc[best[0]])} "
                   f"({qa_best.overall.passed}/{qa_best.overall.total} graded answers"
                   + (f", 95% CI {_pct(ci[0])}–{_pct(ci[1])}" if (ci := qa_best.overall.interval)
                      else "") + ").")
        if len(acc) > 1:
            worst = _best(acc, low=True)
            out.append(f"Lowest Q&A accuracy: {' and '.join(worst)} with {_pct(acc[worst[0]])}.")
            runner_up = max((m for m in acc if m != best[0]), key=lambda m: acc[m])
            line = _paired_line(report, "qa", best[0], runner_up)
            if line:
                out.append(line)
    if tps:
        fast = _best(tps)[0]
        first = _best(ttft, low=True)[0] if ttft else None
        out.append(f"{'Fastest decoding' if several else 'Decoding'}: {fast} at "
                   f"{tps[fast]:.1f} tokens/s (median)"
                   + ("." if not first else
                      f"; lowest median time to first token: {first} ({ttft[first]:.2f} s)."
                      if several else f", median time to first token {ttft[first]:.2f} s."))
        if acc and fast in acc:
            best_acc = _best(acc)[0]
            if best_acc != fast and best_acc in tps and tps[best_acc] > 0:
                out.append(f"Trade-off: {fast} decodes {tps[fast] / tps[best_acc]:.1f}× faster "
                           f"than {best_acc} but scores {100 * (acc[best_acc] - acc[fast]):.0f} "
                           "points lower on Q&A accuracy.")
    p1 = {m: s.pass_at[1] for m, s in report.coding.items() if 1 in s.pass_at}
    if p1:
        best = _best(p1)
        out.append(f"Best coding pass@1: {' and '.join(best)} ({_pct(p1[best[0]])}).")
    per_correct = {m: c.per_correct for m, c in report.costs.items() if c.per_correct is not None}
    if per_correct and report.prices:
        cheap = _best(per_correct, low=True)[0]
        basis = report.costs[cheap].basis
        out.append(f"Cheapest per correct answer: {cheap} at {per_correct[cheap]:.6f} "
                   f"{report.prices.currency} ({basis}).")
    errors = {m: sum(n for o, n in s.outcomes.items() if o in UNGRADED)
              for m, s in report.qa.items()}
    if any(errors.values()):
        out.append("Harness errors (not counted in accuracy): " + ", ".join(
            f"{m}: {n}" for m, n in errors.items() if n) + ".")
    truncated = {m: s.outcomes.get("truncated", 0) for m, s in report.qa.items()}
    if any(truncated.values()):
        out.append("Answers cut off at max_tokens: " + ", ".join(
            f"{m}: {n}" for m, n in truncated.items() if n) + " (raise --max-tokens to check).")
    loops = {m: s.outcomes.get("repetition_loop", 0) for m, s in report.qa.items()}
    if any(loops.values()):
        out.append("Answers stopped as repetition loops (graded, never passed): " + ", ".join(
            f"{m}: {n}" for m, n in loops.items() if n) + ".")
    missing = [SUITE_TITLES[s] for s in SUITES if not report.suite_ran(s)]
    if missing:
        out.append(f"Not run in this run: {', '.join(missing)} suite(s); their sections show "
                   "\"not run\".")
    return tuple(out)
