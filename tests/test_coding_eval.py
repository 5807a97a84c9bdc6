"""evals/test_coding.py: which cases it makes, and the order its asks go out (a local fake
server, the real plugin, pool and sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackeval.coding import load_all
from stackeval.coding.sample import stratified_sample
from stackeval.sandbox import Sandbox

pytest_plugins = ["pytester"]

EVAL = Path(__file__).parents[1] / "evals" / "test_coding.py"


def collected(pytester, *args: str) -> list[str]:
    pytester.makepyfile(test_coding=EVAL.read_text())
    result = pytester.runpytest("--collect-only", "-q", "--models", "smollm2:135m", *args)
    return sorted(line.split("[", 1)[1].rstrip("]") for line in result.outlines
                  if "::test_coding[" in line)


@pytest.mark.parametrize(("langs", "bash"), [("zh", ["zh"]), ("en", ["en"]),
                                              ("zh,en", ["en", "zh"])])
def test_coding_langs_pick_the_bash_labs_language(pytester, langs, bash):
    ids = collected(pytester, "--coding-suites", "bashlab,humaneval", "--humaneval-sample", "2",
                    "--coding-langs", langs)
    lab = sorted(i.rsplit("-", 1)[1] for i in ids if "bashlab/" in i)
    assert lab == sorted(bash * 3)
    # HumanEval is written in English only: asked in it whatever the choice
    assert [i.rsplit("-", 1)[1] for i in ids if "HumanEval/" in i] == ["en", "en"]


def test_bad_coding_langs_name_the_option(pytester):
    pytester.makepyfile(test_coding=EVAL.read_text())
    result = pytester.runpytest("--collect-only", "--coding-langs", "fr")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--coding-langs='fr'*zh*en*"])


def test_longest_answers_are_asked_first_and_tests_keep_their_order(pytester, bwrap_sandbox:
                                                                   Sandbox):
    """With one ask at a time the server sees the order of submission: the tasks whose
    reference solution is longest first, so no long answer starts last and runs alone."""
    from fake_openai import FakeServer, serving

    asked: list[str] = []

    def reply(body: dict) -> str:
        asked.append(body["messages"][-1]["content"])
        return "```python\ndef nothing():\n    return None\n```"

    sample = stratified_sample(load_all(["humaneval"], None), 6)
    pytester.makepyfile(test_coding=EVAL.read_text())
    with serving(FakeServer(None, ("coder",), reply)) as (fake,):
        result = pytester.runpytest_subprocess(
            "--stack", "external", "--base-url", fake.url, "--models", "coder",
            "--coding-suites", "humaneval", "--humaneval-sample", "6", "--ask-concurrency", "1",
            "--sandbox", bwrap_sandbox.name, "--reports-dir", str(pytester.path / "reports"),
            "-p", "no:randomly", "-v")
    assert not {"error", "errors"} & set(result.parseoutcomes()), result.stdout.str()[-3000:]
    tasks = [a for a in asked if "def " in a]  # not the stack's readiness probe
    order = [next(t for t in sample if f"def {t.entry_point}(" in prompt) for prompt in tasks]
    assert [t.id for t in order] == [t.id for t in sorted(sample, key=lambda t:
                                                          -len(t.reference))]
    # tests still run (and report) in their own order, each with its own answer
    ran = [line.split("[coder-", 1)[1].split("]")[0] for line in result.outlines
           if "::test_coding[coder-" in line and line.rstrip().endswith("%]")]
    assert ran == [f"{t.id}-en" for t in sample]
    records = [json.loads(line) for f in pytester.path.glob("reports/runs/*/coding.jsonl")
               for line in f.read_text().splitlines()]
    assert sorted(r["task_id"] for r in records) == sorted(t.id for t in sample)
