"""Cross-run comparison: the same models in two or more saved runs, each run against the first.

For every model both runs have: accuracy (Q&A) and pass rate (coding) overall, per category,
language and task group, with Wilson intervals and a paired test on the items both runs graded
(the same question in the same language); speed medians and perf-suite figures side by side; and
every difference in *what was served* — file digest, quantization, server and gateway versions,
settings, host — so a change in score is not read as a change in the model when the stack,
the file or the settings changed instead. Built from saved records only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.errors import ConfigError
from stackeval.report.comparison import Report, build_report
from stackeval.report.significance import Paired, paired
from stackeval.report.stats import UNGRADED, Rate, coding_group, item_scores, passed

# Settings that say where or how a run was driven, not what was measured.
IGNORED_SETTINGS = frozenset({"run_id", "reports_dir", "cache_dir", "models", "keep_stack",
                              "resume", "gateway_port", "start_timeout", "api_key"})
SERVED_FIELDS = ("sha256", "quantization", "file", "size_bytes", "context_size", "architecture",
                 "kind", "server", "gateway")
STACK_FIELDS = ("profile", "server_version", "gateway_version", "replicas", "parallel", "threads")
HOST_FIELDS = ("cpu_model", "cpu_cores", "cpu_threads", "ram_total_gib")


@dataclass(frozen=True)
class Delta:
    """One model's score in one scope of one suite, in the baseline run and the other run."""

    model: str
    suite: str  # qa | coding
    scope: str  # "overall", "category logic", "lang zh", "group humaneval"
    base: Rate | None
    other: Rate | None
    pair: Paired  # the same items in both runs (a = baseline run, b = other run)

    @property
    def change(self) -> float | None:
        """Other run minus baseline over each run's own graded items."""
        if self.base is None or self.other is None or None in (self.base.value,
                                                               self.other.value):
            return None
        return self.other.value - self.base.value  # type: ignore[operator]


@dataclass(frozen=True)
class Served:
    """Something about what was served or how, that differs between the two runs."""

    model: str | None  # None: the whole run (stack, settings, host)
    what: str
    base: str
    other: str


@dataclass(frozen=True)
class Figure:
    """A speed or perf figure of one model in both runs (no test: compare with care)."""

    model: str
    what: str
    base: float | None
    other: float | None
    better: str  # "higher" or "lower"


@dataclass(frozen=True)
class RunPair:
    """One run compared with the baseline run."""

    base: Report
    other: Report
    deltas: tuple[Delta, ...]
    served: tuple[Served, ...]
    figures: tuple[Figure, ...]
    only_base: tuple[str, ...]  # models in the baseline run only
    only_other: tuple[str, ...]


@dataclass(frozen=True)
class CrossRun:
    """Every run after the first compared with the first."""

    runs: tuple[Report, ...]
    pairs: tuple[RunPair, ...]


def resolve_run(name: str | Path, reports_dir: Path) -> Path:
    """A run directory from a path or a run id under ``reports_dir/runs``."""
    path = Path(name)
    if path.is_dir():
        return path
    candidate = store.run_dir(reports_dir, str(name))
    if candidate.is_dir():
        return candidate
    raise ConfigError(f"--compare {name}: neither a run directory nor a run id under "
                      f"{reports_dir / 'runs'}")


def compare_runs(run_dirs: Sequence[Path]) -> CrossRun:
    """Read each run and compare every later run with the first."""
    if len(run_dirs) < 2:
        raise ConfigError("--compare needs at least two runs (the first is the baseline)")
    reports = tuple(build_report(Path(d)) for d in run_dirs)
    records = [{s: [r for r in store.read_records(rep.run_dir, s) if isinstance(r, dict)]
                for s in ("qa", "coding")} for rep in reports]
    return CrossRun(reports, tuple(_pair(reports[0], rep, records[0], recs)
                                   for rep, recs in zip(reports[1:], records[1:], strict=True)))


def _scopes(suite: str, recs: Iterable[Mapping[str, Any]]) -> list[tuple[str, Callable]]:
    """``overall`` then one scope per category and language (Q&A) or task group (coding)."""
    recs = list(recs)
    scopes: list[tuple[str, Callable[[Mapping[str, Any]], bool]]] = [("overall", lambda r: True)]
    if suite == "qa":
        for key in ("category", "lang"):
            for value in sorted({str(r.get(key)) for r in recs if r.get(key)}):
                scopes.append((f"{key} {value}",
                               lambda r, k=key, v=value: str(r.get(k)) == v))
    else:
        for group in sorted({coding_group(r) for r in recs}):
            scopes.append((f"group {group}", lambda r, g=group: coding_group(r) == g))
    return scopes


def _rate(recs: list[Mapping[str, Any]]) -> Rate | None:
    graded = [r for r in recs if r.get("outcome") not in UNGRADED]
    return Rate(sum(passed(r) for r in graded), len(graded)) if graded else None


