"""Plain data between the Python harness runs: JSON encode/decode of the values a task's calls
take and return.

Plain data: ``None``, bools, ints, floats and strings as JSON, lists as arrays, and one-key
objects for the rest: ``{"tuple": [...]}``, ``{"set": [...]}``, ``{"frozenset": [...]}``,
``{"dict": [[k, v], ...]}``, ``{"bytes": "hex"}``, ``{"complex": [re, im]}``. Subclasses of
these become the built-in type, read through the built-in type's own methods, so an overridden
``__eq__`` or ``__iter__`` never takes part; anything else is not plain data and fails the call.

Copied into the sandbox beside pyrunner.py, which imports it; the host imports it too. Stdlib
only.
"""

from __future__ import annotations

import json
import json.encoder
from typing import Any

_MAX_REPR = 300
_TAGS = ("tuple", "set", "frozenset", "dict", "bytes", "complex")


class NotPlainData(TypeError):
    """A value that is not one of the built-in types the harness passes between runs."""


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-able plain data; ``NotPlainData`` for anything else."""
    if depth > 100:
        raise NotPlainData("nested more than 100 levels deep")
    kind = type(value)  # the real type: isinstance() would trust a forged __class__
    if value is None or kind is bool:
        return value
    if issubclass(kind, int):
        return int.__int__(value)
    if issubclass(kind, float):
        return float.__float__(value)
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, list):
        return [encode(v, depth + 1) for v in list.__iter__(value)]
    if issubclass(kind, tuple):
        return {"tuple": [encode(v, depth + 1) for v in tuple.__iter__(value)]}
    if issubclass(kind, dict):
        items = dict.items(value)
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in items]}
    if issubclass(kind, frozenset):
        return {"frozenset": _sorted([encode(v, depth + 1) for v in frozenset.__iter__(value)])}
    if issubclass(kind, set):
        return {"set": _sorted([encode(v, depth + 1) for v in set.__iter__(value)])}
    if issubclass(kind, bytes):
        return {"bytes": bytes.hex(value)}
    if issubclass(kind, bytearray):
        return {"bytes": bytearray.hex(value)}
    if issubclass(kind, complex):
        return {"complex": [complex.real.__get__(value), complex.imag.__get__(value)]}
    raise NotPlainData(f"a {kind.__name__} is not plain data (return built-in types)")


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def decode(data: Any, depth: int = 0) -> Any:
    """The value ``encode`` turned into ``data``; ``ValueError`` for anything malformed."""
    if depth > 101:
        raise ValueError("nested too deep")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is list:
        return [decode(v, depth + 1) for v in data]
    if kind is not dict or len(data) != 1:
        raise ValueError(f"not plain data: {shorten(repr(data))}")
    ((tag, body),) = data.items()
    if tag not in _TAGS:
        raise ValueError(f"unknown tag {shorten(tag)!r}")
    try:
        if tag == "bytes":
            if type(body) is not str:
                raise ValueError("bytes need a hex string")
            return bytes.fromhex(body)
        if type(body) is not list:
            raise ValueError(f"{tag} needs a list")
        if tag == "complex":
            real, imag = body
            if type(real) not in (int, float) or type(imag) not in (int, float):
                raise ValueError("complex needs two numbers")
            return complex(real, imag)
        items = [decode(v, depth + 1) for v in body]
        if tag == "tuple":
            return tuple(items)
        if tag == "set":
            return set(items)
        if tag == "frozenset":
            return frozenset(items)
        if not all(type(pair) is tuple or type(pair) is list for pair in body):
            raise ValueError("dict needs [key, value] pairs")
        pairs = [(decode(p[0], depth + 1), decode(p[1], depth + 1)) for p in body if len(p) == 2]
        if len(pairs) != len(body):
            raise ValueError("dict needs [key, value] pairs")
        return dict(pairs)
    except TypeError as exc:  # an unhashable key or set member
        raise ValueError(str(exc)) from exc


def decode_call(call: Any) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of one recorded call."""
    args, kwargs = decode(call)
    if type(args) is not tuple or type(kwargs) is not dict:
        raise ValueError("a call is (args, kwargs)")
    if not all(type(k) is str for k in kwargs):
        raise ValueError("keyword names must be strings")
    return list(args), kwargs


def check_results(results: Any, calls: int) -> list[dict[str, Any]]:
    """The ``call`` run's results, validated: one per call, each a value or an exception."""
    if type(results) is not list or len(results) != calls:
        raise ValueError(f"expected {calls} results")
    for item in results:
        if type(item) is not dict:
            raise ValueError("a result is an object")
        if set(item) == {"value"}:
            decode(item["value"])
        elif set(item) <= {"raised", "line"} and type(item.get("raised")) is str:
            if type(item.get("line")) not in (int, type(None)):
                raise ValueError("line is a number")
        else:
            raise ValueError(f"unexpected result {shorten(repr(item))}")
    return results


def writer() -> Any:
    """A JSON writer for plain data built from primitives taken now, before the candidate's
    code runs: replacing ``json.dumps`` or ``JSONEncoder`` later does not reach it."""
    quote = json.encoder.encode_basestring_ascii  # a C function
    int_repr, float_repr, join = int.__repr__, float.__repr__, ", ".join
    specials = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}

    def dumps(data: Any) -> str:
        kind = type(data)
        if data is None:
            return "null"
        if kind is bool:
            return "true" if data else "false"
        if kind is int:
            return int_repr(data)
        if kind is float:
            text = float_repr(data)
            return specials.get(text, text)
        if kind is str:
            return quote(data)
        if kind is list:
            return "[" + join([dumps(item) for item in data]) + "]"
        if kind is dict:
            return "{" + join([quote(k) + ": " + dumps(v) for k, v in data.items()]) + "}"
        raise NotPlainData(f"cannot write a {kind.__name__}")

    return dumps


def shorten(text: str) -> str:
    """``text`` cut to a readable length."""
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."
