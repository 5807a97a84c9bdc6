"""Deterministic graders written in data: ``grade(answer, spec, prompt=question) -> Grade``.

Every grade reads the answer, not the echo. Before any check:

1. reasoning (``<think>…</think>``) is stripped;
2. an answer caught in a repetition loop fails, whatever it contains
   (:func:`~stackeval.textnorm.find_loop`);
3. when the ``prompt`` is given, what the answer copied from it word for word — the question,
   a restated premise, the option list — is blanked out (:func:`~stackeval.echo.mask_echo`),
   and an answer that is nothing but such copies fails. Every check below then looks only at
   what is left, so a value inside an echo can neither pass nor fail the answer.

Spec types and their keys (``?`` = optional):

- ``exact``: value — the whole normalized answer, stripped of markup and final punctuation.
- ``contains``: value; ``any_of`` / ``all_of`` / ``not_contains``: values (a list).
  Matching is on normalized text (NFKC, casefolded, one quote style). A value that begins or
  ends with an ASCII letter or digit must stand as a whole word there ("3" is not in "13",
  "desserts" is not in "dessert"); Chinese text matches as a plain substring.
- ``regex``: pattern — searched in the normalized answer, case-insensitively.
- The word checks above take ``echo: keep`` to search the whole answer, echoes included: only
  for a question whose answer is its own words ("上海自来水来自海上" read backwards), and with a
  pattern an echo cannot match ("you get 上海自来水来自海上"). Write gaps as
  ``\\W+(\\w+\\W+){0,3}`` rather than one space, so a paraphrase with a word or two more passes.
- ``number``: value, tolerance? (absolute, default 0), mode? — which number is the answer:
  ``answer`` (default: the stated final answer — ``\\boxed{…}``, "#### …", "the answer is …",
  "答案是 …" — else a value that makes up the first sentence, else the last one stated after
  "is"/"是"/"="/"有", else the first one), ``first``, ``last``, or ``any`` (any number
  mentioned equals the value). Arabic, full-width, Chinese and English numerals all count.
- ``yes_no``: expected (yes|no) — see :func:`stackeval.graders.extract.yes_no`: the opening
  verdict and the conclusion ("So, to answer your question, no"); a hedged or mixed answer fails
  with that reason.
- ``choice``: expected (a letter), options? (default "ABCD").
- ``weekday``: expected (e.g. "sunday" or "星期日") — chosen like a number (final answer, whole
  first sentence, last stated); failing those the last mentioned, unless several different
  weekdays are named; "Friday + 100 days is Sunday" reads as Sunday, "Saturday or Sunday" as a
  hedge.
- ``all`` / ``any``: of — a list of specs that must all / at least one pass.
- ``not``: of — one spec that must fail ("does not name option A or B", "does not say Paris is
  the capital of another country"); use it inside ``all``.

A malformed spec raises :class:`~stackeval.errors.GraderError`; a wrong answer is a Grade with
``passed=False``. Graders are pure functions and every verdict carries its explanation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackeval.echo import ECHO_MARK, mask_echo
from stackeval.graders import extract
from stackeval.graders.spec import Spec, validate_spec
from stackeval.records import Grade
from stackeval.textnorm import (
    WEEKDAYS,
    find_loop,
    find_numbers,
    find_weekdays,
    normalize,
    parse_weekday,
    soft_normalize,
    split_reasoning,
)


@dataclass(frozen=True)
class Answer:
    """One answer as the graders read it.

    ``norm`` is the normalized answer (reasoning stripped); ``view`` is ``norm`` with what it
    echoed from the prompt blanked out (same offsets, see :func:`~stackeval.echo.mask_echo`),
    and ``cased`` the same for the answer with its case kept (for option letters).
    """

    norm: str
    view: str
    cased: str
    removed: tuple[str, ...] = ()
    affirmed: tuple[tuple[int, int], ...] = ()  # yes/no question restated as a fact

    @classmethod
    def read(cls, text: str, prompt: str | None = None) -> Answer:
        norm = normalize(text)
        echo = mask_echo(norm, prompt)
        cased = mask_echo(soft_normalize(text), prompt)
        return cls(norm, echo.text, cased.text, cased.removed or echo.removed, echo.affirmed)

    @property
    def rest(self) -> str:
        """The answer without its echoes, as plain text for explanations and ``exact``."""
        return " ".join(self.view.replace(ECHO_MARK, " ").split())


def grade(answer: str, spec: Spec, *, prompt: str | None = None) -> Grade:
    """Grade an answer against a spec; a bad spec raises GraderError.

    Before any check: reasoning is stripped; an answer caught in a repetition loop fails
    (:func:`~stackeval.textnorm.find_loop`); and when the ``prompt`` is given, what the answer
    copied from it word for word is blanked out (:func:`~stackeval.echo.mask_echo`), so that
    a restated question, premise or option list can neither pass nor fail an answer by itself,
    and an answer that is nothing but an echo fails.
    """
    validate_spec(spec)
    text, _reasoning = split_reasoning(answer)
    loop = find_loop(text)
    if loop is not None:
        explanation = (
            f"the answer is a repetition loop ({_excerpt(loop.unit, 40)!r} {loop.times} times "
            f"over {loop.share:.0%} of it); a loop never passes."
        )
        return _verdict("loop", False, explanation, None)
    ans = Answer.read(text, prompt)
    if ans.removed and not _WORDS.search(ans.rest):
        explanation = f"the answer only repeats the question ({_excerpt(ans.removed[0])!r})."
        return _verdict("echo", False, explanation, None)
    result = _grade(ans, spec)
    if not ans.removed:
        return result
    note = (
        f" (ignored {len(ans.removed)} passage{'s' if len(ans.removed) > 1 else ''} copied "
        f"from the question: {_excerpt(' | '.join(ans.removed))!r})"
    )
    return Grade(
        passed=result.passed,
        explanation=result.explanation + note,
        extracted=result.extracted,
        checks=(*result.checks, f"NOTE echo: {note.strip(' ()')}"),
    )


_WORDS = re.compile(r"[^\W_]")


def is_loop(result: Grade) -> bool:
    """Whether a grade failed because the answer is a repetition loop."""
    return not result.passed and bool(result.checks) and result.checks[0].startswith("FAIL loop:")


def _grade(ans: Answer, spec: Spec) -> Grade:
    return _GRADERS[spec["type"]](ans, spec)


def _excerpt(text: str, limit: int = 60) -> str:
    text = " ".join(text.replace(ECHO_MARK, " ").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(values: list[Any], limit: int = 4) -> str:
    """A short rendering of a list of alternatives for an explanation."""
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return f"[{shown}, … {len(values)} in all]" if len(values) > limit else f"[{shown}]"


def _verdict(kind: str, passed: bool, explanation: str, extracted: str | None) -> Grade:
    line = f"{'PASS' if passed else 'FAIL'} {kind}: {explanation}"
    return Grade(passed=passed, explanation=explanation, extracted=extracted, checks=(line,))


def _find(view: str, value: object) -> re.Match[str] | None:
    needle = normalize(str(value))
    left = r"(?<![a-z0-9])" if needle[:1].isascii() and needle[:1].isalnum() else ""
    right = r"(?![a-z0-9])" if needle[-1:].isascii() and needle[-1:].isalnum() else ""
    return re.search(left + re.escape(needle) + right, view)


_EDGES = re.compile(r"^[\s*_`\"'#>]+|[\s*_`\"'.。!！?？,，;；:：]+$")


def _exact(ans: Answer, spec: Spec) -> Grade:
    got = _EDGES.sub("", ans.rest)
    want = _EDGES.sub("", normalize(str(spec["value"])))
    passed = got == want
    return _verdict("exact", passed, f"expected exactly {want!r}; found {_excerpt(got)!r}.", got)


def _text(ans: Answer, spec: Spec) -> str:
    """The text a word check searches: the answer without its echoes, unless ``echo: keep``."""
    return ans.norm if spec.get("echo") == "keep" else ans.view


def _contains(ans: Answer, spec: Spec) -> Grade:
    match = _find(_text(ans, spec), spec["value"])
    found = f"found {match.group()!r}" if match else f"not found in {_excerpt(ans.view)!r}"
    explanation = f"expected the answer to contain {str(spec['value'])!r}; {found}."
    return _verdict("contains", match is not None, explanation, match.group() if match else None)


def _any_of(ans: Answer, spec: Spec) -> Grade:
    match = next((m for v in spec["values"] if (m := _find(_text(ans, spec), v))), None)
    found = f"found {match.group()!r}" if match else f"found none in {_excerpt(ans.view)!r}"
    explanation = f"expected one of {_show(spec['values'])}; {found}."
    return _verdict("any_of", match is not None, explanation, match.group() if match else None)


def _all_of(ans: Answer, spec: Spec) -> Grade:
    missing = [str(v) for v in spec["values"] if not _find(_text(ans, spec), v)]
    found = f"missing {missing}" if missing else "found all"
    explanation = f"expected all of {_show(spec['values'])}; {found}."
    return _verdict("all_of", not missing, explanation, None)


def _not_contains(ans: Answer, spec: Spec) -> Grade:
    match = next((m for v in spec["values"] if (m := _find(_text(ans, spec), v))), None)
    found = f"found {match.group()!r}" if match else "found none"
    explanation = f"expected none of {_show(spec['values'])}; {found}."
    return _verdict("not_contains", match is None, explanation, match.group() if match else None)


def _regex(ans: Answer, spec: Spec) -> Grade:
    match = re.search(spec["pattern"], _text(ans, spec), re.IGNORECASE)
    found = f"found {match.group()!r}" if match else f"no match in {_excerpt(ans.view)!r}"
    explanation = f"expected a match for /{spec['pattern']}/; {found}."
    return _verdict("regex", match is not None, explanation, match.group() if match else None)


def _number(ans: Answer, spec: Spec) -> Grade:
    want, tol, mode = spec["value"], spec.get("tolerance", 0), spec.get("mode", "answer")
    expected = f"{want:g}" + (f" ± {tol:g}" if tol else "")
    mentions = find_numbers(ans.view)
    if mode == "any":
        hit = next((m for m in mentions if abs(m.value - want) <= tol), None)
        found = [m.text for m in mentions]
        explanation = f"expected some number to be {expected}; found {found or 'no number'}."
        return _verdict("number", hit is not None, explanation, hit.text if hit else None)
    if mode == "answer":
        picked = extract.pick_stated(ans.norm, mentions, fallback="first", view=ans.view)
    elif mentions:
        m = mentions[0] if mode == "first" else mentions[-1]
        picked = extract.Picked(m, f"the {mode} number mentioned")
    else:
        picked = extract.Picked(None, "none found")
    if picked.mention is None:
        explanation = f"expected the number {expected}; found no answer number ({picked.how})."
        return _verdict("number", False, explanation, None)
    got = picked.mention
    passed = abs(got.value - want) <= tol
    explanation = (
        f"expected the number {expected}; found {got.value:g} ({got.text!r}, {picked.how})."
    )
    return _verdict("number", passed, explanation, got.text)


def _yes_no(ans: Answer, spec: Spec) -> Grade:
    opening = next((end for start, end in ans.affirmed if not _WORDS.search(ans.view[:start])),
                   None)
    verdict = extract.yes_no(ans.view, restated=opening)
    found = verdict.value or "no verdict"
    explanation = f"expected {spec['expected']!r}; found {found} ({verdict.how})."
    return _verdict("yes_no", verdict.value == spec["expected"], explanation, verdict.value)


def _choice(ans: Answer, spec: Spec) -> Grade:
    verdict = extract.choice_letter(ans.cased, spec.get("options", "ABCD"))
    found = verdict.value or "no option"
    explanation = f"expected option {spec['expected']}; found {found} ({verdict.how})."
    return _verdict("choice", verdict.value == spec["expected"], explanation, verdict.value)


def _weekday(ans: Answer, spec: Spec) -> Grade:
    want = WEEKDAYS[parse_weekday(spec["expected"]) or 0]  # validated: never None
    picked = extract.pick_stated(ans.norm, find_weekdays(ans.view), fallback="last", view=ans.view)
    if picked.mention is None:
        explanation = f"expected {want}; found no answer weekday ({picked.how})."
        return _verdict("weekday", False, explanation, None)
    got = WEEKDAYS[int(picked.mention.value)]
    explanation = f"expected {want}; found {got} ({picked.mention.text!r}, {picked.how})."
    return _verdict("weekday", got == want, explanation, got)


def _combine(kind: str) -> Callable[[Answer, Spec], Grade]:
    def combined(ans: Answer, spec: Spec) -> Grade:
        grades = [_grade(ans, sub) for sub in spec["of"]]
        passed_ = [g for g in grades if g.passed]
        failed = [g for g in grades if not g.passed]
        n = len(grades)
        if kind == "all":
            passed = not failed
            explanation = (
                f"all {n} checks passed" if passed else f"{len(failed)} of {n} checks failed"
            ) + f": {(failed or grades)[0].explanation}"
            lead = failed[0] if failed else grades[0]
        else:
            passed = bool(passed_)
            explanation = (
                f"{len(passed_)} of {n} alternatives passed"
                if passed
                else f"none of {n} alternatives passed"
            ) + f": {(passed_ or grades)[0].explanation}"
            lead = passed_[0] if passed_ else grades[0]
        extracted = next((g.extracted for g in [lead, *grades] if g.extracted), None)
        checks = tuple(line for g in grades for line in g.checks)
        return Grade(passed=passed, explanation=explanation, extracted=extracted, checks=checks)

    return combined


def _not(ans: Answer, spec: Spec) -> Grade:
    inner = _grade(ans, spec["of"])
    explanation = f"expected this check to fail: {inner.explanation}"
    checks = tuple(f"NOT {line}" for line in inner.checks)
    return Grade(passed=not inner.passed, explanation=explanation, extracted=None, checks=checks)


_GRADERS: dict[str, Callable[[Answer, Spec], Grade]] = {
    "exact": _exact,
    "contains": _contains,
    "any_of": _any_of,
    "all_of": _all_of,
    "not_contains": _not_contains,
    "regex": _regex,
    "number": _number,
    "yes_no": _yes_no,
    "choice": _choice,
    "weekday": _weekday,
    "all": _combine("all"),
    "any": _combine("any"),
    "not": _not,
}
