"""The coding eval's entry points: the chat prompt for a task, and extract -> lint -> check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackeval.coding.checkers import CodeRun, check_code
from stackeval.coding.extract import defines, extract, humaneval_program
from stackeval.coding.quality import QualityReport, lint
from stackeval.coding.tasks import CodingTask
from stackeval.records import Outcome
from stackeval.sandbox import Sandbox

SYSTEM = {
    "en": "You are an expert programmer. Answer with exactly one fenced code block that contains "
    "the complete solution, and nothing else.",
    "zh": "你是一名资深程序员。只用一个 Markdown 代码块作答，"
    "代码块中是完整的解答，不要输出其他内容。",
}
_ASK = {
    ("python", "en"): "Reply with the complete function, including the `def` line and any imports, "
    "in one ```python code block.",
    ("python", "zh"): "请在一个 ```python 代码块中给出完整的函数（包括 `def` 行和所需的 import）。",
    ("bash", "en"): "Reply with the complete script in one ```bash code block.",
    ("bash", "zh"): "请在一个 ```bash 代码块中给出完整的脚本。",
}
_COMPLETE = {
    "en": "Complete the following Python function.",
    "zh": "请补全下面的 Python 函数。",
}


@dataclass(frozen=True)
class CodingResult:
    """Everything the report needs about one answer to one coding task."""

    task_id: str
    suite: str
    language: str
    sandbox: str
    code: str  # what was extracted from the answer and run
    run: CodeRun
    quality: QualityReport
    answer: str = ""  # the model's raw answer, reasoning included: what the code came from
    extraction: str = ""  # how the code was found in it, e.g. "1 python block"

    @property
    def outcome(self) -> Outcome:
        """The verdict of the run."""
        return self.run.outcome

    @property
    def passed(self) -> bool:
        """Whether the program passed every check."""
        return self.run.passed

    @property
    def explanation(self) -> str:
        """One sentence on why it passed or failed."""
        return self.run.explanation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "task_id": self.task_id,
            "suite": self.suite,
            "language": self.language,
            "sandbox": self.sandbox,
            "outcome": self.outcome.value,
            "passed": self.passed,
            "explanation": self.explanation,
            "answer": self.answer,
            "extraction": self.extraction,
            "code": self.code,
            "run": self.run.to_dict(),
            "quality": self.quality.to_dict(),
        }


@dataclass(frozen=True)
class CodingRecord:
    """One coding sample as saved to ``coding.jsonl``: who was asked, and what came of it.

    ``result`` is None when the ask itself failed (a harness error: nothing was graded).
    """

    run_id: str
    model: str
    task_id: str
    suite: str
    lang: str
    sample: int
    served: dict[str, Any]
    client: str
    outcome: Outcome
    explanation: str
    result: CodingResult | None = None
    prompt_format: str = "chat"
    metrics: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)  # path + body: the ask, replayable
    extra: dict[str, Any] = field(default_factory=dict)  # what only one client records

    @property
    def passed(self) -> bool:
        """Whether the sample passed (a loop never does, whatever its program did)."""
        return self.outcome is Outcome.PASS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the sample's identity, then the result's fields, then the ask's."""
        d: dict[str, Any] = {
            "run_id": self.run_id, "model": self.model, "task_id": self.task_id,
            "suite": self.suite, "lang": self.lang, "sample": self.sample,
            "served": self.served, "client": self.client}
        verdict = {"outcome": self.outcome.value, "passed": self.passed,
                   "explanation": self.explanation}
        if self.result is None:
            return d | verdict
        return (d | self.result.to_dict() | {"prompt_format": self.prompt_format,
                                             "metrics": self.metrics, "request": self.request}
                | self.extra | verdict)


def build_prompt(task: CodingTask, lang: str = "en") -> list[dict[str, str]]:
    """Chat messages asking for one fenced code block that solves ``task``."""
    lang = "zh" if lang == "zh" else "en"
    ask = _ASK[(task.language, lang)]
    if task.suite == "humaneval":
        user = f"{_COMPLETE[lang]} {ask}\n\n```python\n{task.stub}```"
    elif task.stub:
        user = f"{task.prompt(lang).strip()}\n\n```python\n{task.stub}```\n\n{ask}"
    else:
        user = f"{task.prompt(lang).strip()}\n\n{ask}"
    return [{"role": "system", "content": SYSTEM[lang]}, {"role": "user", "content": user}]


def evaluate_answer(task: CodingTask, answer_text: str, sandbox: Sandbox) -> CodingResult:
    """Extract the program from a model's answer, lint it, and run it against the task's checks."""
    found = extract(
        answer_text, task.language, task.entry_point if task.language == "python" else None
    )
    code = found.code
    if not code.strip():
        quality = QualityReport(tool="none", available=False, note="no code to lint")
    elif task.language == "python" and task.stub and not defines(code, task.entry_point):
        quality = lint(
            humaneval_program(task.stub, code, task.entry_point), "python"
        )  # a bare body
    else:
        quality = lint(code, task.language)
    return CodingResult(
        task_id=task.id,
        suite=task.suite,
        language=task.language,
        sandbox=sandbox.name,
        code=code,
        run=check_code(task, code, sandbox),
        quality=quality,
        answer=answer_text,
        extraction=found.how,
    )
