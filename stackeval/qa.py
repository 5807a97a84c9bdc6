"""The Q&A question set: YAML files under ``fixtures/qa``, one per category, loaded as QACase.

A file looks like this (``?`` = optional)::

    category: logic                  # one of CATEGORIES
    questions:
      - id: friday-plus-100          # unique across all files
        expected: 星期日 / Sunday (100 = 14 × 7 + 2)   # the human-readable expected answer
        grader: {type: weekday, expected: sunday}     # shared by both languages ...
        zh:
          prompt: 如果今天是星期五，那么 100 天之后是星期几？
          grader?: {...}             # ... unless a language overrides it
          reference?: 100 天之后是星期日。     # correct answers (text or list) that must pass
          wrong?: 100 天之后是星期六。         # wrong answers (text or list) that must fail
        en:
          prompt: If today is Friday, what day of the week is it 100 days from now?

Questions may also come as ``.jsonl`` or ``.csv`` rows, one question in one language each
(:mod:`stackeval.qa_rows` describes the columns), with categories of their own.

Every problem is reported as a ConfigError naming the file and the line of the entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackeval import qa_rows
from stackeval.config import FIXTURES_DIR
from stackeval.errors import ConfigError, GraderError
from stackeval.graders import validate_spec
from stackeval.records import QACase

CATEGORIES = {
    "hallucination": "幻觉识别",
    "common_sense": "生活常识",
    "logic": "逻辑推理",
    "geography": "地理知识",
    "reverse": "逆向理解",
}
LANGS = ("zh", "en")
DEFAULT_DIR = FIXTURES_DIR / "qa"

_ENTRY_KEYS = {"id", "expected", "grader", *LANGS}
_LANG_KEYS = {"prompt", "grader", "reference", "wrong"}
_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SUFFIXES = (".yaml", ".yml", *qa_rows.SUFFIXES)


@dataclass(frozen=True)
class QAExample:
    """A case plus the dataset's own correct and wrong sample answers, to keep graders honest."""

    case: QACase
    references: tuple[str, ...] = ()
    wrong: tuple[str, ...] = ()


def load_cases(path_or_dir: str | Path = DEFAULT_DIR) -> list[QACase]:
    """One QACase per (question, language) from a YAML file or a directory of them."""
    return [example.case for example in load_examples(path_or_dir)]


def load_examples(path_or_dir: str | Path = DEFAULT_DIR) -> list[QAExample]:
    """Like :func:`load_cases`, keeping each case's reference and wrong sample answers."""
    root = Path(path_or_dir)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
        if not files:
            raise ConfigError(f"{root}: no .yaml files with questions (nor .jsonl or .csv)")
    elif root.is_file():
        files = [root]
    else:
        raise ConfigError(f"{root}: no such question file or directory")
    seen: dict[str, str] = {}
    examples: list[QAExample] = []
    for path in files:
        if path.suffix in qa_rows.SUFFIXES:
            examples.extend(qa_rows.load_rows(path, seen, QAExample))
        else:
            examples.extend(_load_file(path, seen))
    return examples


def run_cases(qa_dir: str | Path | None = None, datasets: Iterable[str] = ()) -> list[QACase]:
    """A run's questions: ``--qa-dir`` (fixtures/qa when neither it nor a dataset is given)
    plus each ``--qa-dataset`` benchmark."""
    datasets = tuple(datasets)
    cases = load_cases(qa_dir or DEFAULT_DIR) if qa_dir or not datasets else []
    if datasets:
        from stackeval.datasets import load_datasets

        cases += load_datasets(datasets)
        seen = {c.test_id for c in cases}
        if len(seen) != len(cases):
            raise ConfigError("a --qa-dataset question id is also used by a --qa-dir question")
    return cases


