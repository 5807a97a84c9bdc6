"""Repetition-loop detection over a streamed answer, so the client can stop paying for it.

Small models at temperature 0 often fall into a loop ("1. Paris\n2. Paris\n3. Paris ...") and run
to ``max_tokens``. A loop is a tail of the text that repeats one unit at least ``min_repeats``
times over at least ``min_bytes`` bytes of UTF-8 (bytes, not characters: a CJK character is
three bytes and about one token, so one threshold fits Chinese and English alike). Runs of digits
count as one symbol, so numbered lists that repeat the same line are loops too; runs of
whitespace count as one space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
CHECK_EVERY = 48  # characters of new text between checks: a check costs one slice per period


@dataclass(frozen=True)
class LoopGuard:
    """Thresholds of the detector; ``detector()`` makes one per request."""

    min_repeats: int = 3
    min_bytes: int = 200

    def __post_init__(self) -> None:
        if self.min_repeats < 2 or self.min_bytes < 1:
            raise ValueError("a loop needs at least 2 repeats over at least 1 byte")

    def scaled(self, factor: int) -> LoopGuard:
        """The same guard over ``factor`` times as many bytes (coding answers)."""
        return LoopGuard(self.min_repeats, self.min_bytes * factor)

    def detector(self) -> LoopDetector:
        """A fresh detector for one streamed answer."""
        return LoopDetector(self)


class LoopDetector:
    """Fed the text of one answer piece by piece; says when its tail has become a loop."""

    def __init__(self, guard: LoopGuard) -> None:
        self.guard = guard
        self._tail = ""
        self._since_check = 0
        # Keep enough text to see min_repeats copies of a unit as long as min_bytes.
        self._keep = 4 * max(guard.min_bytes, 64)
        self.period: int | None = None  # the repeating unit's length in bytes once found

    def feed(self, text: str) -> bool:
        """Add streamed text; True once the tail is a loop (and from then on)."""
        if self.period is not None:
            return True
        self._tail = (self._tail + text)[-self._keep:]
        self._since_check += len(text)
        if self._since_check < CHECK_EVERY:
            return False
        self._since_check = 0
        self.period = find_loop(self._tail, self.guard)
        return self.period is not None


def normalize(text: str) -> str:
    """Digits runs to one symbol, whitespace runs to one space: what a loop repeats."""
    return _SPACE.sub(" ", _DIGITS.sub("0", text))


def find_loop(text: str, guard: LoopGuard) -> int | None:
    """The shortest period p (bytes) whose repetition makes up the tail of ``text``, or None.

    The tail must span max(min_bytes, min_repeats * p) bytes of the normalized UTF-8 text: the
    suffix of that length equals itself shifted by p.
    """
    s = normalize(text).encode()
    for p in range(1, len(s) // guard.min_repeats + 1):
        span = max(guard.min_bytes, guard.min_repeats * p)
        if span > len(s):
            break
        if s[len(s) - span + p:] == s[len(s) - span:len(s) - p]:
            return p
    return None
