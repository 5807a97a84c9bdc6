"""Re-grade a run's stored Q&A answers with the current graders, without any server.

The result is a new run directory (never the old one rewritten) whose records name the run they
came from, so reports can compare verdicts before and after a grader change.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.config import new_run_id
from stackeval.errors import ConfigError
from stackeval.judging import judge
from stackeval.prompting import Asked
from stackeval.qa import run_cases
from stackeval.records import Completion, Outcome

# Outcomes without an answer to grade: copied as they are.
NOT_GRADED = {Outcome.INFRA_ERROR.value, Outcome.CONTEXT_OVERFLOW.value}
# Run-level files a report reads, carried over unchanged (coding and perf need no re-grade here).
CARRIED = ("environment.json", "hardware.json", "load_times.json", "sandbox.json",
           "benchmark.json")


def stored_asked(rec: dict[str, Any]) -> Asked:
    """What grading needs of a stored answer: its text and how the stream ended."""
    m = rec.get("metrics") or {}
    completion = Completion(model=rec["model"], endpoint=str(m.get("endpoint", "")),
                            text=rec.get("answer", ""), reasoning=rec.get("reasoning", ""),
                            finish_reason=m.get("finish_reason"), stop_reason=m.get("stop_reason"))
    return Asked(completion, rec.get("prompt_format", "chat"), "", rec.get("request") or {})


def regrade_run(source: Path, reports_dir: Path,
                qa_dir: Path | None = None) -> tuple[Path, Counter]:
    """Write a new run with every stored Q&A answer graded again; returns it and change counts.

    The questions are the ones the run asked (its ``--qa-dir`` and ``--qa-dataset``, from its
    environment.json) unless ``qa_dir`` says otherwise; their graders are today's.
    """
    env_file = source / "environment.json"
    ran = (json.loads(env_file.read_text()).get("settings") or {}) if env_file.exists() else {}
    records = list(store.read_records(source, "qa"))
    if not records:
        raise ConfigError(f"{source}: no Q&A records (qa*.jsonl) to re-grade")
    cases = {(c.id, c.lang): c for c in run_cases(qa_dir or ran.get("qa_dir"),
                                                   ran.get("qa_dataset") or ())}
    run_id = new_run_id()
    target = store.run_dir(reports_dir, run_id)
    writer = store.RecordWriter(target)
    changes: Counter = Counter()
    for rec in records:
        new = dict(rec, run_id=run_id, regraded_from=source.name)
        case = cases.get((rec.get("case_id"), rec.get("lang")))
        if rec.get("outcome") not in NOT_GRADED:
            if case is None:
                new |= {"outcome": Outcome.GRADER_ERROR.value,
                        "explanation": f"question {rec.get('case_id')}-{rec.get('lang')} is no "
                                       "longer in the question set"}
            else:
                verdict = judge(stored_asked(rec), case.grader, prompt=case.prompt)
                new |= {"outcome": verdict.outcome.value, "explanation": verdict.explanation}
        changes[(rec.get("outcome"), new["outcome"])] += 1
        writer.write("qa", new)
    for name in CARRIED:
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
    for suite in ("coding", "perf"):
        for path in source.glob(f"{suite}*.jsonl"):
            shutil.copy2(path, target / path.name)
    env = target / "environment.json"
    if env.exists():
        data = json.loads(env.read_text())
        data.update(run_id=run_id, regraded_from=source.name)
        env.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return target, changes
