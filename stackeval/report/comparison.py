"""The comparison report's data model, built only from one run's saved records.

``build_report(run_dir, prices)`` reads ``reports/runs/<run_id>/``: ``qa*.jsonl``,
``coding*.jsonl``, ``perf*.jsonl``, ``environment.json``, ``hardware.json`` and telemetry traces
(``telemetry*.json``, ``telemetry/*.json``). Every reader tolerates missing files and fields: a
suite without records is "not run", a figure without data is ``None`` — never zero.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.errors import ConfigError
from stackeval.report.costs import Cost, Prices, api_equivalent, costs
from stackeval.report.resources import Resources, read_resources
from stackeval.report.significance import Paired
from stackeval.report.stats import (
    SUITES,
    CodingStats,
    QAStats,
    SpeedStats,
    TokenUse,
    coding_stats,
    paired_comparisons,
    passed,
    qa_stats,
    speed_and_tokens,
)

# -- the report model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSetup:
    """What was served under a model name (from environment.json)."""

    name: str
    kind: str | None = None
    file: str | None = None
    sha256: str | None = None
    quantization: str | None = None
    architecture: str | None = None
    context_size: int | None = None
    size_bytes: int | None = None
    server: str | None = None
    gateway: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything the Markdown and HTML renderers show, computed from one run's records."""

    run_id: str
    run_dir: Path
    generated_at: str
    environment: Mapping[str, Any]
    hardware: Mapping[str, Any]
    models: tuple[str, ...]
    setups: Mapping[str, ModelSetup]
    ran: Mapping[str, tuple[str, ...]]  # suite -> models with records in it
    qa: Mapping[str, QAStats]
    coding: Mapping[str, CodingStats]
    speed: tuple[SpeedStats, ...]
    tokens: tuple[TokenUse, ...]
    resources: tuple[Resources, ...]
    perf_summaries: tuple[Mapping[str, Any], ...]  # perf.jsonl summary, cold_start, knee lines
    prices: Prices | None
    costs: Mapping[str, Cost]
    api_equivalent: Mapping[str, Mapping[str, float]]  # model -> price label -> amount
    notes: tuple[str, ...] = field(default=())  # what could not be read, and why
    # suite -> every pair of models compared on the items both answered
    paired: Mapping[str, tuple[Paired, ...]] = field(default_factory=dict)
    # the graders against fixtures/calibration when the run was graded (grader_agreement.json)
    grader_agreement: Mapping[str, Any] = field(default_factory=dict)
    # model -> (answers the LLM judge read, answers where it disagreed with the graders)
    judge_disagreements: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def speed_of(self, model: str, suite: str = "all") -> SpeedStats | None:
        """The speed row of a model in a suite, if it has one."""
        return next((s for s in self.speed if s.model == model and s.suite == suite), None)

    def suite_ran(self, suite: str) -> bool:
        """Whether any model has records in the suite."""
        return bool(self.ran.get(suite))


# -- readers ------------------------------------------------------------------------------------


def title(report: Report) -> str:
    """The report's title line."""
    return f"Model comparison report — run {report.run_id}"


def _read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name}: unreadable ({exc})")
        return {}
    return data if isinstance(data, dict) else {}


def _records(run_dir: Path, suite: str) -> list[dict[str, Any]]:
    return [r for r in store.read_records(run_dir, suite)
            if isinstance(r, dict) and isinstance(r.get("model"), str)]


def _setups(env: Mapping[str, Any], qa_records: list[dict[str, Any]]) -> dict[str, ModelSetup]:
    known = ModelSetup.__dataclass_fields__
    out: dict[str, ModelSetup] = {}
    served_by_model = {r["model"]: r.get("served") for r in qa_records if r.get("served")}
    for name, served in {**served_by_model, **(env.get("models") or {})}.items():
        if isinstance(served, Mapping):
            fields = {k: v for k, v in served.items() if k in known and k != "name"}
            out[name] = ModelSetup(name=name, **fields)
    return out


def _judge_disagreements(qa_records: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = {}
    for r in qa_records:
        opinion = r.get("judge")
        if isinstance(opinion, Mapping) and opinion.get("verdict") in ("pass", "fail"):
            c = counts.setdefault(r["model"], [0, 0])
            c[0] += 1
            c[1] += bool(opinion.get("disagrees"))
    return {m: (n, k) for m, (n, k) in counts.items()}


# -- entry point --------------------------------------------------------------------------------


def build_report(run_dir: Path, prices: Prices | None = None) -> Report:
    """Read one run directory and compute the whole report model."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run directory")
    notes: list[str] = []
    env = _read_json(run_dir / "environment.json", notes)
    hardware = _read_json(run_dir / "hardware.json", notes) or env.get("hardware") or {}
    suite_records = {s: _records(run_dir, s) for s in SUITES}
    order = list((env.get("models") or {}).keys())
    for recs in suite_records.values():
        order.extend(r["model"] for r in recs)
    models = tuple(dict.fromkeys(order))
    qa = qa_stats(suite_records["qa"])
    coding = coding_stats(suite_records["coding"])
    speed, tokens = speed_and_tokens(suite_records)
    resources = read_resources(run_dir, models, notes)
    correct = Counter({m: s.overall.passed for m, s in qa.items()})
    for r in suite_records["coding"]:
        correct[r["model"]] += passed(r)
    profile = (env.get("stack") or {}).get("profile") or (env.get("settings") or {}).get("stack")
    return Report(
        run_id=str(env.get("run_id") or run_dir.name), run_dir=run_dir,
        generated_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        environment=env, hardware=hardware, models=models,
        setups=_setups(env, suite_records["qa"]),
        ran={s: tuple(dict.fromkeys(r["model"] for r in rs)) for s, rs in suite_records.items()},
        qa=qa, coding=coding, speed=tuple(speed), tokens=tuple(tokens),
        resources=tuple(resources), prices=prices,
        perf_summaries=tuple(r for r in suite_records["perf"]
                             if r.get("record") in ("summary", "cold_start", "knee")),
        costs=costs(models, tokens, speed, resources, correct, prices, profile) if prices else {},
        api_equivalent=api_equivalent(tokens, prices) if prices else {},
        paired={s: paired_comparisons(s, suite_records[s], models)
                for s in ("qa", "coding") if suite_records[s]},
        grader_agreement=_read_json(run_dir / "grader_agreement.json", notes),
        judge_disagreements=_judge_disagreements(suite_records["qa"]),
        notes=tuple(notes))
