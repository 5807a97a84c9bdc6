"""Pulling the program out of a model's answer, and assembling HumanEval-style programs."""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Extraction:
    """The program taken from an answer, and how it was found (for the record)."""

    code: str
    how: str  # e.g. "1 python block", "entry point and helpers from 2 of 3 blocks", "bare code"


def extract_code(answer: str, language: str, entry_point: str | None = None) -> str:
    """The program in ``answer``: a fenced block of the right language, else any, else bare code."""
    return extract(answer, language, entry_point).code


def extract(answer: str, language: str, entry_point: str | None = None) -> Extraction:
    """Like ``extract_code``, saying how the code was found.

    For Python with an ``entry_point``, top-level imports and the definitions the entry point
    needs are gathered across all blocks (as EvalPlus's sanitizer does; the first definition of a
    name wins, but one with a ``return`` beats an earlier stub without), so a helper defined in a
    second block is kept and example calls, tests and ``__main__`` blocks are dropped. Code at
    the top level of an answer that is no import or definition never runs.
    """
    text = strip_reasoning(answer)
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text) if body.strip()]
    tagged = [body for tag, body in blocks if tag in TAGS.get(language, {language})]
    for candidates in (tagged, [body for _, body in blocks]):
        if not candidates:
            continue
        kind = f"{language} " if candidates is tagged else ""
        if entry_point and language == "python":
            gathered = sanitize(candidates, entry_point)
            if gathered is not None:
                code, used = gathered
                how = (
                    f"1 {kind}block"
                    if len(candidates) == 1 and used == 1
                    else f"{entry_point} and what it needs from {used} of {len(candidates)} "
                    f"{kind}blocks"
                )
                return Extraction(code, how)
            # a solution plus a usage example: prefer the block that defines the function
            defining = [
                b for b in candidates if re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", b)
            ]
            candidates = defining or candidates
        code = max(candidates, key=len).strip("\n")
        count = len(candidates)
        how = f"the longest of {count} {kind}blocks" if count > 1 else f"1 {kind}block"
        return Extraction(code, how)
    code = _bare_code(text, language)
    return Extraction(code, "bare code (no fenced block)" if code else "no code")


def sanitize(blocks: list[str], entry_point: str) -> tuple[str, int] | None:
    """Imports and the definitions ``entry_point`` reaches, gathered from all ``blocks``.

    Returns the code and how many blocks it came from, or None when no block that parses
    defines ``entry_point``.
    """
    imports: list[tuple[int, str, set[str]]] = []  # (block, source, names it binds)
    definitions: dict[str, tuple[int, str, set[str]]] = {}  # name -> (block, source, names used)
    returns_of: dict[str, bool] = {}
    for index, block in enumerate(blocks):
        source = _longest_parsing_prefix(block)
        if not source:
            continue
        lines = source.splitlines()
        for node in ast.parse(source).body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            segment = "\n".join(lines[first - 1 : node.end_lineno])
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound = {(a.asname or a.name).split(".")[0] for a in node.names}
                imports.append((index, segment, bound))
                continue
            name = _defined_name(node)
            if name is None:
                continue
            # the first definition wins, except that a function with a `return` beats an
            # earlier one without (a stub); EvalPlus drops return-less functions altogether,
            # which would drop helpers that only mutate their argument
            returns = not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or any(
                isinstance(n, ast.Return) for n in ast.walk(node)
            )
            if name in definitions and (returns_of[name] or not returns):
                continue
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            used |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            definitions[name] = (index, segment, used)
            returns_of[name] = returns
    if entry_point not in definitions:
        return None
    reached, queue = {entry_point}, [entry_point]
    while queue:
        for name in definitions[queue.pop()][2]:
            if name in definitions and name not in reached:
                reached.add(name)
                queue.append(name)
    kept = [d for name, d in definitions.items() if name in reached]
    blocks_used = {index for index, _, _ in kept}
    names_used = set().union(*(used for _, _, used in kept))
    parts: list[str] = []
    for index, segment, bound in imports:
        # the imports of the blocks the code comes from; from other blocks (a test or a demo)
        # only those the code uses, so an example's `import pytest` cannot break it
        if (index in blocks_used or bound & names_used or "*" in bound) and segment not in parts:
            parts.append(segment)
            blocks_used.add(index)
    parts += [segment for _, segment, _ in kept]
    return "\n\n".join(parts), len(blocks_used)


def _defined_name(node: ast.stmt) -> str | None:
    """The name a top-level def, class or single-target assignment defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            return targets[0].id
    return None


def _longest_parsing_prefix(block: str) -> str:
    """``block`` if it parses, else its longest first lines that do (a truncated answer)."""
    lines = block.strip("\n").splitlines()
    while lines and not _parses("\n".join(lines)):
        lines.pop()
    return "\n".join(lines)


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
