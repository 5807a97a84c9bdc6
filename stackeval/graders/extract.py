"""Reading the answer out of a reply: the stated number or weekday, a yes/no verdict, a letter.

The functions work on answers whose reasoning is already stripped, and return what they found
with a short phrase saying how it was chosen, which the grader quotes in its explanation.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from stackeval.echo import ECHO_MARK
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
    r"|\\(?:text|mathrm|mathbf|textbf|operatorname)\{|\\[(\[]"  # LaTeX: "= \text{Sunday}"
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
    return _SENTENCE_END.split(norm.lstrip(_BLANK), maxsplit=1)[0]


_BLANK = f" {ECHO_MARK}"


def _is_bare(norm: str, mention: Mention) -> bool:
    """Whether the first sentence is just this value, maybe labelled and with a short unit."""
    offset = len(norm) - len(norm.lstrip(_BLANK))
    sentence = _first_sentence(norm)
    start, end = mention.start - offset, mention.end - offset
    if start < 0 or end > len(sentence):
        return False
    unit = re.sub(r"\W", "", sentence[end:])
    return _ANSWER_LABEL.fullmatch(sentence[:start]) is not None and len(unit) <= 2


def _cue(norm: str, mention: Mention) -> str | None:
    """The cue ("is", "是", "=") right before a mention, if it is stated as a value."""
    match = _CUE.search(norm[max(0, mention.start - 24) : mention.start])
    return match.group().strip(" *_\"'(") if match else None


# Where a reply states its final answer: "\boxed{5}", "#### 5", "the answer is 5", "Final answer:
# Sunday", "答案是 5", "最终答案：星期日". The value must follow within a few words.
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")  # \boxed{\text{Sunday}} too
_FINAL = re.compile(
    r"(?:^|(?<=[\s.。!！?？:：;；,，*#]))"
    r"(?:####|(?:the |my |so the |so |thus the |therefore the |hence the )?"
    r"(?:final |correct |short |right )?answer(?: to (?:the|this|your) question)?(?: is|:|=)"
    r"|最终答案|最終答案|答案(?:是|为|為|:|应该是|應該是)|正确答案(?:是|为|:)|正確答案(?:是|為|:))"
)


def _final_window(norm: str) -> list[tuple[int, int]]:
    """Spans of normalized text that state the final answer: boxed values and labelled answers."""
    spans = [(m.start(1), m.end(1)) for m in _BOXED.finditer(norm)]
    for m in _FINAL.finditer(norm):
        rest = _CLAUSE_END.search(norm, m.end())
        end = rest.start() if rest and rest.start() > m.end() + 1 else min(len(norm), m.end() + 40)
        spans.append((m.end(), end))
    return spans


def pick_stated(
    norm: str, mentions: list[Mention], fallback: str, view: str | None = None
) -> Picked:
    """Choose the answer among mentions of one kind (numbers or weekdays) in normalized text.

    1. the value in the last explicit final answer: ``\boxed{…}``, "#### …", "the answer is
       …", "Final answer: …", "答案是 …", "最终答案：…" (the first value in that clause);
    2. else a value that makes up the whole first sentence ("Sunday.", "**3 个**", "答案：C");
    3. else the last value stated after a cue ("is", "是", "=", "有", "on" ...), because
       restated premises ("today is Friday") come before the conclusion;
    4. else the ``fallback`` ("first" or "last") mention.
    Two different values offered as alternatives ("Saturday or Sunday", "3 或 4") are a hedge.
    ``view`` is ``norm`` with the prompt's echoes blanked out (the mentions come from it): the
    sentence structure and answer labels are read there, the cues ("是", "is") in ``norm``, since
    "水的沸点是 100" states 100 even when "水的沸点是" only repeats the question.
    """
    view = norm if view is None else view
    if not mentions:
        return Picked(None, "none found")
    for a, b in zip(mentions, mentions[1:], strict=False):
        if a.value != b.value and _ALTERNATIVE.match(norm[a.end : b.start]):
            return Picked(None, f"hedged between {a.text!r} and {b.text!r}")
    finals = [
        next(m for m in mentions if start <= m.start < end)
        for start, end in sorted(_final_window(view))
        if any(start <= m.start < end for m in mentions)
    ]
    if finals:
        return Picked(finals[-1], "the stated final answer")
    if _is_bare(view, mentions[0]):
        return Picked(mentions[0], "the whole first sentence")
    stated = [(m, cue) for m in mentions if (cue := _cue(norm, m))]
    if stated:
        mention, cue = stated[-1]
        return Picked(mention, f"the last one stated, after {cue!r}")
    if fallback == "first":
        return Picked(mentions[0], "the first one mentioned")
    if len({m.value for m in mentions}) > 1:
        named = ", ".join(repr(m.text) for m in mentions[:4])
        return Picked(None, f"several named ({named}), none stated as the answer")
    return Picked(mentions[-1], "the last one mentioned")


# --- yes / no ----------------------------------------------------------------------------------

_HEDGE = re.compile(
    r"yes and no|both yes and no|not necessarily|not exactly|not quite|not entirely|not completely"
    r"|not always|it depends|depends on"
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
_MARKUP = re.compile(rf"^[\s*_#>`\"'(\[（【{ECHO_MARK}]+")


class Verdict(NamedTuple):
    """A yes/no reading: ``value`` is "yes", "no" or None, with the words it rests on."""

    value: str | None
    how: str


# A sentence that states the conclusion: "So, to answer your question, no", "Therefore, we
# cannot…", "The answer is no", "In short: yes", "所以不能…", "因此，…", "答案是：不可以".
_CONCLUSION = re.compile(
    r"(?:^|(?<=[.!?;:。！？；：\n]\s)|(?<=[.!?;:。！？；：\n]))\W*"
    r"(?:(?:so|therefore|thus|hence|overall|in (?:short|conclusion|summary|sum)"
    r"|to (?:sum up|summarize|summarise|conclude)|in other words)\b[\s,:]*"
    r"(?:to answer (?:your|the|this) question[\s,:]*)?"
    r"|(?:so,? )?to answer (?:your|the|this) question[\s,:]*"
    r"|所以|因此|因而|故|综上所述|綜上所述|综上|綜上|总之|總之|总而言之|總而言之|总的来说|總的來說"
    r"|结论是|結論是|结论[:：]|結論[:：])"
    r"|(?:the |my |so the )?(?:short |simple |final |correct )?answer(?: to (?:your|the|this)"
    r" question)? is[\s:,]*|(?:final )?answer\s*:\s*|最终答案|最終答案|答案(?:是|为|為)?[:：]?\s*"
)


def _clause_verdict(clause: str, *, leading: bool) -> Verdict | None:
    """The verdict of one clause: a verdict word that opens it (``leading``), else its verdict
    words anywhere; None when it has none, hedges, or holds both polarities."""
    clause = _MARKUP.sub("", clause)
    if hedge := _HEDGE.search(clause):
        return Verdict(None, f"hedged ({hedge.group()!r})")
    lead = _LEADING.match(clause) if leading else None
    if lead:
        value = "no" if lead.group("no") else "yes"
        for m in _MID.finditer(clause[lead.end() :]):
            if (m.group("no") is not None) != (value == "no"):
                return Verdict(None, f"mixed ({lead.group()!r} then {m.group()!r})")
        return Verdict(value, f"{lead.group()!r}")
    marks = list(_MID.finditer(clause))
    kinds = {"no" if m.group("no") else "yes" for m in marks}
    if len(kinds) == 2:
        return Verdict(None, f"mixed ({', '.join(repr(m.group()) for m in marks)})")
    if marks:
        return Verdict(kinds.pop(), f"{marks[0].group()!r}")
    return None


def _conclusion(norm: str) -> Verdict | None:
    """The verdict of the last sentence that states a conclusion and holds a verdict."""
    found: Verdict | None = None
    for m in _CONCLUSION.finditer(norm):
        rest = norm[m.end() :]
        clauses = _CLAUSE_END.split(rest, maxsplit=2)[:2]
        # "so, no, you shouldn't": the first clause, or the second after a lead-in such as
        # "based on the premises,"; a later clause ("…, but it's not the only outcome") no.
        verdict = _clause_verdict(clauses[0], leading=True)
        lead_in = len(clauses[0].split()) <= 4 or len(clauses[0]) <= 8
        if verdict is None and lead_in and len(clauses) > 1 and not _SENTENCE_END.search(
            rest[len(clauses[0]) : len(clauses[0]) + 1]
        ):
            verdict = _clause_verdict(clauses[1], leading=True)
        if verdict is not None:
            said = _excerpt(norm[m.start() : m.end() + len(", ".join(clauses))])
            found = Verdict(verdict.value, f"concludes {said!r}: {verdict.how}")
    return found


def _excerpt(text: str, limit: int = 50) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def yes_no(answer: str, restated: int | None = None) -> Verdict:
    """Read a yes/no verdict from the answer.

    A hedge in the first clause ("不一定", "it depends", "maybe") gives no verdict. Otherwise
    two places may state the verdict: a verdict word that opens the answer (是的/不是/对/不/否/
    yes/no/correct/false ..., unless its clause also holds the opposite: "yes and no",
    "是也不是"), and the last sentence that states a conclusion ("So, to answer your question,
    no", "Therefore, we cannot conclude…", "The answer is no", "所以不能…", "答案是：不可以").
    When both speak they must agree, else the answer is mixed. When neither does, the first
    sentence's verdict words decide (不是/没有/not/isn't/true/correct ...); words of both
    polarities there read as mixed, and none at all as no verdict.

    ``restated``: the answer opens by stating the yes/no question as a fact ("珠穆朗玛峰位于
    中国和尼泊尔的边境上。" for "…的边境上吗？"), ending at this offset of the (normalized)
    answer. That is a yes, unless the rest of its sentence or a conclusion says no.
    """
    if restated is not None:
        rest = _SENTENCE_END.split(answer[restated:], maxsplit=1)[0]
        said = _excerpt(answer[:restated])
        against = next((m for m in _MID.finditer(rest) if m.group("no")), None)
        if against is not None:
            return Verdict(None, f"mixed (states {said!r} as a fact, then {against.group()!r})")
        conclusion = _conclusion(answer)
        if conclusion is not None and conclusion.value != "yes":
            return Verdict(None, f"mixed (states {said!r} as a fact, but {conclusion.how})")
        return Verdict("yes", f"states the question as a fact: {said!r}")
    norm = _MARKUP.sub("", normalize(answer))
    clause = _CLAUSE_END.split(norm, maxsplit=1)[0]
    if hedge := _HEDGE.search(clause):
        return Verdict(None, f"hedged ({hedge.group()!r})")
    opening: Verdict | None = None
    if _LEADING.match(norm):
        opening = _clause_verdict(clause, leading=True)
        if opening is not None and opening.value is None:
            return opening
        if opening is not None:
            opening = Verdict(opening.value, f"opens with {opening.how}")
    conclusion = _conclusion(norm)
    if opening and conclusion and conclusion.value != opening.value:
        return Verdict(None, f"mixed ({opening.how}, but {conclusion.how})")
    if opening:
        return opening
    if conclusion:
        return conclusion  # its verdict, or its hedge
    sentence = _first_sentence(norm)
    verdict = _clause_verdict(sentence, leading=False)
    if verdict is None:
        return Verdict(None, "no explicit yes or no")
    if verdict.value is None:
        return Verdict(None, verdict.how.replace(")", " in the first sentence)", 1)
                       if verdict.how.startswith("mixed") else verdict.how)
    return Verdict(verdict.value, f"{verdict.how} in the first sentence")


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
        rf"|^[\s*>#{ECHO_MARK}]*{letter}(?:[.)、:：,，]|\s*$|\s+(?=[^\x00-\x7f]))",
        re.MULTILINE,
    )
    found = [next(g for g in m.groups() if g) for m in marked.finditer(text)]
    if found:
        return Verdict(found[0], "the first marked letter, such as 'C.' or '(C)'")
    return Verdict(None, f"no option letter among {options}")
