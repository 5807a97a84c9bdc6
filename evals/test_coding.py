"""Coding evals: each model writes code for HumanEval, the course's bash lab and our Python tasks;
the code runs only inside the sandbox, against hidden tests.

Completions are drawn in a fixture (a harness failure is a test *error*); the test body attaches
what happened and asserts every sample passed. pass@1 and pass@k are in the session summary.
"""

from __future__ import annotations

import pytest

from stackeval import attach
from stackeval.coding import CodingOutcome, CodingTask, build_prompt, evaluate_answer, load_all
from stackeval.errors import ClientError
from stackeval.plugin import models_for, runtime
from stackeval.prompting import Asked

pytestmark = pytest.mark.coding


def coding_cases(settings) -> list[tuple[CodingTask, str]]:
    """(task, language) pairs: the bash lab in Chinese and English, the rest in English."""
    cases = []
    for suite in settings.coding_suites:
        # --coding-limit picks a HumanEval subset; the lab and Python suites are small.
        limit = (settings.coding_limit or None) if suite == "humaneval" else None
        for task in load_all([suite], limit):
            langs = ("zh", "en") if task.prompt_zh else ("en",)
            cases += [(task, lang) for lang in langs]
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over models x tasks, ids like ``smollm2:135m-bashlab/worldcup-zh``."""
    if {"model", "task", "lang"} <= set(metafunc.fixturenames):
        models = models_for(metafunc.config)
        cases = coding_cases(runtime(metafunc.config).settings)
        metafunc.parametrize(
            ("model", "task", "lang"), [(m, t, lang) for m in models for t, lang in cases],
            ids=[f"{m}-{t.id}-{lang}" for m in models for t, lang in cases])


@pytest.fixture
def samples(model, task, lang, asker, sandbox, record_writer, stackeval_settings):
    """Draw ``--samples`` completions and run each in the sandbox; every sample is saved."""
    settings = stackeval_settings
    served = asker.stack.served(model).to_dict()
    system, user = (m["content"] for m in build_prompt(task, lang))
    results = []
    for i in range(settings.samples):
        base = {"run_id": settings.run_id, "model": model, "task_id": task.id,
                "suite": task.suite, "lang": lang, "sample": i, "served": served}
        try:
            asked = asker.ask(model, user, task="coding", lang=lang, system=system, repeat=i,
                              max_tokens=settings.coding_max_tokens)
        except ClientError as exc:
            record_writer.write("coding", base | {"outcome": "infrastructure_error",
                                                  "passed": False, "explanation": str(exc)})
            raise
        outcome = evaluate_answer(task, asked.completion.text, sandbox)
        record_writer.write("coding", base | outcome.to_dict() | {
            "prompt_format": asked.prompt_format, "metrics": asked.completion.metrics()})
        results.append((asked, outcome))
    return results


def test_coding(samples: list[tuple[Asked, CodingOutcome]], model, task, lang) -> None:
    """Every sample's code must pass the task's tests."""
    attach.labels(model=model, suite=f"coding/{task.suite}", language=lang,
                  code_language=task.language)
    for i, (asked, out) in enumerate(samples):
        sfx = f" #{i + 1}" if len(samples) > 1 else ""
        attach.text(f"prompt ({asked.prompt_format}){sfx}", asked.sent)
        attach.text(f"answer{sfx}", asked.completion.text)
        attach.text(f"code ({task.language}){sfx}", out.code)
        attach.text(f"stdout{sfx}", out.run.stdout)
        attach.text(f"stderr{sfx}", out.run.stderr)
        attach.as_json(f"verdict{sfx}", {
            "outcome": out.outcome.value, "explanation": out.explanation,
            "exit_code": out.run.exit_code, "failures": list(out.run.failures),
            "sandbox": out.sandbox})
        attach.as_json(f"quality{sfx}", out.quality.to_dict())
        attach.as_json(f"metrics{sfx}", asked.completion.metrics())
    failed = [f"sample {i + 1}: [{out.outcome.value}] {out.explanation}"
              for i, (_, out) in enumerate(samples) if not out.passed]
    rate = f"{len(samples) - len(failed)}/{len(samples)} samples passed"
    assert not failed, f"{task.id} ({lang}): {rate}\n" + "\n".join(failed)
