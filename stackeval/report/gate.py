"""CI gate: suite-level minimums (Q&A accuracy, coding pass@1) checked against saved records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackeval import store
from stackeval.errors import ConfigError
from stackeval.report.stats import coding_stats, qa_stats


@dataclass(frozen=True)
class Threshold:
    """A minimum for one suite's aggregate metric."""

    suite: str  # "qa" | "coding"
    metric: str  # "accuracy" | "pass@1"
    minimum: float  # a fraction, 0..1


@dataclass(frozen=True)
class GateResult:
    """One model checked against one threshold."""

    threshold: Threshold
    model: str
    value: float | None
    detail: str

    @property
    def passed(self) -> bool:
        """Met the minimum (a model without records never does)."""
        return self.value is not None and self.value >= self.threshold.minimum - 1e-12

    def line(self) -> str:
        """The one summary line CI logs show."""
        t = self.threshold
        got = "no graded records" if self.value is None else f"{100 * self.value:.1f}%"
        verdict = "ok  " if self.passed else "FAIL"
        op = ">=" if self.passed else "<"
        return (f"stackeval gate: {verdict} {t.suite} {t.metric} {self.model}: {got} {op} "
                f"{100 * t.minimum:.1f}% required{' (' + self.detail + ')' if self.detail else ''}")


def parse_fraction(text: str | float, name: str) -> float:
    """``0.6``, ``60%`` or ``60`` (numbers above 1 are percentages) as a fraction."""
    raw = str(text).strip()
    try:
        value = float(raw.rstrip("%"))
    except ValueError as exc:
        raise ConfigError(f"{name}: expected a fraction like 0.6 or 60%, got {raw!r}") from exc
    if raw.endswith("%") or value > 1:
        value /= 100
    if not 0 <= value <= 1:
        raise ConfigError(f"{name}: {raw!r} is outside 0..1 (0%..100%)")
    return value


def evaluate(run_dir: Path, thresholds: Iterable[Threshold],
             expected_models: Sequence[str] = ()) -> list[GateResult]:
    """Check every model of each gated suite; a suite with no records at all is not gated."""
    results = []
    for t in thresholds:
        records = list(store.read_records(run_dir, t.suite))
        if not records:
            continue
        values: Mapping[str, tuple[float | None, str]]
        if t.suite == "qa":
            values = {m: (s.overall.value, f"{s.overall.passed}/{s.overall.total} graded")
                      for m, s in qa_stats(records).items()}
        else:
            values = {m: (s.pass_at.get(1), f"{s.tasks} tasks, {s.samples} samples")
                      for m, s in coding_stats(records).items()}
        for model in dict.fromkeys([*expected_models, *values]):
            value, detail = values.get(model, (None, f"no {t.suite} records"))
            results.append(GateResult(t, model, value, detail))
    return results
