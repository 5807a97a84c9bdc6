"""Text normalization: reasoning blocks, width and quotes, numbers and weekdays in zh and en."""

from __future__ import annotations

import pytest

from stackeval.textnorm import (
    find_numbers,
    find_weekdays,
    normalize,
    parse_chinese_number,
    parse_weekday,
    split_reasoning,
)


@pytest.mark.parametrize(
    ("text", "answer", "reasoning"),
    [
        ("<think>count the rs</think>\n\nThere are 3.", "There are 3.", "count the rs"),
        ("<THINK>a</THINK>b<think>c</think>d", "bd", "a\n\nc"),
        ("<think>still going when max_tokens hit", "", "still going when max_tokens hit"),
        ("prefilled by the template</think>\nAnswer", "Answer", "prefilled by the template"),
        ("Answer <think>late thoughts", "Answer", "late thoughts"),
        ("No reasoning at all.", "No reasoning at all.", ""),
        ("<think></think>答案是 3", "答案是 3", ""),
    ],
)
def test_split_reasoning(text: str, answer: str, reasoning: str) -> None:
    assert split_reasoning(text) == (answer, reasoning)


def test_normalize_makes_full_width_ascii_and_unifies_quotes() -> None:
    assert normalize("“ＡＢＣ”　１２３，  Hello\n「世界」‘x’") == '"abc" 123, hello "世界"\'x\''


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1),
        ("两", 2),
        ("十", 10),
        ("十一", 11),
        ("二十", 20),
        ("一百", 100),
        ("一百零一", 101),
        ("三百五", 350),
        ("一千零二十四", 1024),
        ("两千", 2000),
        ("一万", 10_000),
        ("三万五千", 35_000),
        ("一亿三千万", 130_000_000),
        ("二〇二四", 2024),
        ("百", None),
        ("万", None),
        ("abc", None),
        ("", None),
    ],
)
def test_parse_chinese_number(numeral: str, value: int | None) -> None:
    assert parse_chinese_number(numeral) == value


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("有 3 个", [3]),
        ("有３个", [3]),  # full-width digit
        ("一共有三个字母", [3]),  # 一共 (in total) is not the number one
        ("一百零一个", [101]),
        ("1,000 and 2.5 and 3万", [1000, 2.5, 30_000]),
        ("5-2=3, then -4", [5, 2, 3, -4]),
        ("位置 3，8，9", [3, 8, 9]),
        ("twenty-one and one hundred and one", [21, 101]),
        ("three four", [3, 4]),
        ("a hundred", [100]),
        ("two thousand three hundred", [2300]),
        ("no one knows, someone said", []),
        ("今天是星期五，一些人", []),  # weekday names and 一些 are not numbers
        ("mp3 and h2o", []),
    ],
)
def test_find_numbers(text: str, values: list[float]) -> None:
    assert [m.value for m in find_numbers(text)] == values


def test_find_numbers_offsets_refer_to_normalized_text() -> None:
    text = "Ｔｈｅｒｅ　ａｒｅ　３"
    (mention,) = find_numbers(text)
    assert normalize(text)[mention.start : mention.end] == "3"


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("星期日 星期天 周日 週日 礼拜天 禮拜天 Sunday", [6] * 7),
        ("今天是星期五，明天是周六", [4, 5]),
        ("Monday, TUESDAY and wednesdays", [0, 1, 2]),
        ("this weekend", []),
    ],
)
def test_find_weekdays(text: str, days: list[int]) -> None:
    assert [int(m.value) for m in find_weekdays(text)] == days


@pytest.mark.parametrize(
    ("name", "day"),
    [("sunday", 6), ("Sunday", 6), ("星期日", 6), ("周一", 0), ("禮拜天", 6), ("funday", None)],
)
def test_parse_weekday(name: str, day: int | None) -> None:
    assert parse_weekday(name) == day


def test_parse_weekday_rejects_a_sentence() -> None:
    assert parse_weekday("It is Sunday") is None
