"""Standard benchmarks read from their official files on disk, as Q&A cases.

``--qa-dataset NAME:PATH[?key=value&...]`` (comma-separated for several) with NAME one of:

- ``mmlu``: Hendrycks et al.'s ``data/{dev,val,test}/<subject>_<split>.csv`` (no header: question,
  A, B, C, D, answer); PATH is the folder holding ``test/`` (or ``data/``), or one CSV file.
- ``ceval``: C-Eval's ``{dev,val,test}/<subject>_<split>.csv`` (header id, question, A–D, answer,
  explanation); the test split has no answers, so ``val`` is the default. Subject names come
  from ``subject_mapping.json`` when it is there.
- ``cmmlu``: CMMLU's ``{dev,test}/<subject>.csv`` (header: index, Question, A–D, Answer).
- ``gsm8k``: ``test.jsonl`` (question, answer ending ``#### N``); PATH is the file or its folder;
  worked examples come from ``train.jsonl`` beside it.

Keys: ``shots`` (worked examples per prompt, from the dev/train split; default per benchmark in
``fixtures/datasets/templates.yaml``), ``limit`` (first N questions per subject, 0 = all),
``subjects`` (``+``-separated), ``split``. Multiple choice is graded by the option letter,
GSM8K by the final number. Nothing is downloaded: the files are the user's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackeval.config import FIXTURES_DIR
from stackeval.errors import ConfigError
from stackeval.records import QACase

TEMPLATES = FIXTURES_DIR / "datasets" / "templates.yaml"
NAMES = ("mmlu", "ceval", "cmmlu", "gsm8k")
_KEYS = {"shots", "limit", "subjects", "split"}


@dataclass(frozen=True)
class DatasetSpec:
    """One ``--qa-dataset`` entry, parsed."""

    name: str
    path: Path
    shots: int | None = None  # None: the template's default
    limit: int = 0  # questions per subject; 0: all
    subjects: tuple[str, ...] = ()
    split: str | None = None

    @property
    def label(self) -> str:
        """How errors name this entry."""
        return f"--qa-dataset {self.name}:{self.path}"


def parse_spec(text: str) -> DatasetSpec:
    """``mmlu:/data/mmlu?shots=0&limit=20&subjects=anatomy+virology`` as a DatasetSpec."""
    name, sep, rest = text.strip().partition(":")
    if not sep or not rest:
        raise ConfigError(f"--qa-dataset {text!r}: expected NAME:PATH, e.g. mmlu:/data/mmlu "
                          f"(NAME one of {', '.join(NAMES)})")
    name = name.lower()
    if name not in NAMES:
        raise ConfigError(f"--qa-dataset {text!r}: unknown benchmark {name!r}; known: "
                          f"{', '.join(NAMES)}")
    path, _, query = rest.partition("?")
    options: dict[str, Any] = {}
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if not eq or key not in _KEYS:
            raise ConfigError(f"--qa-dataset {text!r}: unknown option {part!r}; known: "
                              f"{', '.join(sorted(_KEYS))} (key=value, joined by &)")
        if key in ("shots", "limit"):
            if not value.isdigit():
                raise ConfigError(f"--qa-dataset {text!r}: {key} must be a whole number >= 0")
            options[key] = int(value)
        elif key == "subjects":
            options[key] = tuple(s for s in value.split("+") if s)
        else:
            options[key] = value
    spec = DatasetSpec(name, Path(path).expanduser(), **options)
    if not spec.path.exists():
        raise ConfigError(f"{spec.label}: no such file or directory")
    return spec


def load_templates(path: Path = TEMPLATES) -> dict[str, dict[str, Any]]:
    """The benchmarks' prompt templates."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read benchmark templates: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(n), dict) for n in NAMES):
        raise ConfigError(f"{path}: expected a template for each of {', '.join(NAMES)}")
    return data


def load_dataset(spec: DatasetSpec | str, templates: dict[str, Any] | None = None
                 ) -> list[QACase]:
    """The cases of one benchmark, in file order."""
    from stackeval.datasets import choice, gsm8k

    spec = parse_spec(spec) if isinstance(spec, str) else spec
    template = (templates or load_templates())[spec.name]
    cases = (gsm8k.load(spec, template) if spec.name == "gsm8k" else
             choice.load(spec, template))
    if not cases:
        raise ConfigError(f"{spec.label}: no questions found")
    return cases


def load_datasets(specs: Iterable[str]) -> list[QACase]:
    """The cases of every ``--qa-dataset`` entry; an id seen twice is an error."""
    templates = load_templates()
    cases: list[QACase] = []
    seen: dict[str, str] = {}
    for text in specs:
        for case in load_dataset(text, templates):
            if case.test_id in seen:
                raise ConfigError(f"{case.source}: question {case.test_id} also comes from "
                                  f"{seen[case.test_id]} (give each benchmark once)")
            seen[case.test_id] = case.source
            cases.append(case)
    return cases


def fill(template: dict[str, Any], key: str, **values: str) -> str:
    """One template string with its fields filled (missing templates are a ConfigError)."""
    text = template.get(key, "")
    if not isinstance(text, str):
        raise ConfigError(f"{TEMPLATES}: {key!r} must be text")
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text
