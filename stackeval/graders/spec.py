"""Grader specs as the fixtures write them: each type's keys, and a validation that says what is
wrong with a spec. The types themselves are described in :mod:`stackeval.graders.deterministic`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stackeval.errors import GraderError
from stackeval.textnorm import parse_weekday

Spec = Mapping[str, Any]

# type -> (required keys, optional keys)
_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "exact": ({"value"}, set()),
    "contains": ({"value"}, {"echo"}),
    "any_of": ({"values"}, {"echo"}),
    "all_of": ({"values"}, {"echo"}),
    "not_contains": ({"values"}, {"echo"}),
    "regex": ({"pattern"}, {"echo"}),
    "number": ({"value"}, {"tolerance", "mode"}),
    "yes_no": ({"expected"}, set()),
    "choice": ({"expected"}, {"options"}),
    "weekday": ({"expected"}, set()),
    "all": ({"of"}, set()),
    "any": ({"of"}, set()),
    "not": ({"of"}, set()),
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
    if "echo" in spec and spec["echo"] != "keep":
        raise GraderError(f"{kind} grader: echo can only be 'keep', got {spec['echo']!r}")
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
    elif kind == "not":
        try:
            validate_spec(spec["of"])
        except GraderError as exc:
            raise GraderError(f"not.of: {exc}") from None
    elif kind in ("all", "any"):
        if not isinstance(spec["of"], list) or not spec["of"]:
            raise GraderError(f"{kind} grader needs a non-empty list of specs in 'of'")
        for i, sub in enumerate(spec["of"]):
            try:
                validate_spec(sub)
            except GraderError as exc:
                raise GraderError(f"{kind}.of[{i}]: {exc}") from None
