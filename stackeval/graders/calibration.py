"""How far the graders agree with a person: a hand-labelled calibration set and its statistics.

The set lives in ``fixtures/calibration/*.jsonl``, one real answer of a bundled model per line,
labelled by hand with the verdict a careful teacher gives and why::

    {"model": "qwen2.5-coder:1.5b", "case_id": "strawberry-r", "lang": "en",
     "category": "hallucination", "grader": "number", "answer": "...",
     "finish_reason": "stop", "human_verdict": "fail", "why": "miscounts and concludes 2",
     "tags": [], "run_id": "20261129-005510-6d6bb0"}

``grader`` is the question's grader family (see :func:`family`), fixed in the file so that
agreement before and after a spec change is reported per the same families. ``tags`` mark
answers a grader must never pass: ``echo`` (the answer's only relevant text is copied from the
prompt) and ``loop`` (a repetition loop).

:func:`measure` grades every labelled answer with the question's current spec and returns the
agreement and Cohen's kappa, overall and per family, with the disagreements.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackeval.config import FIXTURES_DIR
from stackeval.errors import ConfigError
from stackeval.records import Grade

DEFAULT_DIR = FIXTURES_DIR / "calibration"
VERDICTS = ("pass", "fail")
TAGS = ("echo", "loop")
_FIELDS = {"model", "case_id", "lang", "category", "grader", "answer", "human_verdict", "why"}
# Leaf grader types, most telling first: a spec's family is the first one it uses.
_FAMILY_ORDER = ("yes_no", "weekday", "number", "choice", "regex", "any_of", "contains",
                 "all_of", "exact", "not_contains")
_TEXT = {"regex", "any_of", "contains", "all_of", "exact", "not_contains"}


@dataclass(frozen=True)
class Label:
    """One labelled answer."""

    model: str
    case_id: str
    lang: str
    category: str
    grader: str
    answer: str
    human_verdict: str
    why: str
    tags: tuple[str, ...] = ()
    finish_reason: str | None = None
    run_id: str = ""
    source: str = ""  # file:line

    @property
    def human_pass(self) -> bool:
        return self.human_verdict == "pass"


def family(spec: Mapping[str, Any]) -> str:
    """The grader family of a spec: yes_no, weekday, number, choice, or text (word matching)."""
    leaves: list[str] = []

    def walk(s: Mapping[str, Any]) -> None:
        if s.get("type") in ("all", "any"):
            for sub in s.get("of", []):
                walk(sub)
        elif s.get("type") == "not":
            return  # a "must not" check does not say what kind of answer is wanted
        else:
            leaves.append(str(s.get("type")))

    walk(spec)
    for kind in _FAMILY_ORDER:
        if kind in leaves:
            return "text" if kind in _TEXT else kind
    return "text"


def load_labels(path_or_dir: str | Path = DEFAULT_DIR) -> list[Label]:
    """Every label in a .jsonl file or a directory of them; a malformed line names itself."""
    root = Path(path_or_dir)
    files = sorted(root.glob("*.jsonl")) if root.is_dir() else [root]
    if not files or not all(f.is_file() for f in files):
        raise ConfigError(f"{root}: no calibration .jsonl files")
    labels: list[Label] = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{where}: not JSON: {exc}") from None
            if not isinstance(row, dict) or _FIELDS - set(row):
                raise ConfigError(f"{where}: a label needs {', '.join(sorted(_FIELDS))}")
            if row["human_verdict"] not in VERDICTS:
                raise ConfigError(f"{where}: human_verdict must be pass or fail")
            tags = tuple(row.get("tags", ()))
            if unknown := set(tags) - set(TAGS):
                raise ConfigError(f"{where}: unknown tags {sorted(unknown)}")
            labels.append(Label(
                model=row["model"], case_id=row["case_id"], lang=row["lang"],
                category=row["category"], grader=row["grader"], answer=row["answer"],
                human_verdict=row["human_verdict"], why=row["why"], tags=tags,
                finish_reason=row.get("finish_reason"), run_id=row.get("run_id", ""),
                source=where,
            ))
    return labels


def kappa(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of (human, grader) verdicts; None when chance agreement is total."""
    pairs = list(pairs)
    if not pairs:
        return None
    n = len(pairs)
    agree = sum(h == g for h, g in pairs) / n
    h_pass = sum(h for h, _ in pairs) / n
    g_pass = sum(g for _, g in pairs) / n
    chance = h_pass * g_pass + (1 - h_pass) * (1 - g_pass)
    return None if chance >= 1 else (agree - chance) / (1 - chance)


