"""MBPP (Austin et al. 2021) from its official files, as coding tasks checked like HumanEval's.

``--coding-dataset mbpp:PATH[?limit=N&split=S&shots=N&challenge=1]`` (comma-separated for
several). PATH is ``mbpp.jsonl`` (one object a line: task_id, text, code, test_list,
test_setup_code, challenge_test_list), the sanitized ``sanitized-mbpp.json`` (one JSON array:
task_id, prompt, code, test_imports, test_list), or a folder holding one of them.

Each problem becomes a :class:`CodingTask` whose tests are a ``check(candidate)`` built from its
asserts, so answers go through the same sandboxed record / call / check runs as HumanEval
(``stackeval.coding.cases``). ``split`` is one of the paper's task_id ranges (prompt 1-10, test
11-510, validation 511-600, train 601-974) or ``all``; the default is ``test``. ``challenge=1``
adds the harder ``challenge_test_list`` asserts. Nothing is downloaded: the file is the user's.
"""

from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackeval.coding.tasks import CodingTask
from stackeval.config import FIXTURES_DIR
from stackeval.errors import ConfigError

log = logging.getLogger(__name__)

TEMPLATE = FIXTURES_DIR / "datasets" / "mbpp.yaml"
NAMES = ("mbpp",)
SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
SHOT_ORDER = (2, 3, 4, 1, 5, 6, 7, 8, 9, 10)  # the paper prompts with tasks 2, 3 and 4
_KEYS = ("limit", "split", "shots", "challenge")
FILES = ("mbpp.jsonl", "sanitized-mbpp.json")


@dataclass(frozen=True)
class CodingDatasetSpec:
    """One ``--coding-dataset`` entry, parsed."""

    name: str
    path: Path
    limit: int = 0  # first N problems of the split; 0: all
    split: str = "test"
    shots: int | None = None  # None: the template's default
    challenge: bool = False

    @property
    def label(self) -> str:
        """How errors name this entry."""
        return f"--coding-dataset {self.name}:{self.path}"


@dataclass(frozen=True)
class Problem:
    """One MBPP problem as read from its file."""

    task_id: int
    text: str
    code: str
    tests: tuple[str, ...]
    setup: str  # test_setup_code and test_imports
    challenge: tuple[str, ...]
    where: str  # "file:line"


def parse_spec(text: str) -> CodingDatasetSpec:
    """``mbpp:/data/mbpp.jsonl?limit=20&split=test`` as a CodingDatasetSpec."""
    name, sep, rest = text.strip().partition(":")
    if not sep or not rest:
        raise ConfigError(f"--coding-dataset {text!r}: expected NAME:PATH, e.g. "
                          f"mbpp:/data/mbpp.jsonl (NAME one of {', '.join(NAMES)})")
    if name.lower() not in NAMES:
        raise ConfigError(f"--coding-dataset {text!r}: unknown dataset {name!r}; known: "
                          f"{', '.join(NAMES)}")
    path, _, query = rest.partition("?")
    options: dict[str, Any] = {}
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if not eq or key not in _KEYS:
            raise ConfigError(f"--coding-dataset {text!r}: unknown option {part!r}; known: "
                              f"{', '.join(_KEYS)} (key=value, joined by &)")
        if key == "split":
            if value not in (*SPLITS, "all"):
                raise ConfigError(f"--coding-dataset {text!r}: split must be one of "
                                  f"{', '.join(SPLITS)}, all")
            options[key] = value
        elif not value.isdigit():
            raise ConfigError(f"--coding-dataset {text!r}: {key} must be a whole number >= 0")
        else:
            options[key] = bool(int(value)) if key == "challenge" else int(value)
    spec = CodingDatasetSpec(name.lower(), Path(path).expanduser(), **options)
    if not spec.path.exists():
        raise ConfigError(f"{spec.label}: no such file or directory")
    return spec


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The MBPP prompt template."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the MBPP template: {exc}") from exc
    keys = ("instruction", "item", "shot_answer", "separator")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in keys):
        raise ConfigError(f"{path}: expected texts {', '.join(keys)} and a number 'shots'")
    return data


