"""Deterministic graders written in data: ``grade(answer, {"type": "contains", ...}) -> Grade``.

Spec types and their keys (``?`` = optional):

- ``exact``: value — the whole normalized answer, stripped of markup and final punctuation.
- ``contains``: value; ``any_of`` / ``all_of`` / ``not_contains``: values (a list).
  Matching is on normalized text (NFKC, casefolded, one quote style). A value that begins or
  ends with an ASCII letter or digit must stand as a whole word there ("3" is not in "13",
  "desserts" is not in "dessert"); Chinese text matches as a plain substring.
- ``regex``: pattern — searched in the normalized answer, case-insensitively.
- ``number``: value, tolerance? (absolute, default 0), mode? — which number is the answer:
  ``answer`` (default: a value that makes up the first sentence, else the last one stated
  after "is"/"是"/"="/"有", else the first one), ``first``, ``last``, or ``any`` (any number
  mentioned equals the value). Arabic, full-width, Chinese and English numerals all count.
- ``yes_no``: expected (yes|no) — see :func:`stackeval.graders.extract.yes_no`; a hedged or
  mixed answer fails with that reason.
- ``choice``: expected (a letter), options? (default "ABCD").
- ``weekday``: expected (e.g. "sunday" or "星期日") — the answer weekday is one that makes up
  the first sentence, else the last one stated after "is"/"是"/"on", else the last mentioned;
  "Friday + 100 days is Sunday" reads as Sunday, "Saturday or Sunday" as a hedge.
- ``all`` / ``any``: of — a list of specs that must all / at least one pass.

Reasoning (``<think>…</think>``) is stripped before grading. A malformed spec raises
:class:`~stackeval.errors.GraderError`; a wrong answer is a Grade with ``passed=False``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from stackeval.errors import GraderError
from stackeval.graders import extract
from stackeval.records import Grade
from stackeval.textnorm import (
    WEEKDAYS,
    find_numbers,
    find_weekdays,
    normalize,
    parse_weekday,
    split_reasoning,
)

Spec = Mapping[str, Any]

# type -> (required keys, optional keys)
_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "exact": ({"value"}, set()),
    "contains": ({"value"}, set()),
    "any_of": ({"values"}, set()),
    "all_of": ({"values"}, set()),
    "not_contains": ({"values"}, set()),
    "regex": ({"pattern"}, set()),
    "number": ({"value"}, {"tolerance", "mode"}),
    "yes_no": ({"expected"}, set()),
    "choice": ({"expected"}, {"options"}),
    "weekday": ({"expected"}, set()),
    "all": ({"of"}, set()),
    "any": ({"of"}, set()),
}
GRADER_TYPES = tuple(_KEYS)
NUMBER_MODES = ("answer", "first", "last", "any")


def _is_text(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value) != ""


def validate_spec(spec: object) -> None:
    """Raise GraderError naming what is wrong with a grader spec; return None if it is sound."""
    if not isinstance(spec, Mapping):
        raise GraderError(f"a grader spec must be a mapping, got {type(spec).__name__}")
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise GraderError(f"unknown grader type {kind!r}; known: {', '.join(GRADER_TYPES)}")
    required, optional = _KEYS[kind]
    keys = set(spec) - {"type"}
    if missing := required - keys:
        raise GraderError(f"{kind} grader needs {', '.join(sorted(missing))}")
    if unknown := keys - required - optional:
        allowed = ", ".join(sorted(required | optional))
        raise GraderError(f"{kind} grader does not take {', '.join(sorted(unknown))} ({allowed})")
    if "value" in required and kind != "number" and not _is_text(spec["value"]):
        raise GraderError(f"{kind} grader needs a non-empty text value, got {spec['value']!r}")
    if "values" in required:
        values = spec["values"]
        if not isinstance(values, list) or not values or not all(map(_is_text, values)):
            raise GraderError(f"{kind} grader needs a non-empty list of text values")
    if kind == "regex":
        try:
            re.compile(spec["pattern"])
        except (re.error, TypeError) as exc:
            raise GraderError(f"regex grader has a bad pattern {spec['pattern']!r}: {exc}") from exc
    elif kind == "number":
        for key in ("value", "tolerance"):
            if key in spec and (
                isinstance(spec[key], bool) or not isinstance(spec[key], int | float)
            ):
                raise GraderError(f"number grader needs a numeric {key}, got {spec[key]!r}")
        if spec.get("tolerance", 0) < 0:
            raise GraderError("number grader needs a tolerance >= 0")
        if spec.get("mode", "answer") not in NUMBER_MODES:
            raise GraderError(f"number grader mode must be one of {', '.join(NUMBER_MODES)}")
    elif kind == "yes_no" and spec["expected"] not in ("yes", "no"):
        hint = (
            " (quote it: YAML reads a bare no as false)"
            if isinstance(spec["expected"], bool)
            else ""
        )
        raise GraderError(f"yes_no grader expects 'yes' or 'no', got {spec['expected']!r}{hint}")
    elif kind == "choice":
        options = spec.get("options", "ABCD")
        if not (isinstance(options, str) and options.isalpha() and options.isupper()):
            raise GraderError(f"choice grader options must be capital letters, got {options!r}")
        if not (isinstance(spec["expected"], str) and spec["expected"] in options):
            raise GraderError(f"choice grader expects one of {options}, got {spec['expected']!r}")
    elif kind == "weekday":
        if not isinstance(spec["expected"], str) or parse_weekday(spec["expected"]) is None:
            raise GraderError(f"weekday grader expects a weekday name, got {spec['expected']!r}")
    elif kind in ("all", "any"):
        if not isinstance(spec["of"], list) or not spec["of"]:
            raise GraderError(f"{kind} grader needs a non-empty list of specs in 'of'")
        for i, sub in enumerate(spec["of"]):
            try:
                validate_spec(sub)
            except GraderError as exc:
                raise GraderError(f"{kind}.of[{i}]: {exc}") from None


def grade(answer: str, spec: Spec) -> Grade:
    """Grade an answer (reasoning stripped) against a spec; a bad spec raises GraderError."""
    validate_spec(spec)
    text, _reasoning = split_reasoning(answer)
    return _grade(text, spec)


def _grade(text: str, spec: Spec) -> Grade:
    return _GRADERS[spec["type"]](text, spec)


def _excerpt(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(values: list[Any], limit: int = 4) -> str:
    """A short rendering of a list of alternatives for an explanation."""
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return f"[{shown}, … {len(values)} in all]" if len(values) > limit else f"[{shown}]"


def _verdict(kind: str, passed: bool, explanation: str, extracted: str | None) -> Grade:
    line = f"{'PASS' if passed else 'FAIL'} {kind}: {explanation}"
    return Grade(passed=passed, explanation=explanation, extracted=extracted, checks=(line,))


def _find(norm: str, value: object) -> re.Match[str] | None:
    needle = normalize(str(value))
    left = r"(?<![a-z0-9])" if needle[:1].isascii() and needle[:1].isalnum() else ""
    right = r"(?![a-z0-9])" if needle[-1:].isascii() and needle[-1:].isalnum() else ""
    return re.search(left + re.escape(needle) + right, norm)


_EDGES = re.compile(r"^[\s*_`\"'#>]+|[\s*_`\"'.。!！?？,，;；:：]+$")


def _exact(text: str, spec: Spec) -> Grade:
    got = _EDGES.sub("", normalize(text))
    want = _EDGES.sub("", normalize(str(spec["value"])))
    passed = got == want
    return _verdict("exact", passed, f"expected exactly {want!r}; found {_excerpt(got)!r}.", got)


def _contains(text: str, spec: Spec) -> Grade:
    match = _find(normalize(text), spec["value"])
    found = f"found {match.group()!r}" if match else f"not found in {_excerpt(text)!r}"
    explanation = f"expected the answer to contain {str(spec['value'])!r}; {found}."
    return _verdict("contains", match is not None, explanation, match.group() if match else None)


def _any_of(text: str, spec: Spec) -> Grade:
    norm = normalize(text)
    match = next((m for v in spec["values"] if (m := _find(norm, v))), None)
    found = f"found {match.group()!r}" if match else f"found none in {_excerpt(text)!r}"
    explanation = f"expected one of {_show(spec['values'])}; {found}."
    return _verdict("any_of", match is not None, explanation, match.group() if match else None)


def _all_of(text: str, spec: Spec) -> Grade:
    norm = normalize(text)
    missing = [str(v) for v in spec["values"] if not _find(norm, v)]
    found = f"missing {missing}" if missing else "found all"
    explanation = f"expected all of {_show(spec['values'])}; {found}."
    return _verdict("all_of", not missing, explanation, None)


def _not_contains(text: str, spec: Spec) -> Grade:
    norm = normalize(text)
    match = next((m for v in spec["values"] if (m := _find(norm, v))), None)
    found = f"found {match.group()!r}" if match else "found none"
    explanation = f"expected none of {_show(spec['values'])}; {found}."
    return _verdict("not_contains", match is None, explanation, match.group() if match else None)


def _regex(text: str, spec: Spec) -> Grade:
    match = re.search(spec["pattern"], normalize(text), re.IGNORECASE)
    found = f"found {match.group()!r}" if match else f"no match in {_excerpt(text)!r}"
    explanation = f"expected a match for /{spec['pattern']}/; {found}."
    return _verdict("regex", match is not None, explanation, match.group() if match else None)


def _number(text: str, spec: Spec) -> Grade:
    want, tol, mode = spec["value"], spec.get("tolerance", 0), spec.get("mode", "answer")
    expected = f"{want:g}" + (f" ± {tol:g}" if tol else "")
    norm = normalize(text)
    mentions = find_numbers(norm)
    if mode == "any":
        hit = next((m for m in mentions if abs(m.value - want) <= tol), None)
        found = [m.text for m in mentions]
        explanation = f"expected some number to be {expected}; found {found or 'no number'}."
        return _verdict("number", hit is not None, explanation, hit.text if hit else None)
    if mode == "answer":
        picked = extract.pick_stated(norm, mentions, fallback="first")
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


def _yes_no(text: str, spec: Spec) -> Grade:
    verdict = extract.yes_no(text)
    found = verdict.value or "no verdict"
    explanation = f"expected {spec['expected']!r}; found {found} ({verdict.how})."
    return _verdict("yes_no", verdict.value == spec["expected"], explanation, verdict.value)


def _choice(text: str, spec: Spec) -> Grade:
    verdict = extract.choice_letter(text, spec.get("options", "ABCD"))
    found = verdict.value or "no option"
    explanation = f"expected option {spec['expected']}; found {found} ({verdict.how})."
    return _verdict("choice", verdict.value == spec["expected"], explanation, verdict.value)


def _weekday(text: str, spec: Spec) -> Grade:
    want = WEEKDAYS[parse_weekday(spec["expected"]) or 0]  # validated: never None
    norm = normalize(text)
    picked = extract.pick_stated(norm, find_weekdays(norm), fallback="last")
    if picked.mention is None:
        explanation = f"expected {want}; found no answer weekday ({picked.how})."
        return _verdict("weekday", False, explanation, None)
    got = WEEKDAYS[int(picked.mention.value)]
    explanation = f"expected {want}; found {got} ({picked.mention.text!r}, {picked.how})."
    return _verdict("weekday", got == want, explanation, got)


def _combine(kind: str) -> Callable[[str, Spec], Grade]:
    def combined(text: str, spec: Spec) -> Grade:
        grades = [_grade(text, sub) for sub in spec["of"]]
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


_GRADERS: dict[str, Callable[[str, Spec], Grade]] = {
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
}
