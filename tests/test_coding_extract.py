"""Extracting programs from model answers and assembling HumanEval programs."""

from __future__ import annotations

import pytest

from stackeval.coding.extract import extract_code, humaneval_program, strip_reasoning

FULL = "def add(a, b):\n    return a + b"


@pytest.mark.parametrize(
    ("answer", "language", "expected"),
    [
        (f"Here you go:\n```python\n{FULL}\n```\nDone.", "python", FULL),
        (f"```py\n{FULL}\n```", "python", FULL),
        (f"```\n{FULL}\n```", "python", FULL),  # untagged block
        (f"```python\n{FULL}\n", "python", FULL),  # truncated: no closing fence
        (f"<think>maybe ```python\nwrong()\n```</think>\n```python\n{FULL}\n```", "python", FULL),
        (f"reasoning... </think>\n```python\n{FULL}\n```", "python", FULL),
        (f"Sure!\n{FULL}\n\nThis adds the numbers.", "python", FULL),  # bare code with prose
        ("    return a + b\n", "python", "    return a + b"),  # a bare HumanEval body
        ("I am not able to help with that.", "python", ""),
        (
            "```bash\n#!/bin/bash\necho hi\n```\nRun it with:\n```sh\nbash x.sh\n```",
            "bash",
            "#!/bin/bash\necho hi",
        ),
        (
            "```python\nprint(1)\n```\n```bash\necho hi\n```",
            "bash",
            "echo hi",
        ),  # right language wins
        ("#!/bin/bash\nset -e\necho hi", "bash", "#!/bin/bash\nset -e\necho hi"),
        ("You could use a loop.", "bash", ""),
    ],
)
def test_extract_code(answer: str, language: str, expected: str) -> None:
    assert extract_code(answer, language) == expected


def test_prefers_the_block_defining_the_entry_point() -> None:
    example = "print(add(1, 2))  # prints 3: a longer block than the solution"
    answer = f"```python\n{FULL}\n```\nExample:\n```python\n{example}\n```"
    assert extract_code(answer, "python", entry_point="add") == FULL


def test_strip_reasoning() -> None:
    assert strip_reasoning("<think>a\nb</think>answer") == "answer"
    assert strip_reasoning("<THINK>unfinished") == ""


STUB = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n'


@pytest.mark.parametrize(
    "code", [FULL, "return a + b", "    return a + b", "    total = a + b\n    return total"]
)
def test_humaneval_program_runs(code: str) -> None:
    namespace: dict = {}
    exec(humaneval_program(STUB, code, "add"), namespace)
    assert namespace["add"](2, 3) == 5
    assert "List" in namespace  # the prompt's imports stay available
