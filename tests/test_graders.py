"""Deterministic graders: every type passing and failing in Chinese and English, with reasons."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stackeval.errors import GraderError
from stackeval.graders import GRADER_TYPES, grade, validate_spec

Spec = dict[str, Any]

SUNDAY: Spec = {"type": "weekday", "expected": "sunday"}
THREE: Spec = {"type": "number", "value": 3}
NO: Spec = {"type": "yes_no", "expected": "no"}
YES: Spec = {"type": "yes_no", "expected": "yes"}

# (spec, answer, passes) — each grader type with right and wrong answers in zh and en.
CASES: list[tuple[Spec, str, bool]] = [
    # exact: the whole answer, ignoring case, width, markup and final punctuation
    ({"type": "exact", "value": "Paris"}, "**paris.**", True),
    ({"type": "exact", "value": "巴黎"}, "巴黎。", True),
    ({"type": "exact", "value": "Paris"}, "Paris, France", False),
    ({"type": "exact", "value": 3}, "３", True),
    # contains: ASCII words match whole words only; Chinese as substrings
    ({"type": "contains", "value": "desserts"}, 'It becomes "Desserts".', True),
    ({"type": "contains", "value": "desserts"}, "It becomes dessert.", False),
    ({"type": "contains", "value": "3"}, "13 letters", False),
    ({"type": "contains", "value": "法国"}, "巴黎是法国的首都", True),
    ({"type": "contains", "value": "“回文”"}, '这是一个"回文"', True),  # quotes unified
    # any_of / all_of / not_contains
    ({"type": "any_of", "values": ["堪培拉", "canberra"]}, "The capital is Canberra.", True),
    ({"type": "any_of", "values": ["堪培拉", "canberra"]}, "首都是堪培拉。", True),
    ({"type": "any_of", "values": ["堪培拉", "canberra"]}, "The capital is Sydney.", False),
    ({"type": "all_of", "values": ["paris", "france"]}, "Paris is in France.", True),
    ({"type": "all_of", "values": ["巴黎", "法国"]}, "巴黎在德国。", False),
    ({"type": "not_contains", "values": ["不是悖论", "not a paradox"]}, "这是悖论。", True),
    ({"type": "not_contains", "values": ["不是悖论", "not a paradox"]}, "Not a paradox.", False),
    # regex: searched in the normalized answer, case-insensitively
    ({"type": "regex", "pattern": r"rises? in the east"}, "The Sun RISES in the East.", True),
    ({"type": "regex", "pattern": r"(东|東)[方边]?升"}, "太阳从西边升起。", False),
    # number: Arabic, full-width, Chinese and English numerals
    (THREE, "There are 3 r's in strawberry.", True),
    (THREE, "There are three r's in strawberry.", True),
    (THREE, "单词中有３个 r。", True),
    (THREE, "答案是三。", True),
    (THREE, "**3**", True),
    (THREE, "The word strawberry has 2 r's.", False),
    (THREE, "“strawberry” 中有两个 r。", False),
    (THREE, "2 or 3", False),  # a hedge between two values
    (THREE, "I'm not sure.", False),
    ({"type": "number", "value": 101}, "一百零一", True),
    ({"type": "number", "value": 1440}, "There are 1,440 minutes in a day (24 × 60).", True),
    ({"type": "number", "value": 6}, "小明现在有 6 个苹果（5 - 2 + 3 = 6）。", True),
    ({"type": "number", "value": 0.05, "tolerance": 0.001}, "It costs $0.051.", True),
    ({"type": "number", "value": 0.05, "tolerance": 0.001}, "It costs $0.10.", False),
    ({"type": "number", "value": 5, "mode": "first"}, "5 minutes, not 100 minutes", True),
    ({"type": "number", "value": 100, "mode": "first"}, "5 minutes, not 100 minutes", False),
    ({"type": "number", "value": 100, "mode": "last"}, "5 minutes, not 100 minutes", True),
    ({"type": "number", "value": 100, "mode": "any"}, "5 minutes, not 100 minutes", True),
    ({"type": "number", "value": 7, "mode": "any"}, "5 minutes, not 100 minutes", False),
    # yes_no: explicit verdicts in zh and en; hedged and mixed answers fail
    (NO, "不是。巴黎是法国的首都。", True),
    (NO, "不，巴黎在法国。", True),
    (NO, "否", True),
    (NO, "不对，巴黎是法国的首都。", True),
    (NO, "巴黎并不是德国的首都，它是法国的首都。", True),
    (NO, "No, Paris is the capital of France.", True),
    (NO, "Paris is not the capital of Germany; it is the capital of France.", True),
    (NO, "That's incorrect. Paris is in France.", True),
    (NO, "False: Paris is in France.", True),
    (NO, "No, that's not correct.", True),
    (NO, "It's a common myth, but no.", True),
    (NO, "是的，巴黎是德国的首都。", False),
    (NO, "对。", False),
    (NO, "Yes, it is.", False),
    (NO, "True.", False),
    (NO, "Correct.", False),
    (NO, "是也不是。", False),
    (NO, "不一定。", False),
    (NO, "Yes and no.", False),
    (NO, "It depends on how you look at it.", False),
    (NO, "Maybe not.", False),
    (NO, "巴黎是德国的首都。", False),  # no explicit yes or no
    (YES, "是的，珠峰在中尼边境上。", True),
    (YES, "对，它在边境上。", True),
    (YES, "Yes, it lies on the border.", True),
    (YES, "Correct, it does.", True),
    (YES, "That's right.", True),
    (YES, "不是，它在印度。", False),
    (YES, "No, it is in India.", False),
    (YES, "Yes — no wait.", False),  # mixed in one clause
    # choice
    ({"type": "choice", "expected": "C", "options": "ABC"}, "C. 一样重", True),
    ({"type": "choice", "expected": "C", "options": "ABC"}, "答案是 Ｃ。", True),
    ({"type": "choice", "expected": "C", "options": "ABC"}, "The answer is (C).", True),
    ({"type": "choice", "expected": "C", "options": "ABC"}, "A common mistake; answer: C", True),
    ({"type": "choice", "expected": "C", "options": "ABC"}, "B. 铁更重。", False),
    ({"type": "choice", "expected": "C", "options": "ABC"}, "A kilogram is a kilogram.", False),
    ({"type": "choice", "expected": "C"}, "Answer B, or answer C.", False),
    # weekday: the whole first sentence, else the last stated weekday, else the last mentioned
    (SUNDAY, "星期日。", True),
    (SUNDAY, "答案：周日", True),
    (SUNDAY, "100 天后是礼拜天。", True),
    (SUNDAY, "100 天后是週日。", True),
    (SUNDAY, "Friday + 100 days is Sunday.", True),
    (SUNDAY, "今天是星期五，100 天之后是星期日。", True),
    (SUNDAY, "Sunday.\n\nExplanation: 100 = 14 × 7 + 2, so it is two days after Friday.", True),
    (SUNDAY, "Today is Friday. 100 ÷ 7 = 14 r 2, so 100 days later is Sunday.", True),
    (SUNDAY, "It falls on a Sunday.", True),
    (SUNDAY, "Friday → Sunday", True),
    (SUNDAY, "今天是星期五，100 天之后是星期六。", False),
    (SUNDAY, "It is Saturday.", False),
    (SUNDAY, "Saturday or Sunday.", False),
    (SUNDAY, "It is Sunday, or maybe Saturday.", False),
    (SUNDAY, "星期六，也可能是星期日。", False),
    (SUNDAY, "I cannot know.", False),
    ({"type": "weekday", "expected": "星期日"}, "It will be Sunday.", True),
    # composition
    ({"type": "all", "of": [NO, {"type": "any_of", "values": ["法国", "france"]}]},
     "No. Paris is the capital of France.", True),
    ({"type": "all", "of": [NO, {"type": "any_of", "values": ["法国", "france"]}]},
     "不是，巴黎是意大利的首都。", False),
    ({"type": "any", "of": [THREE, {"type": "contains", "value": "three"}]}, "three", True),
    ({"type": "any", "of": [THREE, {"type": "contains", "value": "three"}]}, "four", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "answer", "passes"),
    CASES,
    ids=[f"{s['type']}-{'pass' if p else 'fail'}-{a[:24]}" for s, a, p in CASES],
)
def test_grader(spec: Spec, answer: str, passes: bool) -> None:
    result = grade(answer, spec)
    assert result.passed is passes, result.explanation
    assert result.explanation and result.checks


def test_every_type_is_covered() -> None:
    assert {spec["type"] for spec, _, _ in CASES} == set(GRADER_TYPES)


def test_reasoning_is_stripped_before_grading() -> None:
    answer = "<think>Is it yes? No wait, maybe 2... it is 2.</think>\n\n**3**"
    result = grade(answer, THREE)
    assert result.passed, result.explanation
    assert grade("<think>yes, yes, yes</think>不是。", NO).passed
    assert not grade("<think>the answer is 3</think>", THREE).passed  # cut off while thinking


def test_explanation_names_expected_and_found() -> None:
    result = grade("今天是星期五，100 天之后是星期六。", SUNDAY)
    assert not result.passed
    assert "Sunday" in result.explanation and "Saturday" in result.explanation
    assert "星期六" in result.explanation and "'是'" in result.explanation
    assert result.extracted == "Saturday"
    assert result.checks == (f"FAIL weekday: {result.explanation}",)


def test_number_explanation_shows_the_number_read() -> None:
    result = grade("“strawberry” 中有两个 r。", THREE)
    assert result.explanation.startswith("expected the number 3; found 2 ('两'")
    assert result.extracted == "两"


def test_yes_no_explanation_says_hedged() -> None:
    result = grade("It depends.", NO)
    assert "hedged" in result.explanation and "'no'" in result.explanation
    assert result.extracted is None


def test_composite_lists_every_check() -> None:
    spec = {"type": "all", "of": [NO, {"type": "any_of", "values": ["法国", "france"]}]}
    result = grade("不是，巴黎是意大利的首都。", spec)
    assert result.explanation.startswith("1 of 2 checks failed: expected one of")
    assert [line.split()[0] for line in result.checks] == ["PASS", "FAIL"]
    assert result.extracted == "no"


def test_long_value_lists_are_shortened_in_explanations() -> None:
    spec = {"type": "any_of", "values": [f"w{i}" for i in range(10)]}
    assert "10 in all" in grade("nothing", spec).explanation


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["contains"], "must be a mapping"),
        ({"value": "x"}, "unknown grader type None"),
        ({"type": "fuzzy"}, "unknown grader type 'fuzzy'"),
        ({"type": "contains"}, "needs value"),
        ({"type": "contains", "value": "x", "values": ["y"]}, "does not take values"),
        ({"type": "contains", "value": ""}, "non-empty text"),
        ({"type": "any_of", "values": "x"}, "non-empty list"),
        ({"type": "any_of", "values": []}, "non-empty list"),
        ({"type": "regex", "pattern": "("}, "bad pattern"),
        ({"type": "number", "value": "3"}, "numeric value"),
        ({"type": "number", "value": True}, "numeric value"),
        ({"type": "number", "value": 3, "tolerance": -1}, "tolerance >= 0"),
        ({"type": "number", "value": 3, "mode": "middle"}, "mode must be one of"),
        ({"type": "yes_no", "expected": True}, "'yes' or 'no'"),
        ({"type": "choice", "expected": "E"}, "one of ABCD"),
        ({"type": "choice", "expected": "a", "options": "abc"}, "capital letters"),
        ({"type": "weekday", "expected": "someday"}, "weekday name"),
        ({"type": "all", "of": []}, "non-empty list of specs"),
        ({"type": "any", "of": [THREE, {"type": "nope"}]}, "any.of[1]: unknown grader type"),
    ],
)
def test_malformed_spec_raises_grader_error(spec: Any, message: str) -> None:
    with pytest.raises(GraderError, match=re.escape(message)):
        validate_spec(spec)
    with pytest.raises(GraderError):
        grade("any answer", spec)
