"""Echoes of the prompt: the stretches of an answer that copy the question word for word.

An answer that restates the question ("If today is Friday, ...") contains the question's words
and numbers; graders blank those stretches out before looking for the answer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from stackeval.textnorm import soft_normalize

# A token is an ASCII word or number ("pfeiffer's", "1.10") or one CJK/other letter; punctuation
# and spacing are not tokens, so "A. 棉花\nB. 铁" copies "A. 棉花 B. 铁".
_TOKEN = re.compile(r"[0-9a-z]+(?:['.,][0-9a-z]+)*|[^\W\da-z_]", re.IGNORECASE)
# Where a prompt's clauses end: sentence and clause punctuation, and "." before a space unless it
# follows a lone option letter ("A. 棉花 B. 铁 C. 一样重" is one clause: its options are answers).
# Quotes are not clause ends: a quoted title ("Quiet Night Thought") may well be the answer.
_PROMPT_CLAUSE = re.compile(
    r"[。！？!?;；,，:：、\n()（）\[\]]|(?<![^\w][A-Za-z])(?<!^[A-Za-z])\.(?=\s|$)"
)
# Words that open a premise clause and are often dropped when it is restated ("if today is
# Friday" -> "today is Friday").
_CONNECTIVES = {"if", "and", "so", "then", "but", "now", "如", "果", "那", "么", "假", "若"}
# A copy this long is an echo wherever it stands; a shorter one only if it copies a whole clause.
ECHO_MIN_TOKENS = 8
ECHO_MIN_CLAUSE_TOKENS = 3
# Punctuation right after an echoed span goes with it ("Is Paris ...? No" -> "No").
_TRAILING = re.compile(r"[\s?？!！.。,，:：;；\"'»)）」』]*")


ECHO_MARK = "\u2591"  # "░": what an echoed character becomes; not a word, space or number


class Echo(NamedTuple):
    """A text with what it copied from the prompt blanked out, and what was blanked.

    ``text`` has the same length as the text given, each echoed character replaced by
    :data:`ECHO_MARK`, so offsets into the original still hold.
    """

    text: str
    removed: tuple[str, ...]
    # Spans that copy a yes/no question ("…的边境上吗？") minus its question particle, stated
    # as a fact ("…的边境上。"): not echoes but the affirmative answer. Chinese only.
    affirmed: tuple[tuple[int, int], ...] = ()

    @property
    def rest(self) -> str:
        """The text without its echoes, spacing collapsed."""
        return " ".join(self.text.replace(ECHO_MARK, " ").split())



def _tokens(text: str) -> list[re.Match[str]]:
    return list(_TOKEN.finditer(text))


def _prompt_clauses(ptext: str, ptoks: list[str]) -> list[tuple[int, int]]:
    """Each prompt clause as a token range [start, end), also without a leading "if"/"如果"."""
    clauses: list[tuple[int, int]] = []
    count = 0
    starts = [m.start() for m in _tokens(ptext)]
    for piece in [*_PROMPT_CLAUSE.finditer(ptext), None]:
        end = piece.start() if piece else len(ptext)
        n = sum(1 for s in starts[count:] if s < end)
        first = count
        while first < count + n and ptoks[first] in _CONNECTIVES:
            first += 1
        if count + n - first >= ECHO_MIN_CLAUSE_TOKENS:
            clauses.append((first, count + n))
        count += n
    return clauses


def mask_echo(text: str, prompt: str | None) -> Echo:
    """Blank out the stretches of ``text`` that copy the prompt word for word.

    A stretch of the text that appears contiguously in the prompt (compared token by token,
    ignoring case, punctuation and spacing) is an echo when it is at least
    ``ECHO_MIN_TOKENS`` tokens long, or when it copies a whole clause of the prompt of at least
    ``ECHO_MIN_CLAUSE_TOKENS`` tokens ("If today is Friday", "Tom Cruise's mother is Mary Lee
    Pfeiffer", the option list). Short copies stay: "Thursday", "Mongolia", "汤姆·克鲁斯" and
    "乌兰巴托是蒙古国的首都" are answers that happen to use the prompt's words, while
    "蒙古国的首都是乌兰巴托" only repeats the premise. Punctuation right after an echo goes
    with it. The text may be normalized or not; offsets are kept (see :class:`Echo`).
    """
    if not prompt or not text:
        return Echo(text, ())
    ptext = soft_normalize(prompt)
    ptoks = [m.group().casefold() for m in _tokens(ptext)]
    atoks_m = _tokens(text)
    atoks = [m.group().casefold() for m in atoks_m]
    if not ptoks or not atoks:
        return Echo(text, ())
    clauses = _prompt_clauses(ptext, ptoks)
    options = _option_of(ptext)
    # run[i][j]: how many tokens from text token i on equal the prompt from token j on.
    width = len(ptoks) + 1
    run = [0] * ((len(atoks) + 1) * width)
    for i in range(len(atoks) - 1, -1, -1):
        for j in range(len(ptoks) - 1, -1, -1):
            if atoks[i] == ptoks[j]:
                run[i * width + j] = run[(i + 1) * width + j + 1] + 1
    echoed = [False] * len(atoks)
    affirmed: list[tuple[int, int]] = []
    for i in range(len(atoks)):
        for j in range(len(ptoks)):
            length = run[i * width + j]
            if length < ECHO_MIN_CLAUSE_TOKENS:
                continue
            if i and j and run[(i - 1) * width + j - 1]:
                continue  # only a maximal copy counts, not the tail of a longer one
            whole = any(j <= cs and ce <= j + length for cs, ce in clauses)
            if not (length >= ECHO_MIN_TOKENS or whole):
                continue
            if options and options[j] and len(set(options[j : j + length])) == 1:
                continue  # one option named, with or without its letter: a choice, not an echo
            if _states_the_question(text, atoks_m, atoks, ptoks, i, j, length, clauses):
                affirmed.append((atoks_m[i].start(), atoks_m[i + length - 1].end()))
                continue
            echoed[i : i + length] = [True] * length
    if not any(echoed):
        return Echo(text, (), tuple(affirmed))
    spans: list[list[int]] = []
    for k, m in enumerate(atoks_m):
        if not echoed[k]:
            continue
        if spans and k and echoed[k - 1]:
            spans[-1][1] = m.end()
        else:
            spans.append([m.start(), m.end()])
    chars, removed = list(text), []
    for start, end in spans:
        end = _TRAILING.match(text, end).end()  # type: ignore[union-attr]
        removed.append(" ".join(text[start:end].split()))
        chars[start:end] = ECHO_MARK * (end - start)
    return Echo("".join(chars), tuple(removed), tuple(affirmed))


# An option marker in a prompt: "A." "(B)" "C、" "D:" at the start or after a space.
_OPTION = re.compile(r"(?:^|(?<=[\s(（]))[A-J](?:[.)）、:：]|(?=\s))")


def _option_of(ptext: str) -> list[int]:
    """For each prompt token, the number of the option it belongs to (0: not in an option);
    empty unless the prompt lists at least two options."""
    markers = [m.start() for m in _OPTION.finditer(ptext)]
    if len(markers) < 2:
        return []
    return [sum(1 for s in markers if s <= m.start()) for m in _tokens(ptext)]


_PARTICLES = {"吗", "嗎"}


def _states_the_question(text: str, atoks_m: list[re.Match[str]], atoks: list[str],
                         ptoks: list[str], i: int, j: int, length: int,
                         clauses: list[tuple[int, int]]) -> bool:
    """Whether a copy turns a yes/no question into a statement: it copies a whole clause up to
    its particle "吗", and the answer neither keeps the particle nor asks ("？")."""
    end = j + length
    if end >= len(ptoks) or ptoks[end] not in _PARTICLES:
        return False
    if not any(cs >= j and ce == end + 1 for cs, ce in clauses):
        return False  # not the whole question clause
    if i + length < len(atoks) and atoks[i + length] in _PARTICLES:
        return False
    after = text[atoks_m[i + length - 1].end() :].lstrip()
    return not after.startswith(("?", "？"))
