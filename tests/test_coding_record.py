"""A coding sample's saved record: the typed CodingRecord writes the keys, order and values the
coding eval wrote as a dict before it."""

from __future__ import annotations

import json

from stackeval.coding.checkers import CodeRun
from stackeval.coding.quality import QualityReport
from stackeval.coding.runner import CodingRecord, CodingResult
from stackeval.records import Outcome

BASE = {"run_id": "r1", "model": "m:1b", "task_id": "humaneval/0", "suite": "humaneval",
        "lang": "en", "sample": 0, "served": {"name": "m:1b"}, "client": "direct"}
RESULT = CodingResult(task_id="humaneval/0", suite="humaneval", language="python",
                      sandbox="bwrap", code="def f(): pass\n",
                      run=CodeRun(Outcome.WRONG, "1 check failed", failures=("f() == 1",)),
                      quality=QualityReport(tool="ruff", available=True), answer="```py```",
                      extraction="1 python block")
ASK = {"prompt_format": "chat", "metrics": {"ttft_s": 0.1}, "request": {"path": "/chat"}}


def _same(record: CodingRecord, expected: dict) -> None:
    assert json.dumps(record.to_dict()) == json.dumps(expected)  # key order too


def test_a_graded_sample_is_identity_then_result_then_ask():
    record = CodingRecord(**BASE, outcome=RESULT.outcome, explanation=RESULT.explanation,
                          result=RESULT, **ASK)
    _same(record, BASE | RESULT.to_dict() | ASK)
    assert not record.passed


def test_a_loop_overrides_the_verdict_in_place_and_extras_follow_the_ask():
    extra = {"continue": {"calls": []}}
    record = CodingRecord(**BASE, outcome=Outcome.LOOP, explanation=f"loop; {RESULT.explanation}",
                          result=RESULT, extra=extra, **ASK)
    _same(record, BASE | RESULT.to_dict() | ASK | extra | {
        "outcome": "repetition_loop", "passed": False,
        "explanation": f"loop; {RESULT.explanation}"})


def test_a_failed_ask_is_identity_and_verdict_only():
    record = CodingRecord(**BASE, outcome=Outcome.INFRA_ERROR, explanation="server gone")
    _same(record, BASE | {"outcome": "infrastructure_error", "passed": False,
                          "explanation": "server gone"})
