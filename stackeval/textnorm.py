"""Text normalization for graders and the streaming client: reasoning, width, numbers, weekdays.

A leaf module: it imports nothing from stackeval. Offsets in a :class:`Mention` refer to
``normalize(text)``, so callers that look around a mention should normalize first.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_OPEN, _CLOSE = "<think>", "</think>"


def split_reasoning(text: str) -> tuple[str, str]:
    """Split a reply into ``(answer, reasoning)``, taking out ``<think>…</think>`` blocks."""
    reasoning: list[str] = []

    def take(match: re.Match[str]) -> str:
        reasoning.append(match.group(1).strip())
        return ""

    answer = _THINK_BLOCK.sub(take, text)
    # Chat templates that put "<think>" in the prompt leave only the closing tag in the reply.
    close = answer.lower().find(_CLOSE)
    if close != -1:
        reasoning.insert(0, answer[:close].strip())
        answer = answer[close + len(_CLOSE) :]
    # An opening tag never closed: the reply was cut off while still reasoning.
    open_ = answer.lower().find(_OPEN)
    if open_ != -1:
        reasoning.append(answer[open_ + len(_OPEN) :].strip())
        answer = answer[:open_]
    return answer.strip(), "\n\n".join(r for r in reasoning if r)


_QUOTES = str.maketrans(
    {
        "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "〝": '"', "〞": '"',
        "「": '"', "」": '"', "『": '"', "』": '"',
        "‘": "'", "’": "'", "‚": "'", "‛": "'",
    }
)  # fmt: skip


def normalize(text: str) -> str:
    """NFKC (full-width to ASCII), one quote style, casefolded, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(text.split())


