"""Per-suite statistics computed from saved records: accuracy, pass@k, latency, token counts.

Readers tolerate missing fields: a value that was not recorded is None, never zero.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackeval.coding.passk import pass_at_k, suite_pass_at_k, suite_pass_hat_k
from stackeval.report.significance import Paired, bootstrap_ci, paired, wilson
from stackeval.stats import mean, percentile

SUITES = ("qa", "coding", "perf")
SUITE_TITLES = {"qa": "Q&A", "coding": "coding", "perf": "performance"}
# Outcomes that say nothing about the model's answer.
UNGRADED = frozenset({"infrastructure_error", "grader_error"})
PASS_AT_K = (1, 3, 5, 10)

# -- small value types --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``passed`` out of ``total``; ``value`` is None when nothing was counted."""

    passed: int
    total: int

    @property
    def value(self) -> float | None:
        """The fraction passed, or None for an empty count."""
        return self.passed / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The Wilson 95% interval of the fraction, or None for an empty count."""
        return wilson(self.passed, self.total)


@dataclass(frozen=True)
class Distribution:
    """Percentiles of one metric over a set of requests."""

    n: int = 0
    p10: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None
    values: tuple[float, ...] = ()  # kept for the distribution chart

    @classmethod
    def of(cls, values: Iterable[Any]) -> Distribution:
        """Percentiles of the numeric, finite values (None and NaN are left out)."""
        vals = tuple(float(v) for v in values
                     if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
        if not vals:
            return cls()
        return cls(n=len(vals), p10=percentile(vals, 10), p50=percentile(vals, 50),
                   p90=percentile(vals, 90), p99=percentile(vals, 99),
                   mean=mean(vals), values=vals)


@dataclass(frozen=True)
class QAStats:
    """One model's Q&A results: accuracy over graded attempts, split by category and language."""

    model: str
    attempts: int
    overall: Rate
    by_category: Mapping[str, Rate]
    by_lang: Mapping[str, Rate]
    outcomes: Mapping[str, int]
    prompt_format: str = "chat"


@dataclass(frozen=True)
class CodingStats:
    """One model's coding results: unbiased pass@k, pass^k (all k pass) and quality findings."""

    model: str
    tasks: int
    samples: int
    pass_at: Mapping[int, float]
    pass_all: Mapping[int, float]
    by_group: Mapping[str, Rate]
    outcomes: Mapping[str, int]
    findings: Mapping[str, int]
    # 95% interval of each pass@k: Wilson over tasks with one sample each, else a bootstrap
    # over tasks (samples of one task are not independent draws of the suite).
    pass_at_ci: Mapping[int, tuple[float, float]] = field(default_factory=dict)
    # partial credit on tasks with sub-checks (the bash lab), by task id
    partial: Mapping[str, TaskPartial] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeedStats:
    """Latency and throughput of one model's requests in one suite (``all``: every suite)."""

    model: str
    suite: str
    ttft_s: Distribution
    e2e_s: Distribution
    decode_tps: Distribution
    server_decode_tps: Distribution
    token_sources: Mapping[str, int]


@dataclass(frozen=True)
class TokenUse:
    """Tokens one model consumed in one suite."""

    model: str
    suite: str
    requests: int
    prompt_tokens: int
    output_tokens: int
    counted: int  # requests whose token counts were known

    @property
    def per_request(self) -> tuple[float | None, float | None]:
        """Mean prompt and output tokens per request with known counts."""
        if not self.counted:
            return None, None
        return self.prompt_tokens / self.counted, self.output_tokens / self.counted


# -- aggregation ---------------------------------------------------------------------------------


