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

The values pass between the runs as plain data (:mod:`plaindata`, copied beside this file).
Stdlib only.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import random
import sys
from typing import Any

# In the sandbox this file runs as a script beside plaindata.py; nothing imports it.
from plaindata import check_results, decode, decode_call, encode, shorten, writer

SEED = 20240229  # record and check draw the same "random" test inputs


class ReplayError(Exception):
    """The tests asked for a call that the recording does not have."""


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


def _call(path: str, request: dict[str, Any]) -> int:
    """Import the candidate's program and call it once per recorded argument list."""
    channel = os.dup(1)  # our results; the candidate's prints go to stderr
    os.dup2(2, 1)
    dumps = writer()
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
            f"{shorten(repr(args))}"
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
        return {"status": "error", "error": f"malformed results: {shorten(str(exc))}"}
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
            return {"status": "error", "error": shorten(origin[0]), "line": origin[1]}
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
        detail["message"] = shorten(str(exc))
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
    detail["assert"] = shorten(ast.get_source_segment(source, node) or "")
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
                detail[name] = shorten(repr(value))
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
    return shorten(text)


def _line(exc: BaseException, path: str) -> int | None:
    tb, lineno = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno



if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
