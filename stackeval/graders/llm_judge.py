"""An optional second opinion: a judge model grades the answer with a rubric built from the case.

The judge is any OpenAI-compatible chat endpoint (``--judge-url``, ``--judge-model``): a local
llama.cpp server, Ollama, vLLM, One-API or a hosted API. The rubric gives it the question, the
expected answer, the dataset's reference (correct) answers and known wrong answers, and asks for
JSON only: ``{"verdict": "pass" | "fail", "reason": "..."}``. The reply is read tolerantly (code
fences, prose around the object, ``"correct": true``, a bare PASS/FAIL); anything else is an
unreadable verdict (``passed=None``), never a pass.

The judge's verdict is recorded beside the deterministic one; it never replaces it. Like the
deterministic graders, an answer in a repetition loop is failed without asking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from stackeval.sampling import Sampling
from stackeval.textnorm import find_loop, split_reasoning

RUBRIC = """You are a strict, fair teacher grading one answer to one question.
Grade only whether the answer correctly answers the question that was asked.

Rules:
- Read the whole answer. Judge what it concludes, not words it merely repeats from the question.
- An answer that only repeats the question or its premises, that loops or repeats itself until
  cut off, that refuses, that hedges between answers, or that contradicts itself is a fail.
- If the question rests on a false premise, the answer must not accept the premise.
- Extra details that were not asked do not matter, unless they contradict the answer.
- Any language is fine; the answer need not match the reference word for word.

Reply with one JSON object and nothing else:
{"verdict": "pass" or "fail", "reason": "<one short sentence>"}"""


@dataclass(frozen=True)
class JudgeVerdict:
    """The judge's reading: passed (None when no verdict could be read), why, and its raw reply."""

    passed: bool | None
    reason: str
    model: str = ""
    raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        verdict = {True: "pass", False: "fail", None: "unreadable"}[self.passed]
        return {"model": self.model, "verdict": verdict, "reason": self.reason, "raw": self.raw}


def rubric_messages(question: str, expected: str, answer: str,
                    references: Sequence[str] = (), wrong: Sequence[str] = ()) -> list[dict]:
    """The chat messages that ask the judge to grade ``answer``."""
    parts = [f"Question:\n{question}", f"Expected answer:\n{expected}"]
    if references:
        parts.append("Correct answers look like:\n" + "\n".join(f"- {r}" for r in references))
    if wrong:
        parts.append("These answers are WRONG:\n" + "\n".join(f"- {w}" for w in wrong))
    parts.append(f"Answer to grade (between the markers):\n<<<\n{answer}\n>>>")
    return [{"role": "system", "content": RUBRIC},
            {"role": "user", "content": "\n\n".join(parts)}]


_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_VERDICT_KEYS = ("verdict", "passed", "pass", "correct", "grade", "result", "is_correct")
_PASS_WORDS = {"pass", "passed", "correct", "yes", "true", "right", "1"}
_FAIL_WORDS = {"fail", "failed", "incorrect", "wrong", "no", "false", "0"}
_BARE = re.compile(r"^\W*(?:verdict\W*)?(pass|fail|correct|incorrect)\b", re.IGNORECASE)


def _reading(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().strip(".!").casefold()
    if word in _PASS_WORDS:
        return True
    if word in _FAIL_WORDS:
        return False
    return None


def parse_verdict(reply: str) -> tuple[bool | None, str]:
    """Read (passed, reason) out of a judge's reply; (None, why not) when there is no verdict."""
    text, _ = split_reasoning(reply)
    text = re.sub(r"```(?:json)?", "", text).strip()
    candidates = [text, *(m.group() for m in _OBJECT.finditer(text))]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        lowered = {str(k).casefold(): v for k, v in data.items()}
        for key in _VERDICT_KEYS:
            if key in lowered and (passed := _reading(lowered[key])) is not None:
                reason = lowered.get("reason") or lowered.get("explanation") or ""
                return passed, str(reason).strip()
    if match := _BARE.match(text):
        passed = match.group(1).casefold() in ("pass", "correct")
        return passed, text[match.end():].strip(" :.-\n")[:300]
    return None, f"no verdict in the judge's reply: {text[:120]!r}"


Post = Callable[..., httpx.Response]


@dataclass(frozen=True)
class Judge:
    """A judge model behind an OpenAI-compatible endpoint."""

    model: str
    url: str  # base URL, e.g. http://127.0.0.1:8080/v1
    api_key: str | None = None
    timeout: float = 120.0
    max_tokens: int = 300

    def ask(self, messages: list[dict], post: Post = httpx.post) -> str:
        """The judge's reply text; asks for JSON output, and again without if that is refused."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body: dict[str, Any] = {
            "model": self.model, "messages": messages, **Sampling(self.max_tokens, 0).body(),
            "response_format": {"type": "json_object"},
        }
        endpoint = self.url.rstrip("/") + "/chat/completions"
        resp = post(endpoint, json=body, headers=headers, timeout=self.timeout)
        if resp.status_code in (400, 422):  # a server without JSON mode
            body.pop("response_format")
            resp = post(endpoint, json=body, headers=headers, timeout=self.timeout)
        resp.raise_for_status()
        return str(resp.json()["choices"][0]["message"].get("content") or "")

    def grade(self, question: str, expected: str, answer: str, *,
              references: Sequence[str] = (), wrong: Sequence[str] = (),
              post: Post = httpx.post) -> JudgeVerdict:
        """The judge's verdict on one answer: a loop fails unasked, an error is no verdict."""
        text, _ = split_reasoning(answer)
        if (loop := find_loop(text)) is not None:
            return JudgeVerdict(False, f"repetition loop ({loop.unit[:40]!r} x{loop.times}); "
                                       "not sent to the judge", self.model)
        messages = rubric_messages(question, expected, text, references, wrong)
        try:
            reply = self.ask(messages, post=post)
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            return JudgeVerdict(None, f"judge request failed: {exc}", self.model)
        passed, reason = parse_verdict(reply)
        return JudgeVerdict(passed, reason, self.model, reply)