def _metric_samples(rec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Per-request metric dicts of a record: ``metrics``, lists under requests/completions, or
    the record itself (perf.jsonl's flat ``record: request`` lines; its summaries are skipped)."""
    if rec.get("record") not in (None, "request") or rec.get("error"):
        return []
    out: list[Mapping[str, Any]] = []
    metrics = rec.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        out.append(metrics)
    for key in ("requests", "completions", "samples"):
        items = rec.get(key)
        if isinstance(items, list):
            out.extend(x.get("metrics", x) if isinstance(x.get("metrics"), Mapping) else x
                       for x in items if isinstance(x, Mapping))
    if not out and any(k in rec for k in ("ttft_s", "e2e_s", "decode_tokens_per_s")):
        out.append(rec)
    return out


def _first(m: Mapping[str, Any], *keys: str) -> Any:
    """The first key present: Q&A metrics and perf records name decode rates differently."""
    return next((m[k] for k in keys if m.get(k) is not None), None)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def qa_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, QAStats]:
    """Per model: accuracy over graded attempts, by category and by language."""
    by_model: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        by_model[r["model"]].append(r)
    out = {}
    for model, recs in by_model.items():
        graded = [r for r in recs if r.get("outcome") not in UNGRADED]

        def rates(key: str, graded: list[Mapping[str, Any]] = graded) -> dict[str, Rate]:
            groups: dict[str, list[bool]] = defaultdict(list)
            for r in graded:
                groups[str(r.get(key) or "?")].append(r.get("outcome") == "pass")
            return {k: Rate(sum(v), len(v)) for k, v in sorted(groups.items())}

        out[model] = QAStats(
            model=model, attempts=len(recs),
            overall=Rate(sum(r.get("outcome") == "pass" for r in graded), len(graded)),
            by_category=rates("category"), by_lang=rates("lang"),
            outcomes=dict(Counter(str(r.get("outcome", "?")) for r in recs)),
            prompt_format=str(recs[0].get("prompt_format") or "chat"))
    return out


def passed(rec: Mapping[str, Any]) -> bool:
    """Whether a record passed: its ``passed`` flag, else an outcome of ``pass``."""
    if isinstance(rec.get("passed"), bool):
        return rec["passed"]
    return rec.get("outcome") == "pass"


def _task_id(rec: Mapping[str, Any]) -> str:
    for key in ("task_id", "case_id", "task", "id"):
        if rec.get(key):
            return str(rec[key])
    return "?"


def _findings(rec: Mapping[str, Any]) -> Counter[str]:
    """Quality findings by rule code: ``quality.by_code`` (the coding runner's linters), or a
    list of findings (strings or dicts with a code)."""
    quality = rec.get("quality") if isinstance(rec.get("quality"), Mapping) else {}
    if isinstance(quality.get("by_code"), Mapping):
        return Counter({str(k): int(v) for k, v in quality["by_code"].items()
                        if isinstance(v, int | float)})
    items = rec.get("findings") or quality.get("findings") or ()
    out: Counter[str] = Counter()
    for item in items if isinstance(items, list) else ():
        out[str(item.get("code") or item.get("rule") or item.get("message") or item)
            if isinstance(item, Mapping) else str(item)] += 1
    return out


def coding_group(rec: Mapping[str, Any]) -> str:
    """The task group a coding record counts under (its suite, else its id's prefix)."""
    task = _task_id(rec)
    return str(rec.get("group") or rec.get("suite") or rec.get("kind") or (
        task.split("/")[0] if "/" in task else rec.get("language") or "all"))


def coding_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, CodingStats]:
    """Per model: pass@k, pass^k, pass rate per task group, outcomes and quality findings."""
    by_model: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        by_model[r["model"]].append(r)
    out = {}
    for model, recs in by_model.items():
        graded = [r for r in recs if r.get("outcome") not in UNGRADED]
        per_task: dict[str, list[bool]] = defaultdict(list)
        groups: dict[str, list[bool]] = defaultdict(list)
        findings: Counter[str] = Counter()
        for r in graded:
            task = _task_id(r)
            # A task asked in two languages is two prompts: its samples are counted apart.
            per_task[f"{task}-{r['lang']}" if r.get("lang") else task].append(passed(r))
            groups[coding_group(r)].append(passed(r))
        for r in recs:
            findings.update(_findings(r))
        out[model] = CodingStats(
            model=model, tasks=len(per_task), samples=len(recs),
            pass_at={k: v for k in PASS_AT_K
                     if (v := suite_pass_at_k(per_task, k)) is not None},
            pass_all={k: v for k in PASS_AT_K[1:]
                      if (v := suite_pass_hat_k(per_task, k)) is not None},
            pass_at_ci=_pass_at_ci(per_task),
            partial=task_partials(recs),
            by_group={g: Rate(sum(v), len(v)) for g, v in sorted(groups.items())},
            outcomes=dict(Counter(str(r.get("outcome") or ("pass" if passed(r) else "fail"))
                                  for r in recs)),
            findings=dict(findings.most_common()))
    return out


