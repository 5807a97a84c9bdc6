"""The Python test harness: bound read-only into the sandbox as /harness/pyrunner.py.

A HumanEval-style task's tests are a ``check(candidate)`` function. The verdict must not come from
a process that ran the candidate's code (that code can print, patch or exit anything there), so
one check is three sandbox runs, each reading JSON on stdin and writing one JSON line on stdout:

``record`` (trusted: the tests and the reference solution, never the candidate's code)
    runs ``check`` with a recorder around the reference solution; prints the arguments of every
    call and whether the reference passes. Done once per task.
``call`` (untrusted: the candidate's program, never the tests)
    imports the program, calls the entry point with each recorded argument list and prints the
    return values as plain data. The candidate's own stdout goes to stderr. What this run prints
    is data, never a verdict: forging it amounts to returning those values, and the expected
    values are nowhere in this run.
``check`` (trusted: the tests, never the candidate's code)
    runs ``check`` again with a stand-in that answers each call with the value the ``call`` run
    returned, and prints the verdict.

Plain data: ``None``, bools, ints, floats and strings as JSON, lists as arrays, and one-key
objects for the rest: ``{"tuple": [...]}``, ``{"set": [...]}``, ``{"frozenset": [...]}``,
``{"dict": [[k, v], ...]}``, ``{"bytes": "hex"}``, ``{"complex": [re, im]}``. Subclasses of
these become the built-in type, read through the built-in type's own methods, so an overridden
``__eq__`` or ``__iter__`` never takes part; anything else is not plain data and fails the call.

The harness host imports this module only for ``encode``/``decode``. Stdlib only.
"""

from __future__ import annotations

import ast
import builtins
import json
import json.encoder
import os
import random
import sys
from typing import Any

SEED = 20240229  # record and check draw the same "random" test inputs
_MAX_REPR = 300
_TAGS = ("tuple", "set", "frozenset", "dict", "bytes", "complex")


class NotPlainData(TypeError):
    """A value that is not one of the built-in types the harness passes between runs."""


class ReplayError(Exception):
    """The tests asked for a call that the recording does not have."""


# ---- plain data ---------------------------------------------------------------------------


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
        raise ValueError(f"not plain data: {_short(repr(data))}")
    ((tag, body),) = data.items()
    if tag not in _TAGS:
        raise ValueError(f"unknown tag {_short(tag)!r}")
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
            raise ValueError(f"unexpected result {_short(repr(item))}")
    return results


# ---- the three modes ----------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """``record`` | ``call PROGRAM`` | ``check``, with the JSON request on stdin."""
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    mode = argv[0] if argv else ""
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    if mode == "call":
        return _call(argv[1], request)
    if mode == "record":
        reply = _record(request)
    elif mode == "check":
        reply = _check(request)
    else:
        sys.stderr.write("usage: pyrunner.py record|call PROGRAM|check < request.json\n")
        return 2
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
    return 0


def _record(request: dict[str, Any]) -> dict[str, Any]:
    """Run the tests against the reference solution, noting each call's arguments."""
    reference: dict[str, Any] = {"__name__": "__reference__"}
    exec(compile(request["reference"], "reference.py", "exec"), reference)
    solution = reference[request["entry_point"]]
    calls: list[Any] = []

    def recorder(*args: Any, **kwargs: Any) -> Any:
        calls.append(encode((args, kwargs)))  # before the call: the solution may mutate them
        return solution(*args, **kwargs)

    verdict = _run_tests(request, recorder)
    return {"calls": calls, "verdict": verdict}


def _writer() -> Any:
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


def _call(path: str, request: dict[str, Any]) -> int:
    """Import the candidate's program and call it once per recorded argument list."""
    channel = os.dup(1)  # our results; the candidate's prints go to stderr
    os.dup2(2, 1)
    dumps = _writer()
    calls = request["calls"]
    reply: dict[str, Any]
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        namespace: dict[str, Any] = {"__name__": "__candidate__"}  # no __main__ blocks
        exec(compile(source, path, "exec"), namespace)
        if request["entry_point"] not in namespace:
            raise NameError(f"{request['entry_point']!r} is not defined")
        function = namespace[request["entry_point"]]
    except BaseException as exc:  # noqa: BLE001 - SyntaxError, SystemExit, anything at import
        reply = {"error": _describe_exception(exc), "line": _line(exc, path)}
    else:
        results = []
        for call in calls:
            args, kwargs = decode_call(call)
            try:
                results.append({"value": encode(function(*args, **kwargs))})
            except BaseException as exc:  # noqa: BLE001 - it is the candidate's exception
                results.append({"raised": _describe_exception(exc), "line": _line(exc, path)})
        reply = {"results": results}
    data = (dumps(reply) + "\n").encode()
    while data:
        data = data[os.write(channel, data) :]
    return 0


