"""Multiple-choice benchmarks in their official CSV layouts: MMLU, C-Eval, CMMLU.

A prompt is the template's instruction and header, ``shots`` worked examples of the same subject
from the dev split, then the question; the answer is graded by its option letter.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval.datasets import DatasetSpec, fill
from stackeval.errors import ConfigError
from stackeval.records import QACase

LETTERS = "ABCD"
DEFAULT_SPLIT = {"mmlu": "test", "ceval": "val", "cmmlu": "test"}
_COLUMNS = ("question", "a", "b", "c", "d", "answer")


@dataclass(frozen=True)
class Item:
    """One multiple-choice question as read from its file."""

    question: str
    options: tuple[str, str, str, str]
    answer: str  # a letter; "" when the split carries no answers (C-Eval's test)
    source: str  # file:line


def grader(letter: str) -> dict[str, Any]:
    """The option letter, as the choice grader extracts it (a cue such as "Answer:"/"答案",
    a marked letter such as "B." or "(B)", or the letter alone)."""
    return {"type": "choice", "expected": letter, "options": LETTERS}


def _file_name(name: str, subject: str, split: str) -> str:
    return f"{subject}.csv" if name == "cmmlu" else f"{subject}_{split}.csv"


def _subject(name: str, path: Path, split: str) -> str:
    stem = path.stem
    suffix = f"_{split}"
    return stem[: -len(suffix)] if name != "cmmlu" and stem.endswith(suffix) else stem


def _split_dir(root: Path, split: str) -> Path | None:
    for candidate in (root / split, root / "data" / split):
        if candidate.is_dir():
            return candidate
    return None


def subject_files(spec: DatasetSpec) -> list[tuple[str, Path, Path | None]]:
    """(subject, question file, dev file or None) for each subject asked for."""
    split = spec.split or DEFAULT_SPLIT[spec.name]
    if spec.path.is_file():
        files = [spec.path]
        dev_dir = spec.path.parent.parent / "dev"
    else:
        where = _split_dir(spec.path, split)
        if where is None:
            raise ConfigError(f"{spec.label}: no {split}/ folder (the benchmark's {split} split) "
                              f"in {spec.path}")
        files = sorted(where.glob("*.csv"))
        dev_dir = where.parent / "dev"
    out = [(_subject(spec.name, f, split), f,
            dev if (dev := dev_dir / _file_name(spec.name, _subject(spec.name, f, split), "dev")
                    ).is_file() else None)
           for f in files]
    if spec.subjects:
        known = {s for s, _, _ in out}
        if unknown := sorted(set(spec.subjects) - known):
            raise ConfigError(f"{spec.label}: unknown subjects {', '.join(unknown)}; found: "
                              f"{', '.join(sorted(known)) or 'none'}")
        out = [x for x in out if x[0] in spec.subjects]
    return out


def read_items(path: Path, need_answers: bool = True) -> list[Item]:
    """The questions of one CSV file, header or not; a malformed row names file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read benchmark file: {exc}") from exc
    reader = csv.reader(text.splitlines(keepends=True))
    items: list[Item] = []
    index: tuple[int, ...] | None = None
    start = 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in row):
            continue
        if index is None:
            names = [c.strip().lower() for c in row]
            if "question" in names and all(k in names for k in _COLUMNS[1:5]):
                index = tuple(names.index(k) if k in names else -1 for k in _COLUMNS)
                continue
            index = (0, 1, 2, 3, 4, 5)  # MMLU: no header
        if max(index) >= len(row):
            raise ConfigError(f"{path}:{line}: {len(row)} cells; expected question, A, B, C, D"
                              f"{', answer' if index[5] >= 0 else ''}")
        answer = row[index[5]].strip().upper() if index[5] >= 0 else ""
        if answer and answer not in LETTERS:
            raise ConfigError(f"{path}:{line}: answer must be one of A, B, C, D, got {answer!r}")
        if need_answers and not answer:
            raise ConfigError(f"{path}:{line}: no answer (this split carries none; C-Eval's "
                              "test answers are not public: use ?split=val)")
        question = row[index[0]].strip()
        if not question:
            raise ConfigError(f"{path}:{line}: empty question")
        options = tuple(row[i].strip() for i in index[1:5])
        items.append(Item(question, options, answer, f"{path}:{line}"))  # type: ignore[arg-type]
    return items


def _subject_name(spec: DatasetSpec, subject: str) -> str:
    """The subject as the prompt names it (C-Eval's mapping gives its Chinese name)."""
    mapping = spec.path / "subject_mapping.json" if spec.path.is_dir() else None
    if spec.name == "ceval" and mapping is not None and mapping.is_file():
        try:
            names = json.loads(mapping.read_text(encoding="utf-8"))
            if isinstance(names.get(subject), list) and len(names[subject]) > 1:
                return str(names[subject][1])
        except (OSError, ValueError, AttributeError):
            pass
    return subject.replace("_", " ")


def _item_text(template: dict[str, Any], item: Item) -> str:
    options = "\n".join(fill(template, "option", letter=letter, text=text)
                        for letter, text in zip(LETTERS, item.options, strict=True))
    return fill(template, "item", question=item.question, options=options)


def prompt(template: dict[str, Any], subject: str, item: Item, shots: list[Item]) -> str:
    """Instruction, header, worked examples and the question, as the template lays them out."""
    sep = fill(template, "separator")
    examples = [_item_text(template, s) + fill(template, "shot_answer", answer=s.answer)
                for s in shots]
    return (fill(template, "instruction") + fill(template, "header", subject=subject)
            + sep.join([*examples, _item_text(template, item)]))


def load(spec: DatasetSpec, template: dict[str, Any]) -> list[QACase]:
    """Every question of the chosen subjects and split."""
    shots = int(template.get("shots", 0)) if spec.shots is None else spec.shots
    cases = []
    for subject, path, dev in subject_files(spec):
        if shots and dev is None:
            raise ConfigError(f"{spec.label}: {shots}-shot prompts need the dev split for "
                              f"{subject} ({_file_name(spec.name, subject, 'dev')} in a dev/ "
                              "folder beside the questions); or use ?shots=0")
        examples = read_items(dev)[:shots] if shots and dev is not None else []
        name = _subject_name(spec, subject)
        items = read_items(path)
        for number, item in enumerate(items[: spec.limit or None]):
            slug = re.sub(r"[^a-z0-9_-]+", "-", subject.lower()).strip("-") or "subject"
            cases.append(QACase(
                id=f"{spec.name}-{slug}-{number:04d}", lang=str(template.get("lang", "en")),
                category=spec.name, prompt=prompt(template, name, item, examples),
                grader=grader(item.answer),
                note=f"{item.answer}. {item.options[LETTERS.index(item.answer)]}",
                source=item.source))
    return cases
