"""The pytest plugin, driven with pytester: options, errors and parametrization."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_models="""
        import pytest

        @pytest.mark.qa  # an eval taking `model` runs once per model of the run
        def test_model(model, stackeval_settings):
            assert stackeval_settings.temperature == 0.0
    """)
    return pytester


def test_unknown_model_lists_known_ones(project):
    result = project.runpytest("--models", "nosuch:1b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown model*nosuch:1b*smollm2:135m*"])


def test_default_models_are_the_catalog_defaults(project):
    result = project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*smollm2:135m*", "*qwen2.5-coder:0.5b*", "*qwen2.5-coder:1.5b*"])
    assert "gemma3" not in result.stdout.str()


def test_env_and_ini_settings(project, monkeypatch):
    monkeypatch.setenv("STACKEVAL_MODELS", "smollm2:135m")
    project.makeini("[pytest]\nstackeval_temperature = 0.7\n")
    result = project.runpytest("-q")
    result.assert_outcomes(failed=1)  # the ini temperature reached the settings
    monkeypatch.setenv("STACKEVAL_TEMPERATURE", "0.0")
    project.makeini("[pytest]\n")
    project.runpytest("-q").assert_outcomes(passed=1)


def test_bad_option_value_is_a_usage_error(project):
    result = project.runpytest("--threads", "many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--threads*many*"])


def test_external_needs_base_url(project):
    result = project.runpytest("--stack", "external")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--base-url*"])


def test_malformed_question_file_names_file_and_line(pytester):
    evals = Path(__file__).resolve().parent.parent / "evals" / "test_qa.py"
    pytester.makepyfile(test_qa=evals.read_text())
    qa = pytester.mkdir("qa")
    (qa / "logic.yaml").write_text(
        "category: logic\n"
        "questions:\n"
        "  - id: fine\n"
        "    expected: 2\n"
        "    grader: {type: number, value: 2}\n"
        "    zh:\n"
        "      prompt: 一加一等于几\n"
        "    en:\n"
        "      prompt: What is one plus one\n"
        "  - id: broken\n"
        "    expected: 3\n"
        "    grader: {type: no-such-grader}\n"
        "    zh:\n"
        "      prompt: x\n"
        "    en:\n"
        "      prompt: x\n")
    result = pytester.runpytest("--qa-dir", str(qa), "--models", "smollm2:135m")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*logic.yaml:10*no-such-grader*"])
