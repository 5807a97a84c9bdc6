"""Extracting programs from model answers and assembling HumanEval programs."""

from __future__ import annotations

import pytest

from stackeval.coding.extract import extract, extract_code, humaneval_program, strip_reasoning

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


HELPER_LATER = """I split it in two parts.
```python
def count_primes(n):
    return sum(1 for k in range(n) if is_prime(k))
```
The helper:
```python
import math

def is_prime(k):
    if k < 2:
        return False
    return all(k % d for d in range(2, math.isqrt(k) + 1))

print(count_primes(10))  # 4
```
"""


def test_helpers_from_other_blocks_are_kept() -> None:
    found = extract(HELPER_LATER, "python", entry_point="count_primes")
    namespace: dict = {}
    exec(found.code, namespace)
    assert namespace["count_primes"](10) == 4
    assert "print(" not in found.code  # usage examples are dropped
    assert found.how == "count_primes and what it needs from 2 of 2 python blocks"


def test_sanitize_drops_unused_code_and_test_imports() -> None:
    answer = (
        "```python\nimport re\n\ndef add(a, b):\n    return a + b\n\n"
        "def unused():\n    return 1\n\nassert add(1, 2) == 3\n"
        "if __name__ == '__main__':\n    print(add(1, 2))\n```\n"
        "```python\nimport pytest\n\ndef test_add():\n    assert add(2, 2) == 4\n```\n"
    )
    code = extract_code(answer, "python", entry_point="add")
    assert code == "import re\n\ndef add(a, b):\n    return a + b"


def test_a_function_with_return_beats_an_earlier_stub() -> None:
    answer = (
        "```python\ndef add(a, b):\n    pass\n\ndef log(x):\n    print(x)\n```\n"
        "```python\ndef add(a, b):\n    log(a)\n    return a + b\n```\n"
    )
    code = extract_code(answer, "python", entry_point="add")
    assert "return a + b" in code and "def log" in code and "pass" not in code


def test_extraction_notes_how_the_code_was_found() -> None:
    assert extract(f"```python\n{FULL}\n```", "python", "add").how == "1 python block"
    assert extract("no code here", "python", "add").how == "no code"
    assert extract(f"Sure!\n{FULL}\n", "python", "add").how == "bare code (no fenced block)"
    two = "```bash\necho a\n```\n```bash\necho bb\n```"
    assert extract(two, "bash").how == "the longest of 2 bash blocks"
