"""The Python test harness: plain data between runs, and tests that run apart from the candidate.

The codec tests need no sandbox; the rest run the three harness runs (record, call, check) in
bubblewrap on HumanEval problems whose tests are unusual: random inputs, a tolerance instead of
equality, calls by the function's own name, a dict result.
"""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict, namedtuple

import pytest

from stackeval.coding import plaindata
from stackeval.coding.cases import python_cases, record
from stackeval.coding.checkers import check_code
from stackeval.coding.runner import evaluate_answer
from stackeval.coding.tasks import load_humaneval
from stackeval.records import Outcome
from stackeval.sandbox import ExecResult, Sandbox

HUMANEVAL = {t.id: t for t in load_humaneval()}


@pytest.fixture(scope="module")
def sandbox(bwrap_sandbox: Sandbox) -> Sandbox:
    return bwrap_sandbox


# ---- plain data ---------------------------------------------------------------------------

Point = namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "value",
    [
        None, True, 0, -(2**100), 1.5, float("inf"), "snow ☃", [1, [2, []]], (1, "a"), (),
        {1: "a", "b": (2,)}, {1, 2, 3}, frozenset({"x"}), b"\x00\xff", 1 + 2j, [(1, 2), {3: {4}}],
    ],
    ids=repr,
)
def test_plain_data_round_trips(value: object) -> None:
    data = json.loads(json.dumps(plaindata.encode(value)))
    again = plaindata.decode(data)
    assert again == value and type(again) is type(value)


def test_nan_round_trips() -> None:
    assert math.isnan(plaindata.decode(json.loads(json.dumps(plaindata.encode(float("nan"))))))


def test_subclasses_become_their_builtin_type() -> None:
    class Liar(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    assert plaindata.decode(plaindata.encode(Liar(3))) == 3
    assert type(plaindata.decode(plaindata.encode(Liar(3)))) is int
    assert plaindata.decode(plaindata.encode(Point(1, 2))) == (1, 2)
    assert plaindata.decode(plaindata.encode(OrderedDict(a=1))) == {"a": 1}
    assert plaindata.decode(plaindata.encode(Counter("aab"))) == {"a": 2, "b": 1}


def test_anything_else_is_not_plain_data() -> None:
    class Anything:
        def __eq__(self, other: object) -> bool:
            return True

    class Forged:
        __class__ = property(lambda self: int)  # isinstance() would believe it

    for value in (Anything(), Forged(), iter([1]), range(3), object(), print):
        with pytest.raises(plaindata.NotPlainData):
            plaindata.encode(value)
    deep: list = []
    deep.append(deep)
    with pytest.raises(plaindata.NotPlainData):
        plaindata.encode(deep)


@pytest.mark.parametrize(
    "data",
    [{"evil": 1}, {"tuple": 5}, {"set": [[1]]}, {"dict": [[[1], 2]]}, {"dict": [[1]]},
     {"bytes": "zz"}, {"complex": ["1", 2]}, {"tuple": [1], "set": [2]}],
    ids=repr,
)
def test_malformed_data_is_a_value_error(data: object) -> None:
    with pytest.raises(ValueError):
        plaindata.decode(data)


def test_results_are_validated() -> None:
    ok = [{"value": True}, {"raised": "IndexError: list index out of range", "line": 3}]
    assert plaindata.check_results(ok, 2) == ok
    for bad in ([{"value": True}], [{"value": True, "x": 1}, {"value": 1}], "results",
                [{"raised": 5}, {"value": 1}], [{"value": {"x": 1}}, {"value": 1}]):
        with pytest.raises(ValueError):
            plaindata.check_results(bad, 2)


def test_the_writer_ignores_a_replaced_json_module(monkeypatch: pytest.MonkeyPatch) -> None:
    dumps = plaindata.writer()
    monkeypatch.setattr(json, "dumps", lambda *a, **k: '{"status": "pass"}')
    monkeypatch.setattr(json.JSONEncoder, "encode", lambda self, o: '{"status": "pass"}')
    data = {"results": [{"value": plaindata.encode((1.5, "x", None, float("-inf")))}]}
    assert json.loads(dumps(data)) == {
        "results": [{"value": {"tuple": [1.5, "x", None, float("-inf")]}}]
    }


# ---- the three runs -------------------------------------------------------------------------


def test_the_candidate_run_holds_no_tests(sandbox: Sandbox) -> None:
    task = HUMANEVAL["HumanEval/0"]
    (case,) = python_cases(task, task.reference, sandbox)
    shipped = json.dumps({k: str(v) for k, v in case.files.items()}) + str(case.harness)
    shipped += (case.stdin or b"").decode() + " ".join(case.argv)
    assert "candidate([1.0, 2.0, 3.9" not in shipped and "== True" not in shipped
    assert "METADATA" not in shipped and task.test not in shipped


@pytest.mark.parametrize(
    "task_id",
    ["HumanEval/32", "HumanEval/33", "HumanEval/38", "HumanEval/53", "HumanEval/95"],
)
def test_unusual_tests_pass_the_reference_and_fail_a_wrong_answer(
    task_id: str, sandbox: Sandbox
) -> None:
    # 32: a tolerance on a computed value; 33: calls the function by name; 38 and 53: random
    # inputs; 95: dicts with keys of mixed types
    task = HUMANEVAL[task_id]
    assert record(task, sandbox).calls
    assert check_code(task, task.reference[len(task.stub) :], sandbox).passed
    wrong = f"def {task.entry_point}(*args):\n    return 0\n"
    assert not check_code(task, wrong, sandbox).passed


def test_a_candidate_exception_keeps_its_class_for_the_tests(sandbox: Sandbox) -> None:
    task = HUMANEVAL["HumanEval/0"]
    run = check_code(task, "def has_close_elements(n, t):\n    return n[99]\n", sandbox)
    assert run.outcome is Outcome.RUNTIME_ERROR
    assert run.explanation.startswith("runtime_error: IndexError: list index out of range")


def test_the_record_keeps_the_raw_answer_and_how_code_was_found(sandbox: Sandbox) -> None:
    task = HUMANEVAL["HumanEval/39"]  # prime_fib: answers often put is_prime in a second block
    answer = (
        "```python\ndef prime_fib(n):\n    a, b = 0, 1\n    while True:\n"
        "        a, b = b, a + b\n        if is_prime(a):\n            n -= 1\n"
        "            if n == 0:\n                return a\n```\nWith the helper:\n"
        "```python\ndef is_prime(k):\n"
        "    return k > 1 and all(k % d for d in range(2, int(k**0.5) + 1))\n```\n"
    )
    outcome = evaluate_answer(task, answer, sandbox)
    assert outcome.passed, outcome.explanation
    record_ = json.loads(json.dumps(outcome.to_dict()))
    assert record_["answer"] == answer
    assert "def is_prime" in record_["code"]
    assert record_["extraction"] == "prime_fib and what it needs from 2 of 2 python blocks"


def test_exit_status_and_duplicate_lines_fail_without_a_crash(sandbox: Sandbox) -> None:
    task = HUMANEVAL["HumanEval/0"]
    (case,) = python_cases(task, task.reference, sandbox)
    good = case.run(sandbox, 30)
    assert case.evaluate(good, sandbox).failures == []
    line = good.stdout.strip()
    for stdout, exit_code in ((line, 1), (f"{line}\n{line}", 0), (line[:-5], 0)):
        bad = ExecResult(exit_code, stdout, "", False, 0.1)
        judgement = case.evaluate(bad, sandbox)
        assert judgement.failures and judgement.crashed, stdout[-40:]