def select_cases(
    cases: Iterable[QACase],
    *,
    langs: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    ids: Iterable[str] | None = None,
) -> list[QACase]:
    """The cases matching every filter given; an unknown language, category or id is an error."""
    cases = list(cases)
    wanted: dict[str, set[str] | None] = {
        "lang": None if langs is None else set(langs),
        "category": None if categories is None else set(categories),
        "id": None if ids is None else set(ids),
    }
    known = {"lang": {*LANGS, *(c.lang for c in cases)},
             "category": {*CATEGORIES, *(c.category for c in cases)},
             "id": {c.id for c in cases}}
    for field, values in wanted.items():
        if values is not None and (unknown := values - known[field]):
            raise ConfigError(
                f"unknown {field} {', '.join(sorted(unknown))}; known: "
                + ", ".join(sorted(known[field]))
            )
    return [
        case for case in cases if all(v is None or getattr(case, f) in v for f, v in wanted.items())
    ]


def _parse(path: Path) -> tuple[Any, yaml.Node | None]:
    """The file's data and its node tree (for line numbers); a syntax error names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read question file: {exc}") from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from exc
    finally:
        loader.dispose()


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _load_file(path: Path, seen: dict[str, str]) -> list[QAExample]:
    data, root = _parse(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping with 'category' and 'questions'")
    category = data.get("category")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise ConfigError(
            f"{path}:{_line(_child(root, 'category') or root)}: unknown category {category!r}; "
            f"known: {', '.join(CATEGORIES)}"
        )
    if unknown := set(data) - {"category", "questions"}:
        raise ConfigError(f"{path}:1: unknown top-level keys {sorted(unknown)}")
    questions, items = data.get("questions"), _child(root, "questions")
    if not isinstance(questions, list) or not questions or items is None:
        raise ConfigError(f"{path}:{_line(items or root)}: 'questions' must be a non-empty list")
    examples = []
    for entry, node in zip(questions, items.value, strict=True):
        source = f"{path}:{_line(node)}"
        try:
            examples.extend(_load_entry(entry, category, source))
        except (GraderError, ValueError) as exc:
            raise ConfigError(f"{source}: {exc}") from None
        qid = entry["id"]
        if qid in seen:
            raise ConfigError(f"{source}: duplicate id {qid!r}, first defined at {seen[qid]}")
        seen[qid] = source
    return examples


def _texts(block: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = block.get(key, [])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{where}.{key} must be a text or a list of texts")
    return tuple(values)


def _load_entry(entry: object, category: str, source: str) -> list[QAExample]:
    """One example per language; raises ValueError or GraderError saying what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError("a question must be a mapping with id, expected, grader, zh and en")
    qid = entry.get("id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid):
        raise ValueError(f"question id must be lowercase letters, digits, '-' or '_', got {qid!r}")
    if unknown := set(entry) - _ENTRY_KEYS:
        raise ValueError(f"question {qid!r} has unknown keys {', '.join(sorted(unknown))}")
    if missing := _ENTRY_KEYS - {"grader"} - set(entry):
        raise ValueError(f"question {qid!r} is missing {', '.join(sorted(missing))}")
    note = entry["expected"]
    if isinstance(note, bool) or not isinstance(note, str | int | float) or not str(note).strip():
        raise ValueError(f"question {qid!r} needs a non-empty 'expected' note")
    examples = []
    for lang in LANGS:
        block, where = entry[lang], f"question {qid!r} {lang}"
        if not isinstance(block, dict):
            raise ValueError(f"{where} must be a mapping with a prompt")
        if unknown := set(block) - _LANG_KEYS:
            raise ValueError(f"{where} has unknown keys {', '.join(sorted(unknown))}")
        prompt = block.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"{where} needs a non-empty prompt")
        spec = block.get("grader", entry.get("grader"))
        if spec is None:
            raise ValueError(f"{where} has no grader (set 'grader' on the question or language)")
        try:
            validate_spec(spec)
        except GraderError as exc:
            raise GraderError(f"{where} grader: {exc}") from None
        case = QACase(
            id=qid,
            lang=lang,
            category=category,
            prompt=prompt.strip(),
            grader=spec,
            note=str(note).strip(),
            source=source,
        )
        examples.append(
            QAExample(case, _texts(block, "reference", where), _texts(block, "wrong", where))
        )
    return examples