def data_file(path: Path) -> Path:
    """The MBPP file itself: ``path``, or the one of ``FILES`` inside the folder ``path``."""
    if path.is_dir():
        found = [path / name for name in FILES if (path / name).is_file()]
        if not found:
            raise ConfigError(f"{path}: no {' or '.join(FILES)} in this folder")
        return found[0]
    return path


def read_problems(path: Path) -> list[Problem]:
    """Every problem of an MBPP file (JSONL or a JSON array); bad rows name file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read MBPP file: {exc}") from exc
    rows = _array_rows(path, text) if text.lstrip().startswith("[") else _jsonl_rows(path, text)
    problems = [_problem(row, f"{path}:{line}") for line, row in rows]
    seen: dict[int, str] = {}
    for p in problems:
        if p.task_id in seen:
            raise ConfigError(f"{p.where}: task_id {p.task_id} also at {seen[p.task_id]}")
        seen[p.task_id] = p.where
    return problems


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
    return rows


def _array_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    """The items of a JSON array, each with the line it starts on."""
    decoder, rows = json.JSONDecoder(), []
    i = text.index("[") + 1
    while True:
        i = _skip_blank(text, i)
        if i < len(text) and text[i] == "]" and not rows:
            return rows
        try:
            item, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        rows.append((text.count("\n", 0, i) + 1, item))
        i = _skip_blank(text, end)
        if i < len(text) and text[i] == ",":
            i += 1
        elif i < len(text) and text[i] == "]":
            return rows
        else:
            line = text.count("\n", 0, i) + 1
            raise ConfigError(f"{path}:{line}: invalid JSON (expected ',' or ']')")


def _skip_blank(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _problem(row: Any, where: str) -> Problem:
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected an object with task_id, text, code and test_list")
    text = row.get("text", row.get("prompt"))
    tests, challenge = row.get("test_list"), row.get("challenge_test_list") or []
    setup = [*(row.get("test_imports") or []), row.get("test_setup_code") or ""]
    problems = []
    if type(row.get("task_id")) is not int:
        problems.append("a whole-number task_id")
    if not isinstance(text, str) or not text.strip():
        problems.append("a 'text' (or 'prompt') description")
    if not isinstance(row.get("code"), str) or not row["code"].strip():
        problems.append("the reference 'code'")
    for name, value in (("test_list", tests), ("challenge_test_list", challenge),
                        ("test_imports/test_setup_code", setup)):
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            problems.append(f"{name} as a list of texts")
    if not tests:
        problems.append("at least one assert in test_list")
    if problems:
        raise ConfigError(f"{where}: expected {', '.join(problems)}")
    return Problem(task_id=row["task_id"], text=" ".join(text.split()),
                   code=_lines(row["code"]), tests=tuple(_lines(t) for t in tests),
                   setup=_lines("\n".join(s for s in setup if s.strip())),
                   challenge=tuple(_lines(t) for t in challenge), where=where)


def _lines(code: str) -> str:
    return code.replace("\r\n", "\n").replace("\r", "\n").strip("\n")


def entry_point(problem: Problem) -> str:
    """The function the asserts call: the first name they call that the reference defines."""
    try:
        defined = {n.name for n in ast.parse(problem.code).body
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    except SyntaxError as exc:
        raise ConfigError(f"{problem.where}: the reference code does not parse ({exc.msg}, "
                          f"line {exc.lineno} of the code)") from None
    for test in problem.tests:
        try:
            tree = ast.parse(test)
        except SyntaxError as exc:
            raise ConfigError(f"{problem.where}: test {test!r} does not parse ({exc.msg})"
                              ) from None
        calls = [n.func.id for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        for name in calls:
            if name in defined:
                return name
    raise ConfigError(f"{problem.where}: no test calls a function the reference code defines")


def _needs_more(problem: Problem, entry: str) -> list[str]:
    """Names the asserts use that only the reference defines besides the entry point (a
    class, a helper): such a task cannot be checked on plain data returned by the candidate."""
    tree = ast.parse(problem.code)
    own = {n.name for n in tree.body
           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)} - {entry}
    used = {n.id for t in (*problem.tests, *problem.challenge) for n in ast.walk(ast.parse(t))
            if isinstance(n, ast.Name)}
    return sorted(own & used)


def check_program(problem: Problem, challenge: bool = False) -> str:
    """``check(candidate)`` from the asserts, after the setup code and the reference's imports
    (the original harness ran code and asserts as one program, so asserts may use them)."""
    imports = [ast.get_source_segment(problem.code, n) or "" for n in ast.parse(problem.code).body
               if isinstance(n, ast.Import | ast.ImportFrom)]
    asserts = [*problem.tests, *(problem.challenge if challenge else ())]
    body = "\n".join("    " + line for t in asserts for line in t.splitlines())
    head = "\n".join(x for x in (*imports, problem.setup) if x.strip())
    return f"{head}\n\n\ndef check(candidate):\n{body}\n".lstrip("\n")


def fill(template: dict[str, Any], key: str, **values: str) -> str:
    """One template text with its fields filled."""
    text = template[key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def prompt(problem: Problem, template: dict[str, Any], shots: list[Problem]) -> str:
    """The user's text for ``problem``, after any worked examples."""
    def item(p: Problem) -> str:
        return template["instruction"] + fill(template, "item", text=p.text,
                                              tests="\n".join(p.tests))
    examples = [item(s) + fill(template, "shot_answer", code=s.code) + template["separator"]
                for s in shots]
    return "".join(examples) + item(problem)


