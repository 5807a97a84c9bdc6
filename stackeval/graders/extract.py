"""Reading the answer out of a reply: the stated number or weekday, a yes/no verdict, a letter.

The functions work on answers whose reasoning is already stripped, and return what they found
with a short phrase saying how it was chosen, which the grader quotes in its explanation.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from stackeval.textnorm import Mention, normalize

_SENTENCE_END = re.compile(r"[。！？!?;；\n]|\.(?!\d)")
_CLAUSE_END = re.compile(r"[。！？!?;；\n,，、:：]|\.(?!\d)")

# Words after which a value is being stated as the answer: "is 3", "有 3 个", "= 3", "是星期日",
# "falls on Sunday". Filler such as "a", "only", "大约", "一共" may sit between cue and value.
_CUE = re.compile(
    r"(?:是|为|為|有|共|计|計|等于|等於|得|到|在|了|即|=|≈|:|→|->"
    r"|需要|需|\b(?:is|are|was|were|be|has|have|equals?|takes?|took|costs?|appears?|occurs?|on"
    r"|total(?:s| of)?)"
    r"|'s)"
    r"(?:\s|\*|_|\"|'|\(|\$|¥|€|£|大约|大約|约|約|只有|仅|僅|一共|总共|總共|共|就|还|還|则|則"
    r"|\b(?:a|an|the|only|exactly|just|about|around|approximately|roughly|still|now)\b)*$"
)
# Two values offered as alternatives: "Saturday or Sunday", "3 或 4".
_ALTERNATIVE = re.compile(
    r"^[\s*_\"'(),，]*(?:(?:or|either|maybe|perhaps|possibly|或者?|还是|還是|也许|也許|或许|或許"
    r"|也?可能是?|/)[\s*_\"'(),，]*)+$"
)


class Picked(NamedTuple):
    """The mention taken as the answer (None if none or hedged) and how it was chosen."""

    mention: Mention | None
    how: str


_ANSWER_LABEL = re.compile(r"\W*(?:(?:final )?answer|最终答案|最終答案|答案|结论|結論)?\W*")


def _first_sentence(norm: str) -> str:
    return _SENTENCE_END.split(norm, maxsplit=1)[0]


def _is_bare(norm: str, mention: Mention) -> bool:
    """Whether the first sentence is just this value, maybe labelled and with a short unit."""
    sentence = _first_sentence(norm)
    if mention.end > len(sentence):
        return False
    unit = re.sub(r"\W", "", sentence[mention.end :])
    return _ANSWER_LABEL.fullmatch(sentence[: mention.start]) is not None and len(unit) <= 2


def _cue(norm: str, mention: Mention) -> str | None:
    """The cue ("is", "是", "=") right before a mention, if it is stated as a value."""
    match = _CUE.search(norm[max(0, mention.start - 24) : mention.start])
    return match.group().strip(" *_\"'(") if match else None


def pick_stated(norm: str, mentions: list[Mention], fallback: str) -> Picked:
    """Choose the answer among mentions of one kind (numbers or weekdays) in normalized text.

    1. a value that makes up the whole first sentence ("Sunday.", "**3 个**", "答案：C");
    2. else the last value stated after a cue ("is", "是", "=", "有", "on" ...), because
       restated premises ("today is Friday") come before the conclusion;
    3. else the ``fallback`` ("first" or "last") mention.
    Two different values offered as alternatives ("Saturday or Sunday", "3 或 4") are a hedge.
    """
    if not mentions:
        return Picked(None, "none found")
    for a, b in zip(mentions, mentions[1:], strict=False):
        if a.value != b.value and _ALTERNATIVE.match(norm[a.end : b.start]):
            return Picked(None, f"hedged between {a.text!r} and {b.text!r}")
    if _is_bare(norm, mentions[0]):
        return Picked(mentions[0], "the whole first sentence")
    stated = [(m, cue) for m in mentions if (cue := _cue(norm, m))]
    if stated:
        mention, cue = stated[-1]
        return Picked(mention, f"the last one stated, after {cue!r}")
    if fallback == "first":
        return Picked(mentions[0], "the first one mentioned")
    return Picked(mentions[-1], "the last one mentioned")


# --- yes / no ----------------------------------------------------------------------------------

_HEDGE = re.compile(
    r"yes and no|both yes and no|not necessarily|not exactly|not quite|it depends|depends on"
    r"|\b(?:maybe|perhaps|possibly|partly|partially|unclear)\b|not sure"
    r"|是也不是|对也不对|對也不對|既是又不是|不一定|未必|也许|也許|或许|或許|(?<!不)可能|不确定|不確定"
    r"|说不准|說不準|不好说|不好說|难说|難說|视情况|視情況|看情况|看情況|部分正确|部分正確"
)
_NO = (
    r"(?:\bnot|n't)\s+(?:\w+\s+)?(?:correct|true|right)\b"
    r"|不是|并不是|並不是|并非|並非|不对|不對|不正确|不正確|不可能|不可以|不能|不要|不会|不會|不行"
    r"|没有|沒有|不在|不属于|不屬於|不位于|不位於|千万别|千萬別|否|错误|錯誤|错的|錯的"
    r"|\b(?:no|nope|not|never|false|incorrect|wrong|nobody|none|cannot)\b|n't\b"
)
_YES = (
    r"是的|对的|對的|没错|沒錯|正确(?!答案|的答案|的是)|正確(?!答案|的答案|的是)|确实|確實"
    r"|\b(?:yes|yeah|yep|yup|indeed)\b|\bcorrect\b(?! answer)|\btrue\b|\bthat(?:'s| is) right\b"
)
# Only at the very start do bare 是/对/会/能/不/错 and "right"/"sure" carry a verdict.
_LEADING = re.compile(
    rf"(?P<no>{_NO}|错(?![过過])|錯(?![过過])|不(?!\w))"
    rf"|(?P<yes>{_YES}|当然|當然|是(?!否)|对(?![于於比称稱着著])|對(?![于於比称稱着著])"
    r"|(?:会|會|能|有|可以|行)(?!\w)"
    r"|\b(?:right|sure|certainly|absolutely|of course)\b)"
)
_MID = re.compile(rf"(?P<no>{_NO})|(?P<yes>{_YES})")
_MARKUP = re.compile(r"^[\s*_#>`\"'(\[（【]+")


class Verdict(NamedTuple):
    """A yes/no reading: ``value`` is "yes", "no" or None, with the words it rests on."""

    value: str | None
    how: str


def yes_no(answer: str) -> Verdict:
    """Read a yes/no verdict from the answer.

    A hedge in the first clause ("不一定", "it depends", "maybe") gives no verdict. Otherwise a
    verdict word that opens the answer decides (是的/不是/对/不/否/yes/no/correct/false ...),
    unless its clause also holds the opposite ("yes and no", "是也不是"). Failing that, the first
    sentence's verdict words decide (不是/没有/not/isn't/true/correct ...); words of both
    polarities there read as mixed, and none at all as no verdict.
    """
    norm = _MARKUP.sub("", normalize(answer))
    clause = _CLAUSE_END.split(norm, maxsplit=1)[0]
    if hedge := _HEDGE.search(clause):
        return Verdict(None, f"hedged ({hedge.group()!r})")
    lead = _LEADING.match(norm)
    if lead:
        value = "no" if lead.group("no") else "yes"
        rest = clause[lead.end() :]
        for m in _MID.finditer(rest):
            if (m.group("no") is not None) != (value == "no"):
                return Verdict(None, f"mixed ({lead.group()!r} then {m.group()!r})")
        return Verdict(value, f"opens with {lead.group()!r}")
    sentence = _first_sentence(norm)
    if hedge := _HEDGE.search(sentence):
        return Verdict(None, f"hedged ({hedge.group()!r})")
    marks = list(_MID.finditer(sentence))
    kinds = {"no" if m.group("no") else "yes" for m in marks}
    if len(kinds) == 2:
        words = ", ".join(repr(m.group()) for m in marks)
        return Verdict(None, f"mixed ({words} in the first sentence)")
    if marks:
        return Verdict(kinds.pop(), f"{marks[0].group()!r} in the first sentence")
    return Verdict(None, "no explicit yes or no")


# --- multiple choice ---------------------------------------------------------------------------


def choice_letter(answer: str, options: str) -> Verdict:
    """The option letter the answer picks, from "答案是 C", "I choose C", "C. 一样重" or "(C)"."""
    # Case matters here (a lone "A" vs the article "a"), so only NFKC: "Ｃ" becomes "C".
    text = unicodedata.normalize("NFKC", answer)
    letter = rf"(?<![A-Za-z])([{re.escape(options)}])(?![A-Za-z])"
    after_cue = re.compile(
        r"(?:(?i:answer|correct option|correct choice|choose)|答案|正确选项|正確選項"
        rf"|选(?![项項])|選(?![项項]))[^{re.escape(options)}\n]{{0,12}}?{letter}"
    )
    cued = {m.group(1) for m in after_cue.finditer(text)}
    if len(cued) > 1:
        return Verdict(None, f"several options named as the answer: {sorted(cued)}")
    if cued:
        return Verdict(cued.pop(), "the letter after a cue such as 'answer'/'答案'")
    marked = re.compile(
        rf"[(（\[【]{letter}[)）\]】]|\*\*{letter}\*\*"
        rf"|^[\s*>#]*{letter}(?:[.)、:：,，]|\s*$|\s+(?=[^\x00-\x7f]))",
        re.MULTILINE,
    )
    found = [next(g for g in m.groups() if g) for m in marked.finditer(text)]
    if found:
        return Verdict(found[0], "the first marked letter, such as 'C.' or '(C)'")
    return Verdict(None, f"no option letter among {options}")