def soft_normalize(text: str) -> str:
    """NFKC, one quote style and collapsed whitespace, keeping case (for option letters)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return " ".join(text.split())


class Mention(NamedTuple):
    """A number or weekday found in normalized text, with its span."""

    value: float
    text: str
    start: int
    end: int


# --- numbers -----------------------------------------------------------------------------------

_ZH_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_ZH_CHARS = "".join([*_ZH_DIGITS, *_ZH_UNITS, *_ZH_BIG])

_EN_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_EN_TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_EN_BIG = {"thousand": 1000, "million": 10**6}
_EN_WORD = "|".join([*_EN_SMALL, *_EN_TENS, "hundred", *_EN_BIG])

# Words that contain numeral characters but are not quantities ("一些" some, "十分" very,
# "星期一" Monday); blanked out before scanning so they cannot be read as numbers.
_NOT_NUMBERS = re.compile(
    r"(?:星期|礼拜|禮拜|周|週)[一二三四五六日天]"
    r"|一些|一下|一起|一般|一定|一样|一樣|一直|一切|一旦|一致|一共|统一|統一|唯一|万一|萬一"
    r"|之一|一点|一點|一会|一會|十分|千万|千萬|一边|一邊|一方面|进一步|進一步|一再|一律|一同"
    r"|一向|一番|一时|一時|两者|兩者"
    r"|\bno one\b|\bone another\b|\b(?:the|this|that|which|each) one\b"
)
_NUMBER = re.compile(
    r"(?P<arabic>(?:(?<![^\s=:(])-)?(?<![a-z0-9_.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
    r"(?P<mult>[万萬亿億])?"
    rf"|(?P<zh>[{_ZH_CHARS}]+)"
    rf"|(?P<en>\b(?:{_EN_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_EN_WORD}))*\b)"
)


def parse_chinese_number(s: str) -> int | None:
    """The value of a Chinese numeral (十一, 一百零一, 两千, 三万五, 二〇二四), else None."""
    if not s or any(ch not in _ZH_CHARS for ch in s):
        return None
    if not any(ch in _ZH_UNITS or ch in _ZH_BIG for ch in s):
        # Digit by digit, as in years: 二〇二四.
        return int("".join(str(_ZH_DIGITS[ch]) for ch in s))
    total = section = digit = 0
    last_unit = top_big = 1
    seen_digit = False
    for ch in s:
        if ch in _ZH_DIGITS:
            digit, seen_digit = _ZH_DIGITS[ch], True
        elif ch in _ZH_UNITS:
            unit = _ZH_UNITS[ch]
            if not seen_digit and unit != 10:
                return None  # a bare 百 or 千 is a word, not a number
            section += (digit or 1) * unit if (digit or unit == 10) else 0
            digit, last_unit, seen_digit = 0, unit, True
        else:
            big = _ZH_BIG[ch]
            if not seen_digit:
                return None
            if big > top_big:  # 三万 or 一亿: scales everything before it
                total, top_big = (total + section + digit) * big, big
            else:  # the 万 in 一亿三千万 scales only its own section
                total += (section + digit) * big
            section, digit, last_unit = 0, 0, big
    # Colloquial "三百五" means 350: a trailing digit right after a unit scales by that unit / 10.
    if digit and last_unit >= 100 and s[-2] in {**_ZH_UNITS, **_ZH_BIG}:
        digit *= last_unit // 10
    return total + section + digit


def _parse_english(words: list[str]) -> list[int]:
    """Values of a run of English number words; "three four" is two numbers, not one."""
    values: list[int] = []
    total = current = 0
    started = can_add_small = False
    for word in words:
        if word == "and":
            continue
        if word in _EN_SMALL or word in _EN_TENS:
            value = _EN_SMALL.get(word, _EN_TENS.get(word, 0))
            tens_then_unit = current % 100 >= 20 and current % 10 == 0 and value < 10
            if started and not (can_add_small or tens_then_unit):
                values.append(total + current)
                total = current = 0
            current += value
            can_add_small = False
        elif word == "hundred":
            current = current // 100 * 100 + (current % 100 or 1) * 100
            can_add_small = True
        else:
            total += (current or 1) * _EN_BIG[word]
            current, can_add_small = 0, True
        started = True
    if started:
        values.append(total + current)
    return values


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def find_numbers(text: str) -> list[Mention]:
    """Numbers in text, in order: 3, ３, 1,000, 2.5, 3万, 三, 一百零一, twenty-one, a hundred."""
    norm = normalize(text)
    scan = _NOT_NUMBERS.sub(_blank, norm)
    found: list[Mention] = []
    for m in _NUMBER.finditer(scan):
        if m.group("arabic"):
            value = float(m.group("arabic").replace(",", ""))
            if m.group("mult"):
                value *= _ZH_BIG[m.group("mult")]
            found.append(Mention(value, norm[m.start() : m.end()], m.start(), m.end()))
        elif m.group("zh"):
            zh = parse_chinese_number(m.group("zh"))
            if zh is not None:
                found.append(Mention(float(zh), m.group("zh"), m.start(), m.end()))
        else:
            words = re.findall(r"[a-z]+", m.group("en"))
            # A run like "three four" yields several values; they share the run's span.
            for value in _parse_english(words):
                found.append(Mention(float(value), m.group("en"), m.start(), m.end()))
    return found


# --- weekdays ----------------------------------------------------------------------------------

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY = re.compile(
    r"(?:星期|礼拜|禮拜|周|週)(?P<zh>[一二三四五六日天])"
    r"|\b(?P<en>monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
)


def find_weekdays(text: str) -> list[Mention]:
    """Weekdays in text, in order; value 0 is Monday. Accepts 星期日/周日/週日/礼拜天/Sunday."""
    found = []
    for m in _WEEKDAY.finditer(normalize(text)):
        if m.group("zh"):
            day = _ZH_WEEKDAY[m.group("zh")]
        else:
            day = [w.lower() for w in WEEKDAYS].index(m.group("en"))
        found.append(Mention(float(day), m.group(), m.start(), m.end()))
    return found


def parse_weekday(s: str) -> int | None:
    """The weekday (0 = Monday) that all of ``s`` names ("sunday", "星期日"), else None."""
    found = find_weekdays(s)
    if len(found) == 1 and found[0].text == normalize(s):
        return int(found[0].value)
    return None


# --- repetition loops --------------------------------------------------------------------------

# A unit of up to 200 characters repeated back to back at least three times ...
_REPEAT = re.compile(r"(.{1,200}?)\1{2,}", re.DOTALL)
# ... over at least this many characters is a loop, not emphasis ("No, no, no").
LOOP_MIN_CHARS = 60


class Loop(NamedTuple):
    """A repetition loop: the unit repeated, how many times, and how much of the text it fills."""

    unit: str
    times: int
    share: float


def find_loop(text: str) -> Loop | None:
    """The longest back-to-back repetition in the text if it is a loop, else None.

    Small models caught in a loop repeat a word, a line or a paragraph until ``max_tokens``
    ("historic historic historic …", "A. 棉花 B. 铁 C. 一样重" ten times). Such an answer is
    never a pass, even when the loop contains the right words.
    """
    # Numbers count as equal, so that "1. 蒙古国的首都… 2. 蒙古国的首都…" is a loop too.
    flat = re.sub(r"\d+", "#", " ".join(text.split()))
    best: re.Match[str] | None = None
    for m in _REPEAT.finditer(flat):
        if best is None or len(m.group()) > len(best.group()):
            best = m
    if best is None or len(best.group()) < LOOP_MIN_CHARS:
        best = _cut_off_loop(flat)
        if best is None:
            return None
    unit = best.group(1)
    return Loop(unit.strip() or unit, len(best.group()) // len(unit), len(best.group()) / len(flat))


# A longer unit repeated only twice is a loop too when the text ends inside a third copy: the
# answer was cut off while looping.
_TWICE = re.compile(r"(.{20,400}?)\1", re.DOTALL)


def _cut_off_loop(flat: str) -> re.Match[str] | None:
    for m in _TWICE.finditer(flat):
        rest = flat[m.end() :]
        if len(m.group()) >= LOOP_MIN_CHARS and m.group(1).startswith(rest):
            return m
    return None