class _Replay:
    """Stands in for the candidate in ``check``: answers each call with a recorded result."""

    def __init__(self, calls: list[Any], results: list[dict[str, Any]]) -> None:
        self.keys = [json.dumps(call, sort_keys=True) for call in calls]
        self.calls = [decode_call(call) for call in calls]
        self.results = results
        self.used = [False] * len(calls)
        self.next = 0
        self.answered: dict[str, int] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = json.dumps(encode((args, kwargs)), sort_keys=True)
        order = [self.next, *range(len(self.calls))]
        for i in order:
            if i < len(self.calls) and not self.used[i] and self._same(i, key, args, kwargs):
                self.used[i] = True
                self.next = i + 1
                self.answered[key] = i
                return self._answer(i)
        if key in self.answered:  # asked again, e.g. to explain a failed assert
            return self._answer(self.answered[key])
        raise ReplayError(
            f"the tests called the function with arguments the recording does not have: "
            f"{_short(repr(args))}"
        )

    def _same(self, i: int, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        if self.keys[i] == key:
            return True
        try:
            return bool(self.calls[i] == (list(args), kwargs))
        except Exception:  # noqa: BLE001 - comparing odd values is best effort
            return False

    def _answer(self, i: int) -> Any:
        result = self.results[i]
        if "value" in result:
            return decode(result["value"])
        raise _raised(result["raised"], result.get("line"))


def _raised(message: str, line: int | None) -> BaseException:
    """The candidate's exception again, as its built-in class where it has one."""
    name, _, text = message.partition(": ")
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)) or issubclass(
        cls, AssertionError
    ):
        cls = CandidateRaised
    try:
        exc = cls(text) if cls is not CandidateRaised else cls(message)
    except Exception:  # noqa: BLE001 - an exception class that wants other arguments
        exc = CandidateRaised(message)
    exc.stackeval_candidate = (message, line)  # type: ignore[attr-defined]
    return exc


class CandidateRaised(Exception):
    """The candidate's call raised an exception of a class the check process does not have."""


def _check(request: dict[str, Any]) -> dict[str, Any]:
    """Run the tests against the ``call`` run's results."""
    try:
        replay = _Replay(request["calls"], check_results(request["results"], len(request["calls"])))
    except (ValueError, TypeError, KeyError) as exc:
        return {"status": "error", "error": f"malformed results: {_short(str(exc))}"}
    return _run_tests(request, replay)


def _run_tests(request: dict[str, Any], candidate: Any) -> dict[str, Any]:
    """Execute the stub (the prompt's helpers) and the tests, then ``check(candidate)``."""
    namespace: dict[str, Any] = {"__name__": "__tests__"}
    if request.get("stub"):
        exec(compile(request["stub"], "stub.py", "exec"), namespace)
    # tests that call the function by name (HumanEval/33) get the candidate too, as they would
    # in one program of prompt, answer and tests
    namespace[request["entry_point"]] = candidate
    random.seed(SEED)
    source = request["test"]
    exec(compile(source, "test.py", "exec"), namespace)
    try:
        namespace["check"](candidate)
    except AssertionError as exc:
        return {"status": "fail", "check": describe(exc, source, "test.py")}
    except ReplayError as exc:
        return {"status": "error", "error": str(exc), "replay": True}
    except BaseException as exc:  # noqa: BLE001 - the candidate's exception, or the tests'
        origin = getattr(exc, "stackeval_candidate", None)
        if origin is not None:
            return {"status": "error", "error": _short(origin[0]), "line": origin[1]}
        return {"status": "error", "error": _describe_exception(exc), "in_tests": True}
    return {"status": "pass"}


# ---- explaining failures ------------------------------------------------------------------


def describe(exc: AssertionError, source: str, path: str) -> dict[str, Any]:
    """The failed assert's text and, for a comparison, the values on both sides."""
    tb, frame, lineno = exc.__traceback__, None, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            frame, lineno = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    detail: dict[str, Any] = {"line": lineno}
    if str(exc):
        detail["message"] = _short(str(exc))
    if frame is None or lineno is None:
        return detail
    node = next(
        (
            n
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Assert) and n.lineno <= lineno <= (n.end_lineno or n.lineno)
        ),
        None,
    )
    if node is None:
        return detail
    detail["assert"] = _short(ast.get_source_segment(source, node) or "")
    test = node.test
    if isinstance(test, ast.Compare) and len(test.comparators) == 1:
        names = (
            ("actual", "expected")
            if isinstance(test.ops[0], (ast.Eq, ast.Is))
            else ("left", "right")
        )
        for name, operand in zip(names, (test.left, test.comparators[0]), strict=True):
            try:
                value = eval(
                    compile(ast.Expression(operand), path, "eval"),
                    frame.f_globals,
                    dict(frame.f_locals),
                )
                detail[name] = _short(repr(value))
            except Exception as err:  # noqa: BLE001 - re-evaluating is best effort
                detail[name] = f"<{type(err).__name__} while re-evaluating>"
    return detail


def _describe_exception(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - a hostile __str__
        text = type(exc).__name__
    if isinstance(exc, SyntaxError):
        text = f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return _short(text)


def _line(exc: BaseException, path: str) -> int | None:
    tb, lineno = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
