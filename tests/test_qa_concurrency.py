"""Concurrent asks and --resume end to end: a real model, real records, through pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

EVALS = Path(__file__).resolve().parent.parent / "evals" / "test_qa.py"
# Options in --name=value form: before the plugin is loaded, pytest takes a separate value that
# names an existing directory (the second run's --reports-dir) for a path argument.
ARGS = ("--models=smollm2:135m", "-k", "capital-of", "--max-tokens=24", "--replicas=1",
        "--parallel=4", "-p", "no:randomly")


def run(pytester, reports: Path, *extra: str):
    pytester.makepyfile(test_qa=EVALS.read_text())
    result = pytester.runpytest_subprocess(*ARGS, f"--reports-dir={reports}", *extra)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
    assert "error" not in result.parseoutcomes()
    return result


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "qa.jsonl").read_text().splitlines()]


def test_asks_overlap_and_resume_asks_nothing_twice(pytester, tmp_path):
    reports = tmp_path / "reports"
    first = run(pytester, reports)
    (run_dir,) = (reports / "runs").iterdir()
    recs = records(run_dir)
    n = len(recs)
    # A wrong answer is counted as "wrong" (stackeval.plugin.terminal), not "failed".
    outcomes = first.parseoutcomes()
    assert n >= 6 and sum(outcomes.get(k, 0) for k in ("passed", "failed", "wrong")) == n

    # Asks were in flight together (up to the 4 slots), each with its replayable request.
    spans = sorted((r["metrics"]["t_start"], r["metrics"]["t_end"]) for r in recs)
    peak = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert 2 <= peak <= 4
    for r in recs:
        assert r["served"]["serving"] == {"replicas": 1, "parallel": 4, "threads": 1}
        body = r["request"]["body"]
        assert r["request"]["path"] == "/chat/completions"
        assert body["seed"] == 1234 and body["max_tokens"] == 24 and body["messages"]

    # An interrupted run: the last two answers never got saved. --resume asks only those.
    kept = (run_dir / "qa.jsonl").read_text().splitlines()[:-2]
    (run_dir / "qa.jsonl").write_text("\n".join(kept) + "\n")
    second = run(pytester, reports, f"--resume={run_dir}")
    again = records(run_dir)
    assert len(again) == n
    assert [json.dumps(r, sort_keys=True) for r in again[:n - 2]] == \
        [json.dumps(json.loads(line), sort_keys=True) for line in kept]
    assert {(r["case_id"], r["lang"]) for r in again} == {(r["case_id"], r["lang"]) for r in recs}
    assert second.parseoutcomes() == first.parseoutcomes()
    assert list((reports / "runs").iterdir()) == [run_dir]  # no new run directory


def test_llm_judge_verdict_is_saved_beside_the_graders_and_reported(pytester, tmp_path):
    from stackeval.report.comparison import build_report
    from stackeval.report.sections import qa_section

    reports = tmp_path / "reports"
    pytester.makepyfile(test_qa=EVALS.read_text())
    # The judge is a model on the run's own gateway (smollm2 judging itself: real, if weak).
    result = pytester.runpytest_subprocess(
        "--models=smollm2:135m", "-k", "capital-of-australia", "--max-tokens=24",
        "--judge-model=smollm2:135m", f"--reports-dir={reports}", "-p", "no:randomly")
    assert "error" not in result.parseoutcomes(), result.stdout.str()
    (run_dir,) = (reports / "runs").iterdir()
    recs = records(run_dir)
    assert len(recs) == 2
    for r in recs:
        assert r["judge"]["model"] == "smollm2:135m"
        assert r["judge"]["verdict"] in ("pass", "fail", "unreadable")
        assert r["judge"]["disagrees"] == (
            r["judge"]["verdict"] in ("pass", "fail")
            and (r["judge"]["verdict"] == "pass") != (r["outcome"] == "pass"))
    report = build_report(run_dir)
    judged = sum(r["judge"]["verdict"] in ("pass", "fail") for r in recs)
    assert report.judge_disagreements.get("smollm2:135m", (0, 0))[0] == judged
    texts = [getattr(b, "text", "") for b in qa_section(report, {}).blocks]
    assert any("graders that graded this run agree" in t for t in texts)
    assert any("LLM judge" in t for t in texts) == bool(judged)
