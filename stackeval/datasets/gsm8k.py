"""GSM8K in its official JSONL layout (question; answer = worked solution ending ``#### N``).

The model's answer is graded by its final number, as lm-evaluation-harness's flexible extract
does; worked examples for few-shot prompts come from ``train.jsonl`` beside the questions, with
the calculator annotations (``<<48/2=24>>``) removed and ``#### N`` written as "The answer is N."
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval.datasets import DatasetSpec, fill
from stackeval.errors import ConfigError
from stackeval.records import QACase

_FINAL = re.compile(r"####\s*([-+]?[\d,]*\.?\d+)\s*$")
_CALC = re.compile(r"<<[^>]*>>")


@dataclass(frozen=True)
class Problem:
    """One GSM8K problem as read from its file."""

    question: str
    solution: str  # the worked solution without its "#### N" line
    answer: float
    answer_text: str
    source: str


def _number_text(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def read_problems(path: Path) -> list[Problem]:
    """The problems of one JSONL file; a malformed line names file and line."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read benchmark file: {exc}") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not a JSON object ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not \
                isinstance(row.get("answer"), str):
            raise ConfigError(f"{where}: expected an object with 'question' and 'answer' texts")
        match = _FINAL.search(row["answer"].strip())
        if match is None:
            raise ConfigError(f"{where}: the answer does not end with '#### <number>'")
        value = float(match.group(1).replace(",", ""))
        solution = _CALC.sub("", row["answer"].strip()[: match.start()]).strip()
        out.append(Problem(row["question"].strip(), solution, value, _number_text(value), where))
    return out


def _files(spec: DatasetSpec) -> tuple[Path, Path]:
    split = spec.split or "test"
    test = spec.path if spec.path.is_file() else spec.path / f"{split}.jsonl"
    if not test.is_file():
        raise ConfigError(f"{spec.label}: no {test.name} in {spec.path}")
    return test, test.parent / "train.jsonl"


def prompt(template: dict[str, Any], problem: Problem, shots: list[Problem]) -> str:
    """Instruction, worked examples and the question, as the template lays them out."""
    sep = fill(template, "separator")
    examples = [fill(template, "item", question=s.question) + fill(
        template, "shot_answer", answer=f"{s.solution}\nThe answer is {s.answer_text}.")
        for s in shots]
    return (fill(template, "instruction") + fill(template, "header")
            + sep.join([*examples, fill(template, "item", question=problem.question)]))


def load(spec: DatasetSpec, template: dict[str, Any]) -> list[QACase]:
    """Every problem of the split (the first ``limit`` ones when a limit is set)."""
    if spec.subjects:
        raise ConfigError(f"{spec.label}: GSM8K has no subjects")
    test, train = _files(spec)
    shots = int(template.get("shots", 0)) if spec.shots is None else spec.shots
    if shots and not train.is_file():
        raise ConfigError(f"{spec.label}: {shots}-shot prompts need {train}; or use ?shots=0")
    examples = read_problems(train)[:shots] if shots else []
    return [QACase(id=f"gsm8k-{number:04d}", lang=str(template.get("lang", "en")),
                   category="gsm8k", prompt=prompt(template, p, examples),
                   grader={"type": "number", "value": p.answer, "mode": "last"},
                   note=p.answer_text, source=p.source)
            for number, p in enumerate(read_problems(test)[: spec.limit or None])]