@dataclass(frozen=True)
class Stats:
    """Agreement of one group of labels: counts, rate and kappa."""

    n: int
    agree: int
    false_pass: int  # the grader passed what the person failed
    false_fail: int
    kappa: float | None

    @property
    def rate(self) -> float:
        return self.agree / self.n if self.n else 0.0

    def line(self, name: str) -> str:
        k = "n/a" if self.kappa is None else f"{self.kappa:.3f}"
        return (f"{name:<10} n={self.n:<4} agree={self.rate:6.1%}  kappa={k:<6} "
                f"false pass={self.false_pass:<3} false fail={self.false_fail}")


def _stats(pairs: list[tuple[bool, bool]]) -> Stats:
    return Stats(
        n=len(pairs), agree=sum(h == g for h, g in pairs),
        false_pass=sum(g and not h for h, g in pairs),
        false_fail=sum(h and not g for h, g in pairs), kappa=kappa(pairs),
    )


@dataclass(frozen=True)
class Measurement:
    """The graders against the labels: overall, per grader family, and each disagreement."""

    overall: Stats
    by_family: dict[str, Stats]
    disagreements: list[tuple[Label, Grade]] = field(default_factory=list)
    # labels tagged echo or loop that the grader passed: must be none
    forbidden_passes: list[tuple[Label, Grade]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """What a run saves (``grader_agreement.json``) and the report prints."""
        def row(st: Stats) -> dict[str, Any]:
            return {"n": st.n, "agreement": st.rate, "kappa": st.kappa,
                    "false_pass": st.false_pass, "false_fail": st.false_fail}
        return {"overall": row(self.overall),
                "by_family": {k: row(v) for k, v in sorted(self.by_family.items())},
                "echo_or_loop_passed": len(self.forbidden_passes)}

    def table(self) -> str:
        lines = [self.overall.line("overall")]
        lines += [s.line(name) for name, s in sorted(self.by_family.items())]
        return "\n".join(lines)


GradeFn = Callable[[Label], Grade]


def measure(labels: Iterable[Label], grade_label: GradeFn) -> Measurement:
    """Grade every label with ``grade_label`` and compare with the person's verdict."""
    pairs: dict[str, list[tuple[bool, bool]]] = {}
    everything: list[tuple[bool, bool]] = []
    disagreements, forbidden = [], []
    for label in labels:
        g = grade_label(label)
        pair = (label.human_pass, g.passed)
        pairs.setdefault(label.grader, []).append(pair)
        everything.append(pair)
        if pair[0] != pair[1]:
            disagreements.append((label, g))
        if g.passed and set(label.tags) & set(TAGS):
            forbidden.append((label, g))
    return Measurement(
        overall=_stats(everything),
        by_family={name: _stats(p) for name, p in pairs.items()},
        disagreements=disagreements, forbidden_passes=forbidden,
    )


def measure_fixtures(path_or_dir: str | Path = DEFAULT_DIR) -> Measurement:
    """The deterministic graders with the current Q&A specs against the bundled labels."""
    from stackeval.graders import grade
    from stackeval.qa import load_cases

    cases = {(c.id, c.lang): c for c in load_cases()}

    def grade_label(label: Label) -> Grade:
        case = cases[(label.case_id, label.lang)]
        return grade(label.answer, case.grader, prompt=case.prompt)

    return measure(load_labels(path_or_dir), grade_label)


def measure_judge(judge: Any, path_or_dir: str | Path = DEFAULT_DIR) -> Measurement:
    """An LLM judge (:class:`~stackeval.graders.llm_judge.Judge`) against the bundled labels; an
    unreadable or failed verdict counts as a fail."""
    from stackeval.qa import load_examples

    examples = {(e.case.id, e.case.lang): e for e in load_examples()}

    def grade_label(label: Label) -> Grade:
        e = examples[(label.case_id, label.lang)]
        v = judge.grade(e.case.prompt, e.case.note, label.answer,
                        references=e.references, wrong=e.wrong)
        return Grade(passed=v.passed is True, explanation=f"judge: {v.reason}")

    return measure(load_labels(path_or_dir), grade_label)
