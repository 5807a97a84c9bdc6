"""From answer to outcome: grade it; tell a wrong answer from a truncated or ungradable one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from stackeval import attach
from stackeval.errors import ClientError, ConfigError, ContextOverflow, GraderError
from stackeval.graders import grade, is_loop
from stackeval.graders.llm_judge import Judge
from stackeval.prompting import Asked
from stackeval.qa import QAExample
from stackeval.records import Grade, Outcome, QACase, QAResult


@dataclass(frozen=True)
class Judged:
    """One attempt's outcome with the grade (None when grading itself failed)."""

    outcome: Outcome
    explanation: str
    grade: Grade | None = None


def judge(asked: Asked, spec: dict[str, Any], prompt: str | None = None) -> Judged:
    """Grade an answer; a failed grade with ``finish_reason=length`` counts as truncated, and an
    answer the client stopped as a repetition loop is a loop whatever the grader says.

    ``prompt`` is the question as the case states it (``case.prompt``): what the answer merely
    copies from it does not count. Without it, the question is read back from what was sent.
    """
    question = prompt if prompt is not None else question_sent(asked)
    try:
        g = grade(asked.completion.text, spec, prompt=question)
    except GraderError as exc:
        return Judged(Outcome.GRADER_ERROR, f"could not grade: {exc}")
    if asked.completion.stop_reason:  # graded as it is, but a loop is never a pass
        return Judged(Outcome.LOOP, f"{asked.completion.stop_reason}; {g.explanation}", g)
    if is_loop(g):  # the grader's own guard: the answer text loops
        return Judged(Outcome.LOOP, g.explanation, g)
    if g.passed:
        return Judged(Outcome.PASS, g.explanation, g)
    if asked.completion.finish_reason == "length":
        return Judged(Outcome.TRUNCATED, f"answer cut off at max_tokens; {g.explanation}", g)
    return Judged(Outcome.WRONG, g.explanation, g)


def question_sent(asked: Asked) -> str | None:
    """The question inside what was sent: the last user turn of a chat, or the last "Q: …" /
    "问:…" block of a few-shot completion prompt (not its examples, whose answers a base model
    may rightly repeat)."""
    sent = asked.sent
    if asked.prompt_format == "chat":
        marker = "[user]\n"
        return sent.rsplit(marker, 1)[1] if marker in sent else sent
    block = sent.rstrip().rsplit("\n\n", 1)[-1]
    lines = block.splitlines()
    return "\n".join(lines[:-1]) if len(lines) > 1 else block


def infra_outcome(exc: ClientError) -> Outcome:
    """The outcome category of a request that never produced an answer."""
    return Outcome.CONTEXT_OVERFLOW if isinstance(exc, ContextOverflow) else Outcome.INFRA_ERROR


def qa_result(run_id: str, model: str, case: QACase, repeat: int, outcome: Outcome,
              explanation: str, served: dict[str, Any], asked: Asked | None = None) -> QAResult:
    """The saved record of one attempt."""
    return QAResult(
        run_id=run_id, model=model, case_id=case.id, lang=case.lang, category=case.category,
        repeat=repeat, outcome=outcome, explanation=explanation,
        prompt_format=asked.prompt_format if asked else "chat",
        answer=asked.completion.text if asked else "",
        metrics=asked.completion.metrics() if asked else {}, served=served,
        reasoning=asked.completion.reasoning if asked else "",
        request=asked.request if asked else {},
    )


def attach_attempt(asked: Asked, judged: Judged, label: str = "") -> None:
    """Allure attachments of one attempt: prompt, answer, reasoning, verdict, metrics."""
    sfx = f" {label}" if label else ""
    attach.text(f"prompt ({asked.prompt_format}){sfx}", asked.sent)
    attach.text(f"answer{sfx}", asked.completion.text)
    if asked.completion.reasoning:
        attach.text(f"reasoning{sfx}", asked.completion.reasoning)
    verdict = {"outcome": judged.outcome.value, "explanation": judged.explanation}
    if judged.grade is not None:
        verdict |= {"extracted": judged.grade.extracted, "checks": list(judged.grade.checks)}
    attach.as_json(f"verdict{sfx}", verdict)
    attach.as_json(f"metrics{sfx}", json.loads(json.dumps(asked.completion.metrics(),
                                                          default=str)))


# --- the optional LLM judge: a second opinion recorded beside the deterministic grade ----------


def make_judge(settings: Any, gateway_url: str | None = None,
               gateway_key: str | None = None) -> Judge | None:
    """The judge ``--judge-model`` asks for, at ``--judge-url`` or else the run's own gateway.

    Its key comes from ``STACKEVAL_JUDGE_API_KEY`` (for the gateway: the gateway's key), so it
    is never part of the settings written to a run's environment.json.
    """
    model = getattr(settings, "judge_model", None)
    if not model:
        return None
    url = getattr(settings, "judge_url", None) or gateway_url
    if not url:
        raise ConfigError("--judge-model needs --judge-url (or a stack with a gateway)")
    key = os.environ.get("STACKEVAL_JUDGE_API_KEY") or (
        gateway_key if url == gateway_url else None)
    return Judge(model=model, url=url, api_key=key,
                 timeout=float(getattr(settings, "request_timeout", 120.0)))


def second_opinion(judge: Judge | None, case: QACase, answer: str,
                   example: QAExample | None = None) -> dict[str, Any] | None:
    """The judge's verdict on an answer as a record field (None without a judge): model,
    verdict (pass, fail or unreadable), reason and the raw reply."""
    if judge is None:
        return None
    verdict = judge.grade(case.prompt, case.note, answer,
                          references=example.references if example else (),
                          wrong=example.wrong if example else ())
    return verdict.to_dict()


def disagrees(judged: Judged, opinion: dict[str, Any] | None) -> bool:
    """Whether the judge read the answer otherwise than the deterministic grade did."""
    if not opinion or opinion.get("verdict") not in ("pass", "fail"):
        return False
    return (opinion["verdict"] == "pass") != (judged.outcome is Outcome.PASS)
