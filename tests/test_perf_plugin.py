"""The perf plugin, driven with pytester: options, benchmark JSON, telemetry attachments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackeval.config import PerfSettings
from stackeval.errors import ConfigError
from stackeval.options import resolve

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_fake_evals="""
        import time
        import pytest

        @pytest.mark.perf
        @pytest.mark.parametrize("model", ["m:1b"])
        def test_fast(benchmark, model, perf_settings):
            benchmark.extra_info["levels"] = list(perf_settings.concurrency)
            benchmark.pedantic(time.sleep, args=(0.1,), rounds=2, warmup_rounds=1)

        @pytest.mark.qa
        @pytest.mark.parametrize("model", ["m:1b"])
        def test_question(model):
            time.sleep(0.2)

        def test_plain():
            pass
    """)
    return pytester


def _run_dir(pytester: pytest.Pytester) -> Path:
    (run,) = (pytester.path / "reports" / "runs").iterdir()
    return run


def _results(pytester: pytest.Pytester) -> dict[str, dict]:
    out = {}
    # Each run writes into its own results dir, named by the run id.
    for f in (pytester.path / "reports" / "allure-results").glob("*/*-result.json"):
        data = json.loads(f.read_text())
        out[data["name"]] = data
    return out


def test_perf_run_writes_benchmark_json_telemetry_and_attachments(project):
    result = project.runpytest("--concurrency", "1,3", "--telemetry-rate", "20")
    result.assert_outcomes(passed=3)
    run = _run_dir(project)
    bench = json.loads((run / "benchmark.json").read_text())
    assert bench["stackeval"]["run_id"] == run.name
    assert bench["benchmarks"][0]["extra_info"]["levels"] == [1, 3]
    assert bench["stackeval"]["perf_settings"]["concurrency"] == [1, 3]

    results = _results(project)
    perf = {a["name"] for a in results["test_fast[m:1b]"]["attachments"]}
    assert perf == {"telemetry summary", "telemetry chart", "telemetry samples"}
    qa = {a["name"] for a in results["test_question[m:1b]"]["attachments"]}
    assert qa == {"telemetry summary"}  # qa/coding tests stay light
    assert not results["test_plain"].get("attachments")

    tel = run / "telemetry"
    assert (tel / "model-m_1b.png").exists() and (tel / "session.csv").exists()
    summary = json.loads((tel / "summary.json").read_text())
    assert summary["m:1b"]["samples"] > 3
    assert len(list((tel / "tests").glob("*.png"))) == 1
    result.stdout.fnmatch_lines(["*stackeval: telemetry*",
                                 "*telemetry: 2 test windows at 20 Hz*"])
    globals_ = list((project.path / "reports" / "allure-results" / run.name)
                    .glob("*-globals.json"))
    assert globals_ and "telemetry m:1b" in globals_[0].read_text()


def test_telemetry_off_and_no_perf_tests_write_nothing(project):
    project.runpytest("-k", "question", "--telemetry-rate", "0").assert_outcomes(passed=1)
    assert not (project.path / "reports" / "runs").exists() or not any(
        (project.path / "reports" / "runs").glob("*/telemetry"))
    project.runpytest("-k", "plain").assert_outcomes(passed=1)
    assert not list((project.path / "reports").glob("runs/*/benchmark.json"))


def test_explicit_benchmark_json_wins(project):
    out = project.path / "mine.json"
    project.runpytest("-k", "fast", f"--benchmark-json={out}").assert_outcomes(passed=1)
    assert out.exists() and not list((project.path / "reports").glob("runs/*/benchmark.json"))


def test_bad_perf_option_is_a_usage_error(project):
    result = project.runpytest("--concurrency", "0,2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--concurrency*"])


@pytest.mark.parametrize("name, value", [("concurrency", "one"), ("perf_requests", "0"),
                                         ("telemetry_rate", "-1"), ("perf_warmup", "-2")])
def test_perf_settings_reject_bad_values(name, value):
    with pytest.raises(ConfigError, match=name.replace("_", "-")):
        resolve(PerfSettings, lambda opt: value if opt.name == name else None)


def test_perf_settings_defaults_and_slo(monkeypatch):
    monkeypatch.setenv("STACKEVAL_SLO_TTFT_MS", "250")
    s = resolve(PerfSettings, lambda opt: "1,16" if opt.name == "concurrency" else None)
    assert s.concurrency == (1, 16) and s.perf_requests == 8 and s.perf_max_tokens == 64
    assert s.slo.ttft_ms == 250.0 and s.slo.tpot_ms == 50.0 and s.telemetry_rate == 10.0


def test_perf_options_from_ini_and_env(project, monkeypatch):
    project.makeini("[pytest]\nstackeval_concurrency = 2,4\n")
    monkeypatch.setenv("STACKEVAL_PERF_MAX_TOKENS", "16")
    project.makepyfile(test_settings="""
        def test_settings(perf_settings):
            s = perf_settings
            assert (s.concurrency, s.perf_max_tokens, s.slo_tpot_ms) == ((2, 4), 16, 50.0)
    """)
    project.runpytest("test_settings.py").assert_outcomes(passed=1)
