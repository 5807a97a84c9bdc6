"""Deterministic graders: every type passing and failing in Chinese and English, with reasons."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from stackeval.errors import GraderError
from stackeval.graders import GRADER_TYPES, grade, is_loop, validate_spec
from stackeval.graders.llm_judge import Judge, parse_verdict

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
    ({"type": "not", "of": {"type": "choice", "expected": "A"}}, "答案是 C", True),
    ({"type": "not", "of": {"type": "choice", "expected": "A"}}, "所以，答案是：A. 棉花", False),
    # a final answer, a boxed value or a conclusion outweighs numbers met on the way
    (THREE, "Counting: s-t-r (1), r (2) … so 2 r's in 'straw'. The answer is 3.", True),
    (THREE, "We check 1, 2 and 4 first.\n\n#### 3", True),
    (THREE, "First 2 + 2 = 4, minus one gives \\(\\boxed{3}\\).", True),
    (THREE, "答案是 2。因为 st-r-awbe-r-r-y 里有 3 个 r 吗？不对。", False),
    (SUNDAY, "Today is Friday. 100 ÷ 7 = 14 r 2. The answer is Sunday.", True),
    (SUNDAY, "100 = 14 × 7 + 2, Friday + 6 = \\(\\boxed{\\text{Thursday}}\\).", False),
    (SUNDAY, "星期日, also known as 星期六, is a tradition.", False),  # two named, none stated
    (SUNDAY, "If today is Friday, then \\[ \\text{Friday} + 2 = \\text{Sunday} \\]. Thus it is "
             "\\(\\boxed{\\text{Sunday}}\\).", True),
    # yes/no: the conclusion counts, not only the first sentence
    (NO, "While it's true that water helps with fires, oil is different. "
         "So, to answer your question, no, you shouldn't pour water on it.", True),
    (NO, "Water and oil do not mix. Therefore, we cannot conclude that.", True),
    (NO, "Let me think about this carefully. 所以，不能推出有些猫是狗。", True),
    (NO, "Yes, it will. In conclusion, no.", False),  # opening and conclusion disagree
    (NO, "So, the answer is not entirely incorrect, but it's not accurate either.", False),
    (YES, "The answer is yes: it sits on the border.", True),
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
        ({"type": "not", "of": [THREE]}, "not.of: a grader spec must be a mapping"),
        ({"type": "regex", "pattern": "x", "echo": "drop"}, "echo can only be 'keep'"),
        ({"type": "number", "value": 3, "echo": "keep"}, "does not take echo"),
    ],
)
def test_malformed_spec_raises_grader_error(spec: Any, message: str) -> None:
    with pytest.raises(GraderError, match=re.escape(message)):
        validate_spec(spec)
    with pytest.raises(GraderError):
        grade("any answer", spec)


# --- echoes of the prompt and repetition loops ---------------------------------------------------

ULAANBAATAR = "The capital of Mongolia is Ulaanbaatar. Ulaanbaatar is the capital of which country?"
MONGOLIA: Spec = {"type": "any_of", "values": ["蒙古", "mongolia"]}
ZH_ULAANBAATAR = "蒙古国的首都是乌兰巴托。那么乌兰巴托是哪个国家的首都？"
COTTON = "一公斤棉花和一公斤铁，哪个更重？A. 棉花 B. 铁 C. 一样重"
SAME: Spec = {"type": "regex", "pattern": "一样重"}
PALINDROME = "把“上海自来水来自海上”这句话逐字倒过来读，会得到什么？"
ORGANELLE = ("Which organelle is the powerhouse of the cell? A. The nucleus of the cell, which "
             "holds the DNA B. The mitochondria, which make most of the cell's energy as ATP "
             "C. The ribosome")


@pytest.mark.parametrize(
    ("spec", "prompt", "answer", "passes"),
    [
        # the premise repeated back is not an answer; the same words rearranged are
        (MONGOLIA, ULAANBAATAR, "The capital of Mongolia is Ulaanbaatar.", False),
        (MONGOLIA, ULAANBAATAR, "Ulaanbaatar is the capital of Mongolia.", True),
        (MONGOLIA, ULAANBAATAR, "Mongolia.", True),
        (MONGOLIA, ZH_ULAANBAATAR, "蒙古国的首都是乌兰巴托。", False),
        (MONGOLIA, ZH_ULAANBAATAR, "乌兰巴托是蒙古国的首都。", True),
        # the option list repeated back picks nothing; one option named does
        (SAME, COTTON, "A. 棉花 B. 铁 C. 一样重", False),
        (SAME, COTTON, "C. 一样重", True),
        ({"type": "choice", "expected": "C", "options": "ABC"}, COTTON,
         "A. 棉花\nB. 铁\nC. 一样重\n\n答案：C", True),
        ({"type": "choice", "expected": "C", "options": "ABC"}, COTTON, "A. 棉花 B. 铁 C. 一样重",
         False),
        # one long option copied with its letter is a choice, not an echo
        ({"type": "choice", "expected": "B"}, ORGANELLE,
         "B. The mitochondria, which make most of the cell's energy as ATP", True),
        ({"type": "regex", "pattern": "mitochondria"}, ORGANELLE,
         "The mitochondria, which make most of the cell's energy as ATP.", True),
        # a restated premise does not supply the answer's weekday or number ...
        ({"type": "weekday", "expected": "thursday"},
         "If the day before tomorrow is Thursday, what day is today?",
         "The day before tomorrow is Thursday, and today is the first day of tomorrow.", False),
        ({"type": "weekday", "expected": "thursday"},
         "If the day before tomorrow is Thursday, what day is today?",
         "The day before tomorrow is Thursday, so today is Thursday.", True),
        ({"type": "regex", "pattern": "second"},
         "In a race, you overtake the person in second place. What position are you in now?",
         "In a race, you overtake the person in second place. You are in the third position now.",
         False),
        # ... but a cue word inside the echo still marks the value after it as stated
        ({"type": "number", "value": 100}, "在标准大气压下，水的沸点是多少摄氏度？",
         "在一个标准大气压下，水的沸点是 100 摄氏度。", True),
        ({"type": "yes_no", "expected": "no"}, "Is Paris the capital of Germany?",
         "Is Paris the capital of Germany? No, it is the capital of France.", True),
        ({"type": "yes_no", "expected": "no"}, 'Someone says: "I am lying." True or false?',
         'Someone says: "I am lying." True or false? No.', True),
        # the question's own words as the answer: only a check with echo: keep sees them
        ({"type": "contains", "value": "上海自来水来自海上"}, PALINDROME,
         "你会得到上海自来水来自海上", False),
        ({"type": "contains", "value": "上海自来水来自海上", "echo": "keep"}, PALINDROME,
         "你会得到上海自来水来自海上", True),
    ],
)
def test_echoed_prompt_text_does_not_count(spec: Spec, prompt: str, answer: str,
                                           passes: bool) -> None:
    result = grade(answer, spec, prompt=prompt)
    assert result.passed is passes, result.explanation


def test_an_answer_that_only_echoes_the_question_fails_and_says_so() -> None:
    result = grade(ULAANBAATAR, MONGOLIA, prompt=ULAANBAATAR)
    assert not result.passed
    assert result.explanation.startswith("the answer only repeats the question")
    assert grade(ULAANBAATAR, MONGOLIA).passed  # without the prompt nothing is known to be echo


def test_the_explanation_names_what_was_ignored_as_echo() -> None:
    result = grade("The capital of Mongolia is Ulaanbaatar. So: Mongolia.", MONGOLIA,
                   prompt=ULAANBAATAR)
    assert result.passed
    assert "ignored 1 passage copied from the question" in result.explanation
    assert "The capital of Mongolia is Ulaanbaatar." in result.explanation
    assert result.checks[-1].startswith("NOTE echo:")


@pytest.mark.parametrize(
    "answer",
    [
        "A: A. 棉花 B. 铁 C. 一样重\n\n" * 8,  # the option list, looped
        "There are 12. " + "historic " * 40,
        "12 个。\n\n" + "你可以在你的家族中安置你的家族的科，但是我没有什么。" * 3,
        "".join(f"{i}. 蒙古国的首都是乌兰巴托。\n" for i in range(1, 6)) + "6. 蒙古",
        # two copies and the start of a third: cut off while looping
        "答案是 12。从玛丽的生命中提到，玛丽·李·菲佛的生命中是玛丽的父母的父母的父母。"
        "从玛丽的生命中提到，玛丽·李·菲佛的生命中是玛丽的父母的父母的父母。从玛丽",
    ],
)
def test_a_repetition_loop_never_passes(answer: str) -> None:
    spec: Spec = {"type": "any", "of": [SAME, {"type": "number", "value": 12},
                                         {"type": "contains", "value": "historic"}, MONGOLIA]}
    result = grade(answer, spec)
    assert not result.passed and is_loop(result), result.explanation
    assert result.explanation.startswith("the answer is a repetition loop")


@pytest.mark.parametrize(
    "answer",
    [
        "No, no, no. It is 12.",
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nSo 12.",
        "Step 1: 4 eggs. Step 2: 4 eggs. Step 3: 4 eggs. Total: 12.",
        "It is 12. Water and oil. It is 12. Water and oil.",  # said twice, then stopped
    ],
)
def test_ordinary_repetition_is_not_a_loop(answer: str) -> None:
    result = grade(answer, {"type": "number", "value": 12, "mode": "any"})
    assert result.passed and not is_loop(result), result.explanation


def test_not_explains_the_inner_check() -> None:
    result = grade("答案是 A", {"type": "not", "of": {"type": "choice", "expected": "A"}})
    assert not result.passed
    assert result.explanation.startswith("expected this check to fail: expected option A")
    assert result.checks[0].startswith("NOT PASS choice")


# --- the optional LLM judge --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "passed"),
    [
        ('{"verdict": "pass", "reason": "says 3"}', True),
        ('{"verdict": "FAIL", "reason": "says 2"}', False),
        ('```json\n{"verdict": "fail", "reason": "x"}\n```', False),
        ('Sure! My grading: {"correct": true, "explanation": "right"} Hope it helps.', True),
        ('{"passed": false}', False),
        ("<think>hmm, 3 is right</think>\n{\"verdict\": \"pass\"}", True),
        ("PASS: the answer is 3.", True),
        ("Verdict: fail - it accepts the premise", False),
        ('{"verdict": "maybe"}', None),
        ("I cannot decide.", None),
        ("", None),
    ],
)
def test_judge_replies_are_read_tolerantly(reply: str, passed: bool | None) -> None:
    got, reason = parse_verdict(reply)
    assert got is passed, reason


class FakeJudgeServer:
    """Records the requests and answers like an OpenAI-compatible chat endpoint."""

    def __init__(self, content: str, refuse_json_mode: bool = False) -> None:
        self.content, self.refuse, self.bodies = content, refuse_json_mode, []

    def __call__(self, url: str, json: dict, headers: dict, timeout: float) -> httpx.Response:
        self.bodies.append((url, json, headers))
        request = httpx.Request("POST", url)
        if self.refuse and "response_format" in json:
            return httpx.Response(400, json={"error": "response_format"}, request=request)
        body = {"choices": [{"message": {"role": "assistant", "content": self.content}}]}
        return httpx.Response(200, json=body, request=request)


def test_the_judge_gets_a_rubric_from_the_case_and_its_verdict_is_parsed() -> None:
    server = FakeJudgeServer('{"verdict": "fail", "reason": "accepts the premise"}')
    judge = Judge(model="judge-m", url="http://127.0.0.1:9/v1/", api_key="k")
    verdict = judge.grade("Who won the 2019 Nobel Prize in Mathematics?", "there is none",
                          "Karen Uhlenbeck.", references=["There is no such prize."],
                          wrong=["It went to Karen Uhlenbeck."], post=server)
    assert verdict.passed is False and verdict.reason == "accepts the premise"
    assert verdict.to_dict()["verdict"] == "fail" and verdict.model == "judge-m"
    url, body, headers = server.bodies[0]
    assert url == "http://127.0.0.1:9/v1/chat/completions"
    assert headers == {"Authorization": "Bearer k"}
    assert body["temperature"] == 0 and body["response_format"] == {"type": "json_object"}
    user = body["messages"][1]["content"]
    assert "There is no such prize." in user and "It went to Karen Uhlenbeck." in user
    assert "<<<\nKaren Uhlenbeck.\n>>>" in user and "JSON" in body["messages"][0]["content"]


def test_the_judge_falls_back_when_json_mode_is_refused_and_never_passes_on_errors() -> None:
    server = FakeJudgeServer('{"verdict": "pass"}', refuse_json_mode=True)
    judge = Judge(model="m", url="http://127.0.0.1:9/v1")
    assert judge.grade("q", "e", "a", post=server).passed is True
    assert "response_format" not in server.bodies[-1][1]

    def broken(*_args: Any, **_kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("refused")

    failed = judge.grade("q", "e", "a", post=broken)
    assert failed.passed is None and "judge request failed" in failed.reason


def test_the_judge_is_not_asked_about_a_loop() -> None:
    server = FakeJudgeServer('{"verdict": "pass"}')
    verdict = Judge(model="m", url="http://x/v1").grade("q", "e", "12 " + "historic " * 30,
                                                       post=server)
    assert verdict.passed is False and "repetition loop" in verdict.reason and not server.bodies


# --- judging: the question the answer is checked against ----------------------------------------


def _asked(text: str, fmt: str, sent: str) -> Any:
    from stackeval.prompting import Asked
    from stackeval.records import Completion

    return Asked(Completion(model="m", endpoint="e", text=text, finish_reason="stop"), fmt, sent)


def test_judge_reads_the_question_back_from_what_was_sent() -> None:
    from stackeval.judging import judge, question_sent
    from stackeval.records import Outcome

    chat = _asked(ULAANBAATAR, "chat", f"[system]\nBe brief.\n\n[user]\n{ULAANBAATAR}")
    assert question_sent(chat) == ULAANBAATAR
    assert judge(chat, MONGOLIA).outcome is Outcome.WRONG  # only the echo: not a pass
    assert judge(chat, MONGOLIA, prompt="").outcome is Outcome.PASS  # no question: no echo known
    few_shot = "Q: How many legs?\nA: 8.\n\nQ: Is it small?\nA: No.\n\nQ: " + ULAANBAATAR + "\nA:"
    assert question_sent(_asked("x", "completion", few_shot)) == "Q: " + ULAANBAATAR
    looping = _asked("Mongolia. " + "Mongolia is big. " * 10, "chat", "")
    assert judge(looping, MONGOLIA).outcome is Outcome.LOOP


def test_make_judge_and_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from stackeval.errors import ConfigError
    from stackeval.judging import Judged, disagrees, make_judge
    from stackeval.records import Outcome

    assert make_judge(SimpleNamespace(judge_model=None)) is None
    with pytest.raises(ConfigError, match="--judge-url"):
        make_judge(SimpleNamespace(judge_model="m", judge_url=None))
    monkeypatch.delenv("STACKEVAL_JUDGE_API_KEY", raising=False)
    j = make_judge(SimpleNamespace(judge_model="m", judge_url=None, request_timeout=5.0),
                   gateway_url="http://gw/v1", gateway_key="gk")
    assert (j.url, j.api_key, j.timeout) == ("http://gw/v1", "gk", 5.0)
    monkeypatch.setenv("STACKEVAL_JUDGE_API_KEY", "jk")
    j = make_judge(SimpleNamespace(judge_model="m", judge_url="http://j/v1"), "http://gw/v1", "gk")
    assert (j.url, j.api_key) == ("http://j/v1", "jk")
    passed = Judged(Outcome.PASS, "ok")
    assert disagrees(passed, {"verdict": "fail"}) and not disagrees(passed, {"verdict": "pass"})
    assert not disagrees(passed, {"verdict": "unreadable"}) and not disagrees(passed, None)


# --- the echo mask and the loop finder themselves ----------------------------------------------


def test_mask_echo_keeps_offsets_and_reports_what_it_blanked() -> None:
    from stackeval.echo import ECHO_MARK, mask_echo

    text = "If today is Friday, then 100 days from now it is Sunday."
    echo = mask_echo(text, "If today is Friday, what day of the week will it be 100 days from now?")
    assert len(echo.text) == len(text)
    assert echo.removed == ("If today is Friday,",)
    assert echo.text.startswith(ECHO_MARK * len("If today is Friday, "))
    assert echo.rest == "then 100 days from now it is Sunday."  # a 4-word copy, not a clause
    assert mask_echo(text, None).text == text and mask_echo(text, "").removed == ()


def test_mask_echo_reads_a_yes_no_question_stated_as_a_fact_as_an_answer() -> None:
    from stackeval.echo import mask_echo

    q = "珠穆朗玛峰位于中国和尼泊尔的边境上吗？"
    stated = mask_echo("珠穆朗玛峰位于中国和尼泊尔的边境上。", q)
    assert stated.removed == () and stated.affirmed == ((0, 17),)
    asked = mask_echo("珠穆朗玛峰位于中国和尼泊尔的边境上吗？是的。", q)
    assert asked.affirmed == () and asked.rest == "是的。"


def test_find_loop_measures_the_loop() -> None:
    from stackeval.textnorm import find_loop

    loop = find_loop("Intro. " + "The answer is: " * 20)
    assert loop is not None and loop.unit == "The answer is:" and loop.times >= 19
    assert 0.9 < loop.share <= 1
    assert find_loop("short: no no no") is None
