"""Bring your own questions: Q&A cases from ``.jsonl`` and ``.csv`` files, one case per row.

A row is one question in one language. Columns (JSONL keys; ``?`` = optional):

- ``prompt`` (or ``question``): what is asked.
- ``grader``?: a grader spec (stackeval.graders) — a JSON object, or its JSON text in a CSV cell.
- ``answer``?: a plain expected answer, graded by ``match`` when no ``grader`` is given.
  ``|`` separates accepted alternatives (``Canberra|堪培拉``).
- ``match``?: how ``answer`` is checked: ``number`` (the answer's number equals it),
  ``choice`` (the answer's option letter), ``yes_no``, ``exact``, ``contains`` (one of the
  alternatives appears as a whole word). Default: number for a number, choice for one capital
  letter A–J, yes_no for yes/no, else contains.
- ``tolerance``?: absolute tolerance of a number answer (default 0).
- ``id``?: lowercase letters, digits, ``-`` and ``_`` (default ``<file stem>-<line>``); the same
  id may appear once per language.
- ``category``? (default the file's stem), ``lang``? (default ``zh`` when the prompt has Chinese
  characters, else ``en``), ``expected``? (a note for people; default the answer),
  ``reference``? / ``wrong``?: sample answers that must pass / fail (text, or a list in JSONL).

Every problem is a ConfigError naming the file and line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stackeval.errors import ConfigError, GraderError
from stackeval.graders import validate_spec
from stackeval.records import QACase

SUFFIXES = (".jsonl", ".csv")
KEYS = ("id", "prompt", "question", "grader", "answer", "match", "tolerance", "category", "lang",
        "expected", "reference", "wrong")
MATCHES = ("number", "choice", "yes_no", "exact", "contains")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_LANG = re.compile(r"[a-z]{2,3}(-[a-z0-9]+)?")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_CHOICE = "ABCDEFGHIJ"
_YES_NO = {"yes": "yes", "no": "no", "是": "yes", "否": "no", "对": "yes", "错": "no"}


def load_rows(path: Path, seen: dict[str, str], make: Any) -> list[Any]:
    """Examples of one ``.jsonl`` or ``.csv`` file; ``make(case, refs, wrong)`` builds each."""
    rows = _jsonl(path) if path.suffix == ".jsonl" else _csv(path)
    out = []
    for line, row in rows:
        where = f"{path}:{line}"
        try:
            case, refs, wrong = _case(row, path.stem, line, where)
        except (GraderError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        key, lang_key = "\0" + case.id, f"\0{case.id}\0{case.lang}"
        if lang_key in seen:
            raise ConfigError(f"{where}: duplicate id {case.id!r} in {case.lang}, first defined at "
                              f"{seen[lang_key]}")
        if case.id in seen and key not in seen:
            raise ConfigError(f"{where}: duplicate id {case.id!r}, first defined at "
                              f"{seen[case.id]}")
        seen.setdefault(case.id, where)
        seen.setdefault(key, where)
        seen[lang_key] = where
        out.append(make(case, refs, wrong))
    if not out:
        raise ConfigError(f"{path}: no questions in the file")
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read question file: {exc}") from exc


def _jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not a JSON object ({exc.msg} at column "
                              f"{exc.colno})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: expected a JSON object with a prompt, got "
                              f"{type(row).__name__}")
        yield number, row


def _csv(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    text = _read(path)
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ConfigError(f"{path}:1: empty CSV file (expected a header row)") from None
    except csv.Error as exc:
        raise ConfigError(f"{path}:1: CSV error: {exc}") from None
    if unknown := [h for h in header if h not in KEYS]:
        raise ConfigError(f"{path}:1: unknown columns {', '.join(map(repr, unknown))}; known: "
                          f"{', '.join(KEYS)}")
    if len(set(header)) != len(header):
        raise ConfigError(f"{path}:1: a column is named twice in {header}")
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ConfigError(f"{path}:{start}: CSV error: {exc}") from None
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ConfigError(f"{path}:{line}: {len(cells)} cells, but the header has "
                              f"{len(header)} columns")
        row: dict[str, Any] = {h: c for h, c in zip(header, cells, strict=True) if c.strip()}
        if isinstance(row.get("grader"), str):
            try:
                row["grader"] = json.loads(row["grader"])
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{line}: the grader cell is not JSON ({exc.msg})"
                                  ) from None
        yield line, row


def _text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{key!r} must be text, got {type(value).__name__}")
    return str(value).strip() or None


def _texts(row: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = row.get(key)
    values = [] if value in (None, "") else [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{key!r} must be a text or a list of texts")
    return tuple(v.strip() for v in values)


def default_grader(answer: str, match: str | None = None, tolerance: float = 0) -> dict[str, Any]:
    """The grader spec a plain answer stands for (see the module docstring)."""
    alternatives = [a.strip() for a in answer.split("|") if a.strip()]
    if match is None:
        match = ("number" if _NUMBER.fullmatch(answer) else
                 "choice" if len(answer) == 1 and answer in _CHOICE else
                 "yes_no" if answer.lower() in _YES_NO else "contains")
    if match not in MATCHES:
        raise ValueError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    if match == "number":
        if not _NUMBER.fullmatch(answer):
            raise ValueError(f"match 'number' needs a numeric answer, got {answer!r}")
        spec: dict[str, Any] = {"type": "number", "value": float(answer)}
        return spec | ({"tolerance": tolerance} if tolerance else {})
    if match == "choice":
        letter = answer.upper()
        if len(letter) != 1 or letter not in _CHOICE:
            raise ValueError(f"match 'choice' needs one option letter A-J, got {answer!r}")
        return {"type": "choice", "expected": letter,
                "options": _CHOICE[:max(4, _CHOICE.index(letter) + 1)]}
    if match == "yes_no":
        if answer.lower() not in _YES_NO:
            raise ValueError(f"match 'yes_no' needs yes or no, got {answer!r}")
        return {"type": "yes_no", "expected": _YES_NO[answer.lower()]}
    if match == "exact":
        if len(alternatives) == 1:
            return {"type": "exact", "value": alternatives[0]}
        return {"type": "any", "of": [{"type": "exact", "value": a} for a in alternatives]}
    if len(alternatives) == 1:
        return {"type": "contains", "value": alternatives[0]}
    return {"type": "any_of", "values": alternatives}


def _case(row: Mapping[str, Any], stem: str, line: int, where: str
          ) -> tuple[QACase, tuple[str, ...], tuple[str, ...]]:
    if unknown := sorted(set(row) - set(KEYS)):
        raise ValueError(f"unknown keys {', '.join(map(repr, unknown))}; known: {', '.join(KEYS)}")
    prompt = _text(row, "prompt") or _text(row, "question")
    if prompt is None:
        raise ValueError("needs a non-empty 'prompt'")
    if "prompt" in row and "question" in row:
        raise ValueError("give 'prompt' or 'question', not both")
    answer, spec = _text(row, "answer"), row.get("grader")
    if spec in (None, ""):
        if answer is None:
            raise ValueError("needs a 'grader' spec or an 'answer'")
        tolerance = row.get("tolerance") or 0
        try:
            tolerance = float(tolerance)
        except (TypeError, ValueError):
            raise ValueError(f"tolerance must be a number, got {tolerance!r}") from None
        spec = default_grader(answer, _text(row, "match"), tolerance)
    elif "match" in row or "tolerance" in row:
        raise ValueError("'match' and 'tolerance' apply to 'answer'; put them in the grader spec")
    try:
        validate_spec(spec)
    except GraderError as exc:
        raise GraderError(f"grader: {exc}") from None
    qid = _text(row, "id") or re.sub(r"[^a-z0-9_-]+", "-", f"{stem}-{line}".lower()).strip("-")
    if not _ID.fullmatch(qid):
        raise ValueError(f"id must be lowercase letters, digits, '-' or '_', got {qid!r}")
    lang = _text(row, "lang") or ("zh" if _CJK.search(prompt) else "en")
    if not _LANG.fullmatch(lang):
        raise ValueError(f"lang must be a language code like en or zh, got {lang!r}")
    category = _text(row, "category") or stem
    note = _text(row, "expected") or answer or json.dumps(spec, ensure_ascii=False)
    case = QACase(id=qid, lang=lang, category=category, prompt=prompt, grader=dict(spec),
                  note=note, source=where)
    return case, _texts(row, "reference"), _texts(row, "wrong")