def load(spec: CodingDatasetSpec | str, template: dict[str, Any] | None = None
         ) -> list[CodingTask]:
    """The coding tasks of one ``--coding-dataset`` entry, in task_id order."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    template = template or load_template()
    path = data_file(spec.path)
    problems = sorted(read_problems(path), key=lambda p: p.task_id)
    low, high = SPLITS.get(spec.split, (0, float("inf")))
    chosen = [p for p in problems if low <= p.task_id <= high]
    if not chosen:
        raise ConfigError(f"{spec.label}: no problems with task_id in {low}-{high} "
                          f"(split={spec.split}; ?split=all takes every problem)")
    n_shots = template.get("shots", 0) if spec.shots is None else spec.shots
    by_id = {p.task_id: p for p in problems}
    shots = [by_id[i] for i in SHOT_ORDER if i in by_id][:n_shots]
    if len(shots) < n_shots:
        raise ConfigError(f"{spec.label}: shots={n_shots} needs that many problems with "
                          f"task_id 1-10 in {path}; it has {len(shots)}")
    tasks, skipped = [], []
    for problem in chosen:
        if spec.limit and len(tasks) >= spec.limit:
            break
        entry = entry_point(problem)
        extra = _needs_more(problem, entry)
        if extra:
            skipped.append(f"{problem.task_id} ({', '.join(extra)})")
            continue
        shown = [s for s in shots if s.task_id != problem.task_id]
        tasks.append(CodingTask(
            id=f"mbpp/{problem.task_id}", suite="mbpp", language="python",
            prompt_en=prompt(problem, template, shown), entry_point=entry,
            test=check_program(problem, spec.challenge), reference=problem.code,
            source=problem.where))
    if skipped:
        log.warning("%s: %d problem(s) left out, their asserts use more than the function "
                    "(a class or helper of the reference): %s", spec.label, len(skipped),
                    "; ".join(skipped))
    return tasks


def load_all(specs: tuple[str, ...] | list[str]) -> list[CodingTask]:
    """The tasks of every ``--coding-dataset`` entry; a task id seen twice is an error."""
    template = load_template()
    tasks: list[CodingTask] = []
    seen: dict[str, str] = {}
    for text in specs:
        for task in load(text, template):
            if task.id in seen:
                raise ConfigError(f"{task.source}: {task.id} also comes from {seen[task.id]} "
                                  f"(give each MBPP file once)")
            seen[task.id] = task.source
            tasks.append(task)
    return tasks


def suites_with(coding_suites: tuple[str, ...], datasets: tuple[str, ...]) -> tuple[str, ...]:
    """The built-in suites to run beside ``--coding-dataset``: none when only datasets were
    asked for (``--coding-suites`` left at its default), else those named."""
    from stackeval.config import Settings

    default = Settings.__dataclass_fields__["coding_suites"].default
    return () if datasets and coding_suites == default else coding_suites
