"""Q&A evals: every model x every question of fixtures/qa (Chinese and English), graded as data.

The answers are fetched in a fixture, so a harness failure (server down, timeout) is a test
*error*, while a wrong answer is an assertion *failure*.
"""

from __future__ import annotations

import pytest

from stackeval import attach
from stackeval.errors import ClientError
from stackeval.judging import Judged, attach_attempt, infra_outcome, judge, qa_result
from stackeval.plugin import models_for, runtime
from stackeval.prompting import Asked
from stackeval.qa import run_cases
from stackeval.records import Outcome, QACase

# (the ask, or None when taken from a resumed run; the verdict; the saved record if resumed)
Attempt = tuple[Asked | None, Judged, dict | None]

pytestmark = pytest.mark.qa


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over models x cases with ids like ``smollm2:135m-strawberry-zh``."""
    if {"model", "case"} <= set(metafunc.fixturenames):
        settings = runtime(metafunc.config).settings
        models = models_for(metafunc.config)
        cases = run_cases(settings.qa_dir, settings.qa_dataset)
        metafunc.parametrize(("model", "case"), [(m, c) for m in models for c in cases],
                             ids=[f"{m}-{c.test_id}" for m in models for c in cases])


def ask_attempts(asker, writer, saved, settings, model: str, case: QACase) -> list[Attempt]:
    """Ask ``--repeats`` times; each attempt is graded and saved the moment it is answered.

    On ``--resume`` an attempt the run already saved is taken from its record instead.
    """
    served = asker.stack.served(model).to_dict()
    rid = settings.run_id
    results: list[Attempt] = []
    for repeat in range(settings.repeats):
        rec = saved.get("qa", model, case.id, case.lang, repeat, sha256=served.get("sha256"))
        if rec is not None:
            results.append((None, Judged(Outcome(rec["outcome"]), rec["explanation"]), rec))
            continue
        try:
            asked = asker.ask(model, case.prompt, lang=case.lang, repeat=repeat)
        except ClientError as exc:
            writer.write("qa", qa_result(rid, model, case, repeat, infra_outcome(exc),
                                         str(exc), served).to_dict())
            raise
        verdict = judge(asked, case.grader, prompt=case.prompt)
        writer.write("qa", qa_result(rid, model, case, repeat, verdict.outcome,
                                     verdict.explanation, served, asked).to_dict())
        results.append((asked, verdict, None))
    return results


def _output_tokens(attempts: list[Attempt]) -> int:
    return sum((a.completion.output_tokens or 0) for a, _, _ in attempts if a is not None)


@pytest.fixture
def attempts(request, model, case, answers, asker, record_writer, stackeval_settings):
    """This question's attempts, asked concurrently with the model's other questions."""
    return answers.result_for(
        request.node,
        lambda p: ask_attempts(asker, record_writer, answers.saved, stackeval_settings,
                               p["model"], p["case"]),
        _output_tokens)


def test_qa(attempts: list[Attempt], model, case, asker) -> None:
    """Every attempt must be graded correct."""
    attach.labels(model=model, category=case.category, lang=case.lang, suite="qa",
                  model_sha256=str(asker.stack.served(model).sha256))
    for i, (asked, verdict, saved) in enumerate(attempts):
        label = f"#{i + 1}" if len(attempts) > 1 else ""
        if asked is not None:
            attach_attempt(asked, verdict, label)
        else:
            attach.as_json(f"saved answer (resumed run) {label}".strip(), saved)
    judged = [verdict for _, verdict, _ in attempts]
    passed = sum(j.outcome is Outcome.PASS for j in judged)
    failures = [f"[{j.outcome.value}] {j.explanation}"
                for j in judged if j.outcome is not Outcome.PASS]
    rate = f"{passed}/{len(judged)} attempts passed"
    assert not failures, f"{case.test_id} ({case.category}): {rate}\n" + "\n".join(failures)
