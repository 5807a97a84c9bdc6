"""Runs a candidate program and its ``check`` inside the sandbox; prints one JSON verdict line.

Copied into the sandbox and run there as ``python3 pyrunner.py PROGRAM ENTRY_POINT NONCE``;
the harness never imports it. Exit status: 0 passed, 1 a check failed, 2 the program crashed.
The verdict line starts with ``@@NONCE`` so the candidate's own output cannot pass for it.
"""

from __future__ import annotations

import ast
import json
import sys
from typing import Any

_MAX_REPR = 300


def main(argv: list[str]) -> int:
    """Run the program, then print the verdict line."""
    path, entry_point, nonce = argv
    with open(path, encoding="utf-8") as f:
        source = f.read()
    verdict = run(source, path, entry_point)
    sys.stdout.flush()
    sys.__stdout__.write(f"\n@@{nonce} {json.dumps(verdict)}\n")
    sys.__stdout__.flush()
    return {"pass": 0, "fail": 1}.get(verdict["status"], 2)


def run(source: str, path: str, entry_point: str) -> dict[str, Any]:
    """Execute the program and call ``check(entry_point)``; describe what went wrong."""
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        return {"status": "error", "error": f"SyntaxError: {exc.msg} (line {exc.lineno})"}
    namespace: dict[str, Any] = {
        "__name__": "__candidate__"
    }  # no `if __name__ == "__main__"` blocks
    try:
        exec(code, namespace)
        if entry_point not in namespace:
            return {"status": "error", "error": f"NameError: {entry_point!r} is not defined"}
        namespace["check"](namespace[entry_point])
    except AssertionError as exc:
        return {"status": "fail", "check": describe(exc, source, path)}
    except BaseException as exc:  # SystemExit too: the tests did not run to the end
        return {
            "status": "error",
            "error": _short(f"{type(exc).__name__}: {exc}"),
            "line": _line(exc, path),
        }
    return {"status": "pass"}


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
