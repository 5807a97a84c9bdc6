"""Coding evals: each model writes code for HumanEval, the course's bash lab and our Python tasks;
the code runs only inside the sandbox, against hidden tests.

Completions are drawn in a fixture (a harness failure is a test *error*); the test body attaches
what happened and asserts every sample passed. pass@1 and pass@k are in the session summary.
"""

from __future__ import annotations

import pytest

from stackeval import attach
from stackeval.coding import (
    CodingRecord,
    CodingResult,
    CodingTask,
    build_prompt,
    evaluate_answer,
    load_all,
)
from stackeval.coding.continue_cli import ContinueAsker
from stackeval.coding.mbpp import load_all as load_coding_datasets
from stackeval.coding.mbpp import suites_with
from stackeval.coding.sample import stratified_sample
from stackeval.errors import ClientError
from stackeval.plugin import session_settings
from stackeval.prompting import Asked
from stackeval.records import Outcome

# (the ask and its run, or None when taken from a resumed run; the saved record)
Sample = tuple[Asked | None, CodingResult | None, dict]

pytestmark = pytest.mark.coding


def coding_cases(settings) -> list[tuple[CodingTask, str]]:
    """(task, language) pairs: the bash lab in the --coding-langs (Chinese and English), the
    rest in English, the one language they are written in."""
    cases = []
    for suite in suites_with(settings.coding_suites, settings.coding_dataset):
        # --coding-limit takes the first N HumanEval problems, else --humaneval-sample draws a
        # stratified sample; the lab and Python suites are small and always whole.
        limit = (settings.coding_limit or None) if suite == "humaneval" else None
        tasks = load_all([suite], limit)
        if suite == "humaneval" and not limit:
            tasks = stratified_sample(tasks, settings.humaneval_sample)
        for task in tasks:
            written = ("zh", "en") if task.prompt_zh else ("en",)
            langs = [lang for lang in written if lang in settings.coding_langs] or written
            cases += [(task, lang) for lang in langs]
    cases += [(task, "en") for task in load_coding_datasets(settings.coding_dataset)]  # MBPP
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over tasks; the plugin adds the models: ids like
    ``smollm2:135m-bashlab/worldcup-zh``."""
    if {"task", "lang"} <= set(metafunc.fixturenames):
        cases = coding_cases(session_settings(metafunc.config).run)
        metafunc.parametrize(("task", "lang"), cases, ids=[f"{t.id}-{lang}" for t, lang in cases])


def draw_samples(asker, sandbox, writer, saved, settings, model: str, task: CodingTask,
                 lang: str, max_tokens: int | None = None) -> list[Sample]:
    """Draw ``--samples`` completions and run each in the sandbox; every sample is saved.

    On ``--resume`` a sample the run already saved is taken from its record instead.
    """
    served = asker.stack.served(model).to_dict()
    system, user = (m["content"] for m in build_prompt(task, lang))
    results: list[Sample] = []
    for i in range(settings.samples):
        rec = saved.get("coding", model, task.id, lang, i, settings.client,
                        sha256=served.get("sha256"))
        if rec is not None:
            results.append((None, None, rec))
            continue
        base = {"run_id": settings.run_id, "model": model, "task_id": task.id,
                "suite": task.suite, "lang": lang, "sample": i, "served": served,
                "client": settings.client}
        try:
            asked = asker.ask(model, user, task="coding", lang=lang, system=system, repeat=i,
                              max_tokens=max_tokens or settings.coding_max_tokens)
        except ClientError as exc:
            writer.write("coding", CodingRecord(**base, outcome=Outcome.INFRA_ERROR,
                                                explanation=str(exc)).to_dict())
            raise
        outcome = evaluate_answer(task, asked.completion.text, sandbox)
        verdict, why = outcome.outcome, outcome.explanation
        if asked.completion.stop_reason:  # graded as it is, but a loop never passes
            verdict, why = Outcome.LOOP, f"{asked.completion.stop_reason}; {why}"
        record = CodingRecord(
            **base, outcome=verdict, explanation=why, result=outcome,
            prompt_format=asked.prompt_format, metrics=asked.completion.metrics(),
            request=asked.request,
            # Continue: its own requests as the tap saw them
            extra=asked.client_record() if hasattr(asked, "client_record") else {}).to_dict()
        writer.write("coding", record)
        results.append((asked, outcome, record))
    return results


def _output_tokens(samples: list[Sample]) -> int:
    return sum((a.completion.output_tokens or 0) for a, _, _ in samples if a is not None)


@pytest.fixture
def samples(request, answers, asker, sandbox, record_writer, stackeval_settings,
            stackeval_knobs):
    """This task's samples, drawn concurrently with the model's other tasks (a
    ``@pytest.mark.stackeval(max_tokens=N)`` replaces --coding-max-tokens)."""
    via = ContinueAsker(asker) if stackeval_settings.client == "continue" else asker
    return answers.result_for(
        request.node,
        lambda p: draw_samples(via, sandbox, record_writer, answers.saved, stackeval_settings,
                               p["model"], p["task"], p["lang"], stackeval_knobs.get("max_tokens")),
        _output_tokens, size=lambda p: len(p["task"].reference))  # answers run about as long


def test_coding(samples: list[Sample], model, task, lang) -> None:
    """Every sample's code must pass the task's tests."""
    attach.labels(model=model, suite=f"coding/{task.suite}", lang=lang,
                  code_language=task.language)
    failed = [f"sample {i + 1}: [{rec['outcome']}] {rec['explanation']}"
              for i, (_, _, rec) in enumerate(samples) if not rec.get("passed")]
    for i, (asked, out, rec) in enumerate(samples):
        sfx = f" #{i + 1}" if len(samples) > 1 else ""
        if asked is None or out is None:
            attach.as_json(f"saved sample (resumed run){sfx}", rec)
            continue
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
    rate = f"{len(samples) - len(failed)}/{len(samples)} samples passed"
    assert not failed, f"{task.id} ({lang}): {rate}\n" + "\n".join(failed)
