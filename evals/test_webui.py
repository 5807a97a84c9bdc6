"""Web Q&A through Open WebUI: its chat API for every question, and a real browser for one.

The same question is also timed direct, via the gateway and via Open WebUI's API, so the cost of
each layer shows next to the others (``webui`` records, table at the end of the run). Answers are
fetched in fixtures: a harness failure is a test *error*, a wrong answer a *failure*.
"""

from __future__ import annotations

import re

import pytest

from stackeval import attach
from stackeval.errors import ClientError, StackEvalError
from stackeval.judging import Judged, attach_attempt, infra_outcome, judge, qa_result
from stackeval.plugin import session_settings
from stackeval.prompting import Asked
from stackeval.qa import load_cases, select_cases
from stackeval.records import Completion, Outcome, QACase
from stackeval.sampling import Sampling

pytestmark = pytest.mark.webui

LATENCY_CASE = "strawberry-r-zh"  # Chinese on purpose: the browser must type it too
ROUNDS = 5  # timed rounds per API path, after one untimed warm-up round
BROWSER_ROUNDS = 3  # the browser asks in a new chat each time; medians tame a busy machine


def _latency_case() -> QACase:
    cases = load_cases()
    return next((c for c in cases if c.test_id == LATENCY_CASE), cases[0])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Questions for the API test (--webui-cases, default all); the plugin adds the models."""
    if "case" in metafunc.fixturenames:
        ids = session_settings(metafunc.config).webui.webui_cases
        try:
            cases = select_cases(load_cases(), ids=list(ids) or None)
        except StackEvalError as exc:
            raise pytest.UsageError(f"--webui-cases: {exc}") from exc
        metafunc.parametrize("case", cases, ids=[c.test_id for c in cases])


@pytest.fixture
def chat_model(model, stack):
    """The model, loaded; base models are skipped (no chat template for a chat UI)."""
    if stack.served(model).kind == "base":
        pytest.skip(f"{model} is a base model: it has no chat template, so a chat UI gets "
                    "endless text; test_qa asks it with completion prompts instead")
    stack.acquire(model)
    attach.labels(model=model, suite="webui")
    return model


def _params(settings) -> dict:
    return Sampling(settings.max_tokens, settings.temperature, settings.seed).body()


def _messages(case: QACase) -> list[dict[str, str]]:
    return [{"role": "user", "content": case.prompt}]


@pytest.fixture
def webui_judged(chat_model, case, webui, stack, client, record_writer, stackeval_settings):
    """One question through Open WebUI's /api/chat/completions, graded, attached and saved."""
    served = stack.served(chat_model).to_dict()
    attach.labels(category=case.category, lang=case.lang)
    try:
        completion = client.chat(webui.endpoint(chat_model), _messages(case),
                                      **_params(stackeval_settings))
    except ClientError as exc:
        record_writer.write("webui", {"kind": "qa", "via": "webui"} | qa_result(
            stackeval_settings.run_id, chat_model, case, 0, infra_outcome(exc), str(exc),
            served).to_dict())
        raise
    asked = Asked(completion, "chat", f"[user]\n{case.prompt}")
    verdict = judge(asked, case.grader, prompt=case.prompt)
    attach_attempt(asked, verdict)
    record_writer.write("webui", {"kind": "qa", "via": "webui"} | qa_result(
        stackeval_settings.run_id, chat_model, case, 0, verdict.outcome, verdict.explanation,
        served, asked).to_dict())
    return verdict


def test_webui_api_qa(webui_judged: Judged, case) -> None:
    """The answer Open WebUI's API returns must be graded correct."""
    assert webui_judged.outcome is Outcome.PASS, (
        f"{case.test_id} ({case.category}) via Open WebUI API: [{webui_judged.outcome.value}] "
        f"{webui_judged.explanation}")


def test_latency_three_ways(chat_model, webui, stack, client, record_writer,
                            stackeval_settings) -> None:
    """The same question direct, via the gateway and via Open WebUI, timed in rotating order."""
    case = _latency_case()
    endpoints = {"direct": stack.direct_endpoint(chat_model), "gateway": stack.endpoint(chat_model),
                 "webui": webui.endpoint(chat_model)}
    endpoints = {via: ep for via, ep in endpoints.items() if ep is not None}
    vias = list(endpoints)
    answers: dict[str, str] = {}
    rows = []
    for rnd in range(ROUNDS + 1):  # round 0 warms every path (and the prompt cache) untimed
        for via in vias[rnd % len(vias):] + vias[:rnd % len(vias)]:
            c = client.chat(endpoints[via], _messages(case), **_params(stackeval_settings))
            assert c.text.strip(), f"{via}: empty answer"
            answers[via] = c.text
            if rnd == 0:
                continue
            row = {"kind": "latency", "run_id": stackeval_settings.run_id, "model": chat_model,
                   "case_id": case.test_id, "via": via, "round": rnd, "ttft_s": c.ttft_s,
                   "e2e_s": c.e2e_s, "output_tokens": c.output_tokens,
                   "token_source": c.token_source.value, "cached_tokens": c.cached_tokens,
                   "answer": c.text}
            record_writer.write("webui", row)
            rows.append({k: v for k, v in row.items() if k not in ("kind", "run_id", "answer")})
    attach.text("question", case.prompt)
    attach.as_json("latency by round", rows)
    attach.as_json("answers", answers)


@pytest.fixture
def browser_answer(chat_model, chat_page, webui, run_dir, record_writer, stackeval_settings):
    """The latency question typed into new chats; the last answer's screenshot is kept."""
    case = _latency_case()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", chat_model)
    shot = run_dir / "webui" / f"browser-{safe}-{case.test_id}.png"
    for rnd in range(1, BROWSER_ROUNDS + 1):
        try:
            chat_page.new_chat(chat_model)
            answer = chat_page.ask(case.prompt)
        except Exception:
            try:
                attach.file("screenshot (failed)", chat_page.screenshot(shot))
            except Exception:  # noqa: BLE001 - a dead page must not hide the real error
                pass
            raise
        record_writer.write("webui", {
            "kind": "latency", "run_id": stackeval_settings.run_id, "model": chat_model,
            "case_id": case.test_id, "via": "browser", "round": rnd, "ttft_s": answer.ttft_s,
            "e2e_s": answer.e2e_s, "output_tokens": None, "token_source": None,
            "cached_tokens": None, "answer": answer.text})
    chat_page.screenshot(shot)
    return case, answer, shot


def test_browser_qa(browser_answer, chat_model) -> None:
    """Sign in, pick the model, type a course question, read the streamed answer, grade it."""
    case, answer, shot = browser_answer
    attach.file("screenshot", shot)
    attach.text("question", case.prompt)
    attach.text("answer (page text)", answer.text)
    verdict = judge(_page_asked(answer.text, case), case.grader, prompt=case.prompt)
    attach.as_json("verdict", {"outcome": verdict.outcome.value,
                               "explanation": verdict.explanation,
                               "ttft_s": answer.ttft_s, "e2e_s": answer.e2e_s})
    assert verdict.outcome is Outcome.PASS, (
        f"{case.test_id} in the browser: [{verdict.outcome.value}] {verdict.explanation}")


def _page_asked(text: str, case: QACase) -> Asked:
    return Asked(Completion(model="", endpoint="browser", text=text), "chat", case.prompt)