def _pass_at_ci(per_task: Mapping[str, list[bool]]) -> dict[int, tuple[float, float]]:
    out = {}
    for k in PASS_AT_K:
        if not per_task or any(len(s) < k for s in per_task.values()):
            continue
        if k == 1 and all(len(s) == 1 for s in per_task.values()):
            ci = wilson(sum(s[0] for s in per_task.values()), len(per_task))
        else:
            ci = bootstrap_ci([pass_at_k(len(s), sum(s), k) for s in per_task.values()])
        if ci is not None:
            out[k] = ci
    return out


def item_scores(suite: str, records: Iterable[Mapping[str, Any]]
                ) -> dict[str, dict[str, list[float]]]:
    """Per model, per item (question or task, in one language): the 0/1 score of each graded
    attempt or sample. Harness errors are left out, as they are of accuracy."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("outcome") in UNGRADED or not isinstance(r.get("model"), str):
            continue
        item = _task_id(r) if suite == "coding" else str(r.get("case_id") or "?")
        key = f"{item}-{r['lang']}" if r.get("lang") else item
        out[r["model"]][key].append(1.0 if passed(r) else 0.0)
    return {m: dict(items) for m, items in out.items()}


def paired_comparisons(suite: str, records: Iterable[Mapping[str, Any]],
                       models: Iterable[str] | None = None) -> tuple[Paired, ...]:
    """Every pair of models compared on the items both answered (in ``models`` order)."""
    scores = item_scores(suite, records)
    order = [m for m in (models or scores) if m in scores]
    return tuple(paired(a, b, scores[a], scores[b])
                 for i, a in enumerate(order) for b in order[i + 1:])


def speed_and_tokens(suite_records: Mapping[str, list[dict[str, Any]]]
                     ) -> tuple[list[SpeedStats], list[TokenUse]]:
    """Latency/throughput percentiles and token sums per (model, suite), plus ``all`` per model."""
    samples: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for suite, recs in suite_records.items():
        for r in recs:
            for m in _metric_samples(r):
                samples[(r["model"], suite)].append(m)
                samples[(r["model"], "all")].append(m)
    speed, tokens = [], []
    for (model, suite), ms in samples.items():
        speed.append(SpeedStats(
            model=model, suite=suite,
            ttft_s=Distribution.of(m.get("ttft_s") for m in ms),
            e2e_s=Distribution.of(m.get("e2e_s") for m in ms),
            decode_tps=Distribution.of(_first(m, "decode_tokens_per_s", "client_decode_tps")
                                       for m in ms),
            server_decode_tps=Distribution.of(
                _first(m, "server_decode_tokens_per_s", "server_decode_tps") for m in ms),
            token_sources=dict(Counter(str(m.get("token_source") or "?") for m in ms))))
        counted = [m for m in ms if _num(m.get("output_tokens")) is not None]
        tokens.append(TokenUse(
            model=model, suite=suite, requests=len(ms),
            prompt_tokens=int(sum(_num(m.get("prompt_tokens")) or 0 for m in counted)),
            output_tokens=int(sum(_num(m.get("output_tokens")) or 0 for m in counted)),
            counted=len(counted)))
    return speed, tokens


@dataclass(frozen=True)
class TaskPartial:
    """Partial credit on one task with sub-checks (--help, each option, each figure)."""

    samples: int
    mean: float  # the mean share of sub-checks passed per sample
    checks: Mapping[str, Rate]  # samples that passed each sub-check


def task_partials(records: Iterable[Mapping[str, Any]]) -> dict[str, TaskPartial]:
    """Per task whose records name several sub-checks (``run.checks``): the mean share passed
    and each sub-check's count. A sample without a sub-check (no code, stopped before) failed it.
    """
    per_task: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("outcome") not in UNGRADED:
            run = r.get("run")
            checks = run.get("checks") if isinstance(run, Mapping) else None
            per_task[_task_id(r)].append(checks if isinstance(checks, Mapping) else {})
    out = {}
    for task, samples in sorted(per_task.items()):
        names = list(dict.fromkeys(name for checks in samples for name in checks))
        if len(names) < 2:
            continue
        passed_checks = Counter(n for checks in samples for n in names if checks.get(n) is True)
        out[task] = TaskPartial(
            samples=len(samples),
            mean=math.fsum(sum(c.get(n) is True for n in names) / len(names) for c in samples)
            / len(samples),
            checks={n: Rate(passed_checks[n], len(samples)) for n in names})
    return out
