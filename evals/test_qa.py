"""Q&A evals: every model x every question of fixtures/qa (Chinese and English), graded as data.

The answers are fetched in a fixture, so a harness failure (server down, timeout) is a test
*error*, while a wrong answer is an assertion *failure*.
"""

from __future__ import annotations

import pytest

from stackeval import attach
from stackeval.errors import ClientError
from stackeval.judging import (
    Judged,
    attach_attempt,
    disagrees,
    infra_outcome,
    judge,
    make_judge,
    qa_result,
    second_opinion,
)
from stackeval.plugin import session_settings
from stackeval.prompting import Asked
from stackeval.qa import DEFAULT_DIR, load_examples, run_cases
from stackeval.records import Outcome, QACase

# (the ask, or None when taken from a resumed run; the verdict; the saved record if resumed)
Attempt = tuple[Asked | None, Judged, dict | None]

pytestmark = pytest.mark.qa


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over cases; the plugin adds the models (``smollm2:135m-strawberry-zh``)."""
    if "case" in metafunc.fixturenames:
        settings = session_settings(metafunc.config).run
        cases = run_cases(settings.qa_dir, settings.qa_dataset)
        metafunc.parametrize("case", cases, ids=[c.test_id for c in cases])


def ask_attempts(asker, writer, saved, settings, model: str, case: QACase,
                 second=(None, {}), max_tokens: int | None = None) -> list[Attempt]:
    """Ask ``--repeats`` times; each attempt is graded and saved the moment it is answered.

    On ``--resume`` an attempt the run already saved is taken from its record instead. With
    ``--judge-model`` (``second`` = the judge and the fixtures' sample answers) the judge's
    verdict is saved beside the deterministic one.
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
            asked = asker.ask(model, case.prompt, lang=case.lang, repeat=repeat,
                              max_tokens=max_tokens)
        except ClientError as exc:
            writer.write("qa", qa_result(rid, model, case, repeat, infra_outcome(exc),
                                         str(exc), served).to_dict())
            raise
        verdict = judge(asked, case.grader, prompt=case.prompt)
        record = qa_result(rid, model, case, repeat, verdict.outcome, verdict.explanation,
                           served, asked).to_dict()
        llm, examples = second
        opinion = second_opinion(llm, case, asked.completion.text,
                                 examples.get((case.id, case.lang)))
        if opinion is not None:
            record["judge"] = opinion | {"disagrees": disagrees(verdict, opinion)}
        writer.write("qa", record)
        results.append((asked, verdict, None))
    return results


def _output_tokens(attempts: list[Attempt]) -> int:
    return sum((a.completion.output_tokens or 0) for a, _, _ in attempts if a is not None)


@pytest.fixture(scope="session")
def second_opinion_judge(asker, stackeval_settings):
    """The optional LLM judge (--judge-model; default URL: the run's gateway) and the question
    files' reference and wrong sample answers its rubric is built from."""
    models = asker.stack.models()
    gateway = asker.stack.endpoint(models[0]) if models else None
    llm = make_judge(stackeval_settings, gateway.base_url if gateway else None,
                     gateway.api_key if gateway else None)
    if llm is None:
        return None, {}
    examples = load_examples(stackeval_settings.qa_dir or DEFAULT_DIR)
    return llm, {(e.case.id, e.case.lang): e for e in examples}


@pytest.fixture
def attempts(request, model, case, answers, asker, record_writer, stackeval_settings,
             second_opinion_judge, stackeval_knobs):
    """This question's attempts, asked concurrently with the model's other questions."""
    return answers.result_for(
        request.node,
        lambda p: ask_attempts(asker, record_writer, answers.saved, stackeval_settings,
                               p["model"], p["case"], second_opinion_judge,
                               stackeval_knobs.get("max_tokens")),
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
