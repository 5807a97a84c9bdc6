"""Concurrent asks and --resume end to end: a real model, real records, through pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

EVALS = Path(__file__).resolve().parent.parent / "evals" / "test_qa.py"
ARGS = ("--models", "smollm2:135m", "-k", "capital-of", "--max-tokens", "24", "--replicas", "1",
        "--parallel", "4", "-p", "no:randomly")


def run(pytester, reports: Path, *extra: str):
    pytester.makeconftest('pytest_plugins = ["stackeval.plugin"]')
    pytester.makepyfile(test_qa=EVALS.read_text())
    result = pytester.runpytest_subprocess(*ARGS, "--reports-dir", str(reports), *extra)
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
    assert n >= 6 and sum(first.parseoutcomes().get(k, 0) for k in ("passed", "failed")) == n

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
    second = run(pytester, reports, "--resume", str(run_dir))
    again = records(run_dir)
    assert len(again) == n
    assert [json.dumps(r, sort_keys=True) for r in again[:n - 2]] == \
        [json.dumps(json.loads(line), sort_keys=True) for line in kept]
    assert {(r["case_id"], r["lang"]) for r in again} == {(r["case_id"], r["lang"]) for r in recs}
    assert second.parseoutcomes() == first.parseoutcomes()
    assert list((reports / "runs").iterdir()) == [run_dir]  # no new run directory
