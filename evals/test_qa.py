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
from stackeval.qa import load_cases
from stackeval.records import Outcome

pytestmark = pytest.mark.qa


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over models x cases with ids like ``smollm2:135m-strawberry-zh``."""
    if {"model", "case"} <= set(metafunc.fixturenames):
        settings = runtime(metafunc.config).settings
        models = models_for(metafunc.config)
        cases = load_cases(settings.qa_dir) if settings.qa_dir else load_cases()
        metafunc.parametrize(("model", "case"), [(m, c) for m in models for c in cases],
                             ids=[f"{m}-{c.test_id}" for m in models for c in cases])


@pytest.fixture
def attempts(model, case, asker, record_writer, stackeval_settings):
    """Ask the question ``--repeats`` times; each attempt is graded and saved at once."""
    served = asker.stack.served(model).to_dict()
    rid = stackeval_settings.run_id
    results = []
    for repeat in range(stackeval_settings.repeats):
        try:
            asked = asker.ask(model, case.prompt, lang=case.lang, repeat=repeat)
        except ClientError as exc:
            record_writer.write("qa", qa_result(rid, model, case, repeat, infra_outcome(exc),
                                                str(exc), served).to_dict())
            raise
        verdict = judge(asked, case.grader)
        record_writer.write("qa", qa_result(rid, model, case, repeat, verdict.outcome,
                                            verdict.explanation, served, asked).to_dict())
        results.append((asked, verdict))
    return results


def test_qa(attempts: list[tuple[Asked, Judged]], model, case, asker) -> None:
    """Every attempt must be graded correct."""
    attach.labels(model=model, category=case.category, language=case.lang, suite="qa",
                  model_sha256=str(asker.stack.served(model).sha256))
    for i, (asked, verdict) in enumerate(attempts):
        attach_attempt(asked, verdict, f"#{i + 1}" if len(attempts) > 1 else "")
    judged = [verdict for _, verdict in attempts]
    passed = sum(j.outcome is Outcome.PASS for j in judged)
    failures = [f"[{j.outcome.value}] {j.explanation}"
                for j in judged if j.outcome is not Outcome.PASS]
    rate = f"{passed}/{len(judged)} attempts passed"
    assert not failures, f"{case.test_id} ({case.category}): {rate}\n" + "\n".join(failures)
