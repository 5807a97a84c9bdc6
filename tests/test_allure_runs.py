"""Each run keeps its own Allure results; ``stackeval report`` checks them against the records."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stackeval.report import agreement, allure
from stackeval.statefile import write_private

pytest_plugins = ["pytester"]

FAKE_EVALS = """
    import pytest

    @pytest.mark.qa
    @pytest.mark.parametrize(("model", "case"), [("m:1b", "paris"), ("m:1b", "strawberry")],
                             ids=["m:1b-paris-en", "m:1b-strawberry-en"])
    def test_qa(model, case, record_writer, stackeval_settings):
        ok = case == "paris"
        record_writer.write("qa", {"run_id": stackeval_settings.run_id,
                                   "model": model, "case_id": case, "lang": "en",
                                   "category": "logic", "repeat": 0,
                                   "outcome": "pass" if ok else "wrong_answer"})
        assert ok, "[wrong_answer] expected 3, got 2"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_qa=FAKE_EVALS)
    return pytester


def _runs(project: pytest.Pytester) -> list[Path]:
    return sorted((project.path / "reports" / "runs").iterdir())


def _report(project: pytest.Pytester, run: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackeval", "report", "--no-allure",
                           "--no-prices", "--run", str(run)],
                          cwd=project.path, capture_output=True, text=True, timeout=120)


def test_a_second_session_leaves_the_first_runs_results_alone(project):
    project.runpytest_subprocess().assert_outcomes(passed=1)
    (first,) = _runs(project)
    results = allure.run_results_dir(project.path / "reports", first.name)
    assert allure.count_results(results) == 2
    meta = json.loads((first / "allure.json").read_text())
    assert Path(meta["results_dir"]) == results.resolve()

    # A session that runs nothing, then another full run: neither touches the first results.
    project.runpytest_subprocess("-k", "no_such_test")
    project.runpytest_subprocess().assert_outcomes(passed=1)
    assert allure.count_results(results) == 2
    dirs = sorted(p.name for p in (project.path / "reports" / "allure-results").iterdir())
    assert dirs == [r.name for r in _runs(project)]  # one per run; none for the empty session

    done = _report(project, first)
    assert done.returncode == 0, done.stderr
    assert "Allure results and records agree: 2 tests" in done.stdout


def test_report_says_when_results_and_records_disagree(project):
    project.runpytest_subprocess()
    (run,) = _runs(project)
    results = allure.run_results_dir(project.path / "reports", run.name)
    for path in results.glob("*-result.json"):
        if "strawberry" in path.read_text():
            path.unlink()
    done = _report(project, run)
    assert done.returncode == 1
    assert "DISAGREE" in done.stderr and "test_qa[m:1b-strawberry-en]" in done.stderr


def _result(directory: Path, name: str, status: str, stop: int = 1) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}-{stop}-result.json").write_text(
        json.dumps({"name": name, "status": status, "stop": stop}))


def _records(run: Path, rows: list[tuple[str, str, str]]) -> None:
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "qa.jsonl", "w") as f:
        for model, case, outcome in rows:
            f.write(json.dumps({"model": model, "case_id": case, "lang": "en",
                                "outcome": outcome}) + "\n")


def test_agreement_finds_each_kind_of_loss(tmp_path):
    run, results = tmp_path / "run", tmp_path / "results"
    results.mkdir()
    _records(run, [("m", "a", "pass"), ("m", "b", "wrong_answer"), ("m", "c", "pass")])
    _result(results, "test_qa[m-a-en]", "passed")
    _result(results, "test_qa[m-b-en]", "passed")  # records say wrong
    _result(results, "test_qa[m-d-en]", "failed")  # no records
    _result(results, "test_qa[m-e-en]", "broken")  # errored before asking: no records is fine
    _result(results, "test_other", "passed")  # not a suite with records
    checked = agreement.check(run, results)
    assert not checked.ok
    text = checked.line()
    assert "1 test(s) have records but no Allure result" in text and "test_qa[m-c-en]" in text
    assert "1 Allure result(s) have no records" in text and "test_qa[m-d-en]" in text
    assert "1 test(s) are passed in Allure but their records say not passed" in text

    _result(results, "test_qa[m-b-en]", "failed", stop=2)  # a later result of the same test
    _result(results, "test_qa[m-c-en]", "passed")
    _records(run, [("m", "a", "pass"), ("m", "b", "wrong_answer"), ("m", "c", "pass"),
                   ("m", "d", "wrong_answer")])
    assert agreement.check(run, results).ok


def test_results_dir_of_a_run(tmp_path):
    reports = tmp_path / "reports"
    run = reports / "runs" / "20260101-000000-abcdef"
    run.mkdir(parents=True)
    assert allure.results_dir_of(run, reports) == reports / "allure-results" / run.name
    legacy = reports / "allure-results"
    _result(legacy, "test_qa[m-a-en]", "passed")  # the layout before per-run directories
    assert allure.results_dir_of(run, reports) == legacy
    (run / "allure.json").write_text(json.dumps({"results_dir": str(tmp_path / "mine")}))
    assert allure.results_dir_of(run, reports) == tmp_path / "mine"


def test_state_files_are_private_from_the_start(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "stack" / "shared.json"
        write_private(path, '{"master_key": "sk-x"}')
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)  # left wider by an older version
        write_private(path, "{}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "{}"
    finally:
        os.umask(old)
