"""Pulling the program out of a model's answer, and assembling HumanEval-style programs."""

from __future__ import annotations

import ast
import re
import textwrap

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
# an unclosed fence at the end (a truncated answer) still counts as a block
_FENCE = re.compile(
    r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE
)
TAGS = {
    "python": {"python", "py", "python3", "py3"},
    "bash": {"bash", "sh", "shell", "zsh", "console"},
}
_PY_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)", re.MULTILINE)
_SHELL_LINE = re.compile(
    r"^\s*(?:#!|[a-z_][\w-]*\s*\(\)|[A-Za-z_]\w*=|(?:if|for|while|case|function|set|echo|"
    r"printf|awk|sed|grep|sort|cut|convert)\b)"
)


def strip_reasoning(answer: str) -> str:
    """Drop ``<think>`` blocks; text before a lone ``</think>`` is reasoning too."""
    if "</think>" in answer and "<think>" not in answer:
        answer = answer.rsplit("</think>", 1)[1]
    return _THINK.sub("", answer)


def extract_code(answer: str, language: str, entry_point: str | None = None) -> str:
    """The program in ``answer``: a fenced block of the right language, else any, else bare code."""
    text = strip_reasoning(answer)
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text) if body.strip()]
    tagged = [body for tag, body in blocks if tag in TAGS.get(language, {language})]
    for candidates in (tagged, [body for _, body in blocks]):
        if not candidates:
            continue
        if entry_point and language == "python":
            # a solution plus a usage example: prefer the block that defines the function
            defining = [
                b for b in candidates if re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", b)
            ]
            candidates = defining or candidates
        return max(candidates, key=len).strip("\n")
    return _bare_code(text, language)


def _bare_code(text: str, language: str) -> str:
    """Unfenced answers: the text itself if it parses (Python) or looks like a script (bash)."""
    if language == "python":
        looks_like_code = _PY_START.search(text) or re.search(r"^\s*return\b", text, re.MULTILINE)
        if looks_like_code and _parses(textwrap.dedent(text)):  # dedent: a bare function body
            return text.strip("\n")
        start = _PY_START.search(text)
        if start is None:
            return ""
        lines = text[start.start() :].splitlines()
        while lines and not _parses("\n".join(lines)):  # trailing prose after the code
            lines.pop()
        return "\n".join(lines).strip("\n")
    lines = text.strip().splitlines()
    if lines and (
        lines[0].startswith("#!") or sum(map(bool, map(_SHELL_LINE.match, lines))) > len(lines) / 2
    ):
        return "\n".join(lines)
    return ""


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def defines(code: str, name: str) -> bool:
    """Whether ``code`` has a top-level-looking ``def name(``."""
    return (
        re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None
    )


def humaneval_program(stub: str, code: str, entry_point: str) -> str:
    """Stub + answer: a full function redefines the stub's; a bare body is indented under it."""
    if defines(code, entry_point) or not stub:
        # keeping the stub first gives the answer the prompt's imports and helper functions
        return f"{stub}\n{code}\n" if stub else f"{code}\n"
    body = code
    first = next((line for line in code.splitlines() if line.strip()), "")
    if not first[:1].isspace():
        body = textwrap.indent(code, "    ")
    return f"{stub}{body}\n"
