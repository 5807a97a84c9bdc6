"""The settings tree: one declaration per setting, one resolver, options where they belong."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from stackeval.cli import main
from stackeval.config import (
    GateSettings,
    PerfSettings,
    SamplingSettings,
    SessionSettings,
    Settings,
    StackSettings,
    WebUISettings,
)
from stackeval.errors import ConfigError
from stackeval.options import options, resolve

pytest_plugins = ["pytester"]


def test_every_setting_declares_its_option_once():
    names = [o.name for cls in SessionSettings.GROUPS for o in options(cls)]
    assert len(names) == len(set(names))
    assert {f.name for f in fields(Settings)} - set(names) == {"run_id"}
    opt = next(o for o in options(Settings) if o.name == "max_loaded_models")
    assert (opt.cli, opt.ini, opt.env, opt.default) == (
        "--max-loaded-models", "stackeval_max_loaded_models", "STACKEVAL_MAX_LOADED_MODELS", 1)


def test_settings_is_every_run_group():
    settings = Settings(temperature=0.5, replicas=2)
    assert isinstance(settings, SamplingSettings) and isinstance(settings, StackSettings)
    assert (settings.temperature, settings.replicas) == (0.5, 2)


def test_precedence_flag_then_ini_then_env_then_default(monkeypatch):
    monkeypatch.setenv("STACKEVAL_SEED", "7")
    monkeypatch.setenv("STACKEVAL_REPEATS", "3")
    values = {"seed": None, "repeats": "2", "samples": None}
    s = resolve(Settings, lambda opt: values.get(opt.name))
    assert (s.seed, s.repeats, s.samples) == (7, 2, 1)


def test_bad_value_names_its_flag():
    with pytest.raises(ConfigError, match="--replicas"):
        resolve(Settings, lambda opt: "two" if opt.name == "replicas" else None)


def test_groups_parse_their_own_types(monkeypatch):
    monkeypatch.setenv("STACKEVAL_WEBUI_CASES", "a, b")
    monkeypatch.setenv("STACKEVAL_WITH_WEBUI", "yes")
    monkeypatch.setenv("STACKEVAL_MIN_ACCURACY", "60%")
    session = SessionSettings.resolve(lambda opt: None, run_id="r1")
    assert session.webui == WebUISettings(with_webui=True, webui_cases=("a", "b"))
    assert session.gate == GateSettings(min_accuracy="60%")
    assert session.perf == PerfSettings() and session.run.run_id == "r1"


def test_help_shows_real_defaults():
    shown = {o.name: o.help_text for cls in SessionSettings.GROUPS for o in options(cls)}
    assert "[default: 0; env STACKEVAL_THREADS]" in shown["threads"]
    assert "[default: the catalog's default chat models;" in shown["models"]
    assert "[default: no gate;" in shown["min_accuracy"]
    assert "unset" not in shown["cache_dir"] + shown["rates"] + shown["webui_cases"]


def test_each_cli_command_has_only_its_own_options(capsys):
    with pytest.raises(SystemExit):
        main(["pull", "--help"])
    pull = capsys.readouterr().out
    assert "--models" in pull and "--cache-dir" in pull
    assert "--coding-limit" not in pull and "--stack" not in pull
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    serve = capsys.readouterr().out
    assert "--replicas" in serve and "--api-key" in serve and "--coding-limit" not in serve


def test_pytest_help_in_an_unrelated_directory_lists_the_options(tmp_path):
    # The plugin comes from the pytest11 entry point, not from this repository's conftest.
    out = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "stackeval: evaluate local LLM stacks" in out
    assert "--coding-limit" in out and "--min-accuracy" in out and "--webui-venv" in out


def test_a_separate_value_naming_a_directory_is_an_option_value(pytester):
    (pytester.path / "elsewhere").mkdir()
    pytester.makepyfile(test_dir="""
        def test_dir(stackeval_settings):
            assert str(stackeval_settings.reports_dir) == "elsewhere"
    """)
    # Taken for a path, "elsewhere" would be the only place searched for tests: none found.
    pytester.runpytest("--reports-dir", "elsewhere").assert_outcomes(passed=1)


KNOBS = """
    import pytest

    @pytest.mark.qa
    @pytest.mark.stackeval({knobs})
    def test_knobs(model, stackeval_knobs):
        assert stackeval_knobs == {{"max_tokens": 32}}
"""


def test_marker_knobs_reach_the_test(pytester):
    pytester.makepyfile(test_knobs=KNOBS.format(knobs="max_tokens=32"))
    pytester.runpytest("--models", "smollm2:135m").assert_outcomes(passed=1)


def test_unknown_marker_knob_is_rejected(pytester):
    pytester.makepyfile(test_knobs=KNOBS.format(knobs="max_token=32"))
    result = pytester.runpytest("--models", "smollm2:135m")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.stackeval takes only*max_tokens*got max_token*"])


def test_evals_import_no_plugin_internals():
    evals = Path(__file__).resolve().parent.parent / "evals"
    for path in evals.glob("*.py"):
        text = path.read_text()
        assert "stackeval.plugin." not in text and "runtime(" not in text, path.name