def _deltas(model: str, suite: str, base: list[Mapping[str, Any]],
            other: list[Mapping[str, Any]], labels: tuple[str, str]) -> list[Delta]:
    out = []
    for scope, keep in _scopes(suite, base + other):
        b = [r for r in base if keep(r)]
        o = [r for r in other if keep(r)]
        if not b and not o:
            continue
        sb = item_scores(suite, b).get(model, {})
        so = item_scores(suite, o).get(model, {})
        out.append(Delta(model, suite, scope, _rate(b), _rate(o),
                         paired(labels[0], labels[1], sb, so)))
    return out


def _text(value: Any) -> str:
    return "–" if value in (None, "", [], {}) else str(value)


def _diff(model: str | None, what: str, a: Any, b: Any, out: list[Served]) -> None:
    if _text(a) != _text(b):
        out.append(Served(model, what, _text(a), _text(b)))


def served_differences(base: Report, other: Report) -> list[Served]:
    """What was served, and how, that is not the same in both runs."""
    out: list[Served] = []
    for model in [m for m in base.models if m in other.models]:
        a, b = base.setups.get(model), other.setups.get(model)
        for name in SERVED_FIELDS:
            _diff(model, name, getattr(a, name, None), getattr(b, name, None), out)
    sa, sb = base.environment.get("stack") or {}, other.environment.get("stack") or {}
    for name in STACK_FIELDS:
        _diff(None, f"stack {name}", sa.get(name), sb.get(name), out)
    ea, eb = base.environment.get("settings") or {}, other.environment.get("settings") or {}
    for name in sorted((ea.keys() | eb.keys()) - IGNORED_SETTINGS):
        _diff(None, f"setting {name}", ea.get(name), eb.get(name), out)
    ha, hb = base.hardware.get("host") or {}, other.hardware.get("host") or {}
    for name in HOST_FIELDS:
        _diff(None, f"host {name}", ha.get(name), hb.get(name), out)
    ga = [g.get("name") for g in base.hardware.get("gpus") or []]
    gb = [g.get("name") for g in other.hardware.get("gpus") or []]
    _diff(None, "GPUs", ", ".join(map(str, ga)), ", ".join(map(str, gb)), out)
    return out


def _perf_key(s: Mapping[str, Any]) -> tuple[str, str, str, int, float]:
    return (s["model"], str(s.get("scenario")), str(s.get("endpoint_kind")),
            int(s.get("concurrency") or 0), float(s.get("rate_rps") or 0))


def _figures(model: str, base: Report, other: Report) -> list[Figure]:
    out = []
    a, b = base.speed_of(model), other.speed_of(model)
    if a and b:
        out += [Figure(model, "TTFT p50 s (all requests)", a.ttft_s.p50, b.ttft_s.p50, "lower"),
                Figure(model, "decode tok/s p50 (all requests)", a.decode_tps.p50,
                       b.decode_tps.p50, "higher")]
    pa = {_perf_key(s): s for s in base.perf_summaries
          if s.get("record") == "summary" and s.get("model") == model}
    pb = {_perf_key(s): s for s in other.perf_summaries
          if s.get("record") == "summary" and s.get("model") == model}
    for key in sorted(pa.keys() & pb.keys()):
        _, scenario, kind, conc, rate = key
        load = f"{rate:g} req/s" if rate else f"c={conc}"
        label = f"perf {scenario}{'@gateway' if kind == 'gateway' else ''} {load}"
        out += [Figure(model, f"{label} TTFT p50 s", pa[key]["ttft_s"]["p50"],
                       pb[key]["ttft_s"]["p50"], "lower"),
                Figure(model, f"{label} aggregate tok/s", pa[key].get("aggregate_output_tps"),
                       pb[key].get("aggregate_output_tps"), "higher")]
    ka = next((k for k in base.perf_summaries if k.get("record") == "knee"
               and k.get("model") == model), None)
    kb = next((k for k in other.perf_summaries if k.get("record") == "knee"
               and k.get("model") == model), None)
    if ka and kb:
        out.append(Figure(model, "open-loop knee req/s", ka.get("knee_rps"), kb.get("knee_rps"),
                          "higher"))
    return out


def _pair(base: Report, other: Report, base_recs: Mapping[str, list[dict[str, Any]]],
          other_recs: Mapping[str, list[dict[str, Any]]]) -> RunPair:
    shared = [m for m in base.models if m in other.models]
    deltas: list[Delta] = []
    for suite in ("qa", "coding"):
        for model in shared:
            b = [r for r in base_recs[suite] if r.get("model") == model]
            o = [r for r in other_recs[suite] if r.get("model") == model]
            if b or o:
                deltas += _deltas(model, suite, b, o, (base.run_id, other.run_id))
    return RunPair(base, other, tuple(deltas), tuple(served_differences(base, other)),
                   tuple(f for m in shared for f in _figures(m, base, other)),
                   tuple(m for m in base.models if m not in other.models),
                   tuple(m for m in other.models if m not in base.models))
