"""What a session prints: one line per wrong answer, tracebacks only for harness errors, one-line
usage errors, progress under capture, and a summary that fits 100 columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackeval.plugin.terminal import format_wrong_answers, wrong_answer
from stackeval.summary import WIDTH, format_coding_table, format_qa_table

pytest_plugins = ["pytester"]

EVALS = Path(__file__).resolve().parent.parent / "evals"

FAKE_EVALS = """
    import pytest
    from stackeval import progress
    from stackeval.errors import ServerGone

    @pytest.fixture(scope="session")
    def slow_start():
        progress.step("loading m:1b (98 MB)")
        return True

    @pytest.mark.qa
    @pytest.mark.parametrize("model", ["m:1b"])
    @pytest.mark.parametrize("case", ["strawberry-zh", "paris-en"])
    def test_qa(model, case, slow_start):
        assert case == "paris-en", (f"{case} (logic): 0/1 attempts passed\\n"
                                    "[wrong_answer] expected 3 (any of: 3, three), got '2'")

    @pytest.mark.qa
    @pytest.mark.parametrize("model", ["m:1b"])
    def test_server_down(model):
        raise ServerGone("model server for 'm:1b' (pid 4242) has exited")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_fake_evals=FAKE_EVALS)
    return pytester


def test_wrong_answer_is_one_line_and_harness_error_keeps_its_traceback(project):
    # Telemetry off: its charts of these instant tests may warn, and a warning joins the tally.
    result = project.runpytest_subprocess("--models", "smollm2:135m", "--telemetry-rate=0")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # a wrong answer still fails the test
    result.stdout.fnmatch_lines([
        "*stackeval: wrong answers (1)*",
        "m:1b  strawberry-zh  wrong_answer  expected 3 (any of: 3, three), got '2'",
    ])
    assert "def test_qa" not in out  # no traceback for the wrong answer
    assert "raise ServerGone" in out  # ... but one for the harness error
    result.stdout.fnmatch_lines(["*1 failed, 1 passed, 1 wrong*"])
    # Progress written while the fixture ran, under capture, still reached the terminal.
    result.stderr.fnmatch_lines(["stackeval: loading m:1b (98 MB)"])


def test_verbose_run_says_wrong(project):
    result = project.runpytest_subprocess("-v", "-k", "test_qa")
    result.stdout.fnmatch_lines(["*test_qa*strawberry-zh* WRONG*", "*test_qa*paris-en* PASSED*"])


def test_explicit_tb_option_shows_the_usual_failure_report(project):
    result = project.runpytest_subprocess("--tb=short", "-k", "test_qa")
    result.stdout.fnmatch_lines(["*1 failed, 1 passed*"])
    assert "stackeval: wrong answers" not in result.stdout.str()


def test_wrong_answer_line_with_repeats_gives_the_pass_rate():
    row = wrong_answer("qwen2.5-coder:0.5b", "qwen2.5-coder:0.5b-bashlab/worldcup-zh",
                       "bashlab/worldcup (zh): 1/3 samples passed\n"
                       "sample 2: [runtime_error] exit 2: syntax error\n"
                       "sample 3: [wrong_answer] 3 of 9 checks failed")
    assert row == ["qwen2.5-coder:0.5b", "bashlab/worldcup-zh", "runtime_error (1/3 passed)",
                   "exit 2: syntax error"]
    assert wrong_answer("m", "m-x", "assert 1 == 2") is None  # not a verdict: traceback
    lines = format_wrong_answers([row, ["m:1b", "x-en", "truncated", "cut " * 40]], 100)
    assert lines[1].startswith("m:1b                x-en                 truncated   ")
    assert len(lines[1]) == 100 and lines[1].endswith("…")


@pytest.mark.parametrize("args, message", [
    (["--sandbox", "nosuch"], "*--sandbox='nosuch': choose one of auto, docker, bwrap, unsafe*"),
    (["--stack", "external", "--base-url", "http://127.0.0.1:9/v1"],
     "*--stack=external needs --models*"),
])
def test_bad_options_fail_at_start_with_one_line(project, args, message):
    result = project.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert len(result.stderr.str().strip().splitlines()) == 1
    assert "test_qa" not in result.stdout.str()  # nothing was collected or run


def test_bad_question_file_is_one_line_naming_file_and_line(pytester):
    pytester.makepyfile(test_qa=(EVALS / "test_qa.py").read_text())
    qa = pytester.mkdir("qa")
    (qa / "logic.yaml").write_text(
        "category: logic\n"
        "questions:\n"
        "  - id: broken\n"
        "    expected: 3\n"
        "    grader: {type: no-such-grader}\n"
        "    zh:\n"
        "      prompt: x\n"
        "    en:\n"
        "      prompt: x\n")
    result = pytester.runpytest_subprocess("--qa-dir", str(qa), "--models", "smollm2:135m")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error stops the run
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*ConfigError: *logic.yaml:3*no-such-grader*"])
    assert "Traceback" not in out and "pytest_generate_tests" not in out
    assert len(out.splitlines()) < 20


def _qa_rows(models: list[str], cats: list[str]) -> list[dict]:
    return [{"model": m, "format": "completion", "n": 120, "graded": 118, "accuracy": 0.5,
             "by_category": {c: 0.5 for c in cats},
             "by_category_n": {c: (12, 24) for c in cats},
             "ttft_s": 0.12, "decode_tps": 55.5, "output_tokens": 123456, "errors": 2}
            for m in models]


def test_summary_fits_100_columns_and_never_cuts_a_name():
    cats = ["common_sense", "hallucination", "geography", "logic", "reverse"]
    models = ["smollm2:135m", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b", "gemma3:270m",
              "a-rather-long-model-name:7b-instruct-q4_K_M"]
    lines = format_qa_table(_qa_rows(models, cats))
    assert max(map(len, lines)) <= WIDTH
    text = "\n".join(lines)
    for name in cats + models:
        assert name in text
    assert "50% 12/24" in text  # the counts behind each percentage
    assert " n " in lines[0] + " "
    coding = format_coding_table([{"model": m, "suite": "bashlab", "tasks": 3, "samples": 6,
                                   "errors": 0, "pass_at_1": 0.5, "k": 1, "pass_at_k": None,
                                   "lint_findings": 4} for m in models])
    assert max(map(len, coding)) <= WIDTH
