"""The CI gate (--min-accuracy, --min-pass-at-1) and the Allure files the report plugin writes."""

from __future__ import annotations

import json

import pytest

from stackeval.errors import ConfigError
from stackeval.report.gate import GateResult, Threshold, parse_fraction

pytest_plugins = ["pytester"]

# Each test saves one Q&A outcome the way evals/test_qa.py does; no model is involved.
RECORDING_TESTS = """
    import pytest

    OUTCOMES = {"q1": "pass", "q2": "pass", "q3": "wrong_answer", "q4": "infrastructure_error"}

    @pytest.mark.parametrize("case_id", sorted(OUTCOMES))
    def test_recorded(case_id, record_writer):
        record_writer.write("qa", {"model": "smollm2:135m", "case_id": case_id, "lang": "en",
                                   "category": "logic", "outcome": OUTCOMES[case_id]})
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_gate=RECORDING_TESTS)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--models", "smollm2:135m", "--reports-dir", "out", *args)


def test_gate_fails_a_passing_session_below_the_minimum(project):
    result = _run(project, "--min-accuracy", "0.8")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4)
    # 2 passed of 3 graded: the infrastructure error is not an answer.
    result.stdout.fnmatch_lines([
        "*stackeval gate: FAIL qa accuracy smollm2:135m: 66.7% < 80.0% required (2/3 graded)*",
        "*1 model/suite pair(s) below the minimum: session failed*",
    ])


def test_gate_passes_at_or_above_the_minimum(project):
    result = _run(project, "--min-accuracy", "60%")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*stackeval gate: ok   qa accuracy smollm2:135m: 66.7% >= 60.0%*"])


def test_gate_skips_a_suite_that_did_not_run(project, monkeypatch):
    monkeypatch.setenv("STACKEVAL_MIN_PASS_AT_1", "0.5")
    result = _run(project)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*stackeval gate: skip coding pass@1: the suite did not run*"])


def test_gate_counts_a_selected_model_without_records_as_failed(project):
    result = project.runpytest("--models", "smollm2:135m,gemma3:270m", "--reports-dir", "out",
                               "--min-accuracy", "0.5")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAIL qa accuracy gemma3:270m: no graded records*no qa records*"])


def test_bad_threshold_is_a_usage_error(project):
    result = _run(project, "--min-accuracy", "most")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--min-accuracy*most*"])


def test_allure_metadata_written_at_session_end(project):
    result = _run(project, "--alluredir", "allure")
    assert result.ret == pytest.ExitCode.OK
    allure_dir = project.path / "allure"
    names = [c["name"] for c in json.loads((allure_dir / "categories.json").read_text())]
    assert names[:2] == ["Sandbox violation", "Timeout"] and "Wrong answer" in names
    executor = json.loads((allure_dir / "executor.json").read_text())
    assert executor["buildName"].startswith("stackeval run ")
    env = (allure_dir / "environment.properties").read_text()
    assert "host.cpu = " in env and "host.ram_gib = " in env and "gpu" in env


@pytest.mark.parametrize(("text", "value"), [("0.6", 0.6), ("60%", 0.6), ("60", 0.6),
                                               ("1", 1.0), ("0", 0.0)])
def test_parse_fraction(text, value):
    assert parse_fraction(text, "--x") == pytest.approx(value)


@pytest.mark.parametrize("text", ["-1", "150%", "x"])
def test_parse_fraction_rejects(text):
    with pytest.raises(ConfigError, match="--x"):
        parse_fraction(text, "--x")


def test_gate_line_for_a_model_without_records():
    result = GateResult(Threshold("coding", "pass@1", 0.3), "m", None, "no coding records")
    assert not result.passed
    assert result.line() == ("stackeval gate: FAIL coding pass@1 m: no graded records < 30.0% "
                             "required (no coding records)")
