"""The comparison report built from a recorded real run (tests/transcripts/report-run).

The recorded run is a real Q&A run of the bundled models on the embedded stack; expected values
are recomputed from its raw records here, so the tests check the arithmetic, not a snapshot.
Coding and perf records are not recorded yet, so their readers are checked on minimal records
that carry only outcomes and timings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from stackeval.report import build_comparison, build_report, load_prices
from stackeval.report.findings import findings
from stackeval.stats import percentile
from stackeval.telemetry import Sampler

RECORDED_RUN = Path(__file__).parent / "transcripts" / "report-run"
PRICES = Path(__file__).resolve().parents[1] / "fixtures" / "prices.yaml"


def _qa_records() -> list[dict]:
    lines = (RECORDED_RUN / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A writable copy of the recorded run."""
    return Path(shutil.copytree(RECORDED_RUN, tmp_path / "runs" / RECORDED_RUN.name))


def test_qa_accuracy_matches_the_raw_records():
    report = build_report(RECORDED_RUN)
    records = _qa_records()
    assert set(report.ran["qa"]) == {r["model"] for r in records}
    for model, stats in report.qa.items():
        mine = [r for r in records if r["model"] == model]
        graded = [r for r in mine if r["outcome"] not in ("infrastructure_error", "grader_error")]
        assert stats.attempts == len(mine)
        assert stats.overall.total == len(graded)
        assert stats.overall.passed == sum(r["outcome"] == "pass" for r in graded)
        for cat, rate in stats.by_category.items():
            assert rate.total == sum(r["category"] == cat for r in graded)
        assert sum(r.total for r in stats.by_lang.values()) == len(graded)


def test_speed_and_tokens_match_the_raw_records():
    report = build_report(RECORDED_RUN)
    for model in report.models:
        metrics = [r["metrics"] for r in _qa_records() if r["model"] == model and r["metrics"]]
        speed = report.speed_of(model, "qa")
        assert speed is not None and speed.e2e_s.n == len(metrics)
        ttft = [m["ttft_s"] for m in metrics if m["ttft_s"] is not None]
        assert speed.ttft_s.p50 == pytest.approx(float(np.percentile(ttft, 50)))
        assert speed.ttft_s.p90 == pytest.approx(float(np.percentile(ttft, 90)))
        use = next(t for t in report.tokens if t.model == model and t.suite == "qa")
        assert use.output_tokens == sum(m["output_tokens"] or 0 for m in metrics)
        assert use.prompt_tokens == sum(m["prompt_tokens"] or 0 for m in metrics)


def test_suites_without_records_are_not_run_not_zero(tmp_path):
    files = build_comparison(RECORDED_RUN, tmp_path, PRICES)
    assert not files.report.suite_ran("coding") and not files.report.suite_ran("perf")
    md = files.markdown.read_text(encoding="utf-8")
    assert "Not run: this run has no coding records" in md
    assert "Not recorded: no telemetry traces were saved with this run." in md
    assert "pass@1" not in md  # no coding table with made-up zeros


def test_a_model_that_did_not_run_is_shown_as_missing(run, tmp_path):
    env = json.loads((run / "environment.json").read_text())
    env["models"]["ghost:1b"] = {"name": "ghost:1b", "kind": "chat", "quantization": "Q4_K_M"}
    (run / "environment.json").write_text(json.dumps(env))
    files = build_comparison(run, tmp_path / "out", PRICES)
    assert "ghost:1b" in files.report.models and "ghost:1b" not in files.report.qa
    md = files.markdown.read_text(encoding="utf-8")
    qa_row = next(line for line in md.splitlines() if line.startswith("| ghost:1b | not run"))
    assert " 0% " not in qa_row
    assert "| ghost:1b | all | not run |" in md


def test_every_figure_names_its_run(tmp_path):
    files = build_comparison(RECORDED_RUN, tmp_path, PRICES)
    md = files.markdown.read_text(encoding="utf-8")
    captions = re.findall(r"^\*Figure \d+: (.*)\*$", md, flags=re.M)
    assert len(captions) == len(files.charts) >= 3
    assert all(files.report.run_id in c for c in captions)
    for png in files.charts:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.relative_to(tmp_path).as_posix()})" in md


def test_html_is_self_contained(tmp_path):
    files = build_comparison(RECORDED_RUN, tmp_path, PRICES)
    html = files.html.read_text(encoding="utf-8")
    assert "<script" not in html
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == len(files.charts) and all(s.startswith("data:image/png;base64,")
                                                  for s in srcs)
    assert not re.search(r'(href|src)="https?:', html)


def test_findings_come_from_the_data():
    report = build_report(RECORDED_RUN, load_prices(PRICES))
    lines = findings(report)
    best = max(report.qa.values(), key=lambda s: s.overall.value or 0)
    assert any(best.model in line and "Highest Q&A accuracy" in line for line in lines)
    fastest = max(report.models, key=lambda m: report.speed_of(m).decode_tps.p50 or 0)
    assert any(line.startswith(f"Fastest decoding: {fastest}") for line in lines)


def test_local_cost_is_an_estimate_without_energy_telemetry():
    prices = load_prices(PRICES)
    report = build_report(RECORDED_RUN, prices)
    for model, cost in report.costs.items():
        busy = sum(report.speed_of(model).e2e_s.values)
        assert cost.basis == "estimated energy"
        assert cost.energy_kwh == pytest.approx(prices.assumed_power_w * busy / 3.6e6)
        assert cost.amount == pytest.approx(cost.energy_kwh * prices.electricity_per_kwh)
        use = next(t for t in report.tokens if t.model == model and t.suite == "all")
        deepseek = next(p for p in prices.providers if p.model == "deepseek-chat")
        assert report.api_equivalent[model]["deepseek-chat"] == pytest.approx(
            (use.prompt_tokens * deepseek.input_per_1m + use.output_tokens
             * deepseek.output_per_1m) / 1e6)


def test_external_model_with_a_listed_price_is_costed_by_tokens(run):
    env = json.loads((run / "environment.json").read_text())
    env["stack"]["profile"] = "external"
    (run / "environment.json").write_text(json.dumps(env))
    model = build_report(run).models[0]
    prices = load_prices(PRICES)
    listed = prices.providers[0]
    prices = prices.__class__(**{**prices.__dict__, "providers": (
        listed.__class__(listed.provider, model, 1.0, 2.0),)})
    report = build_report(run, prices)
    use = next(t for t in report.tokens if t.model == model and t.suite == "all")
    cost = report.costs[model]
    assert cost.basis == "api price"
    assert cost.amount == pytest.approx((use.prompt_tokens * 1.0 + use.output_tokens * 2.0) / 1e6)


def test_resources_from_a_real_session_trace(run, tmp_path):
    # The layout stackeval.plugin.perf writes: one session trace watching each model's server, one
    # mark per test. This process stands in for the servers; the samples are real.
    first, second = build_report(run).models[:2]
    pids = {f"server-{first}": os.getpid(), f"server-{second}": os.getpid()}
    with Sampler(rate_hz=20, pids=pids, gpu=False) as sampler:
        for model in (first, second):
            for case in ("a-en", "b-zh"):
                sampler.mark(f"test_qa[{model}-{case}]")
                sum(i * i for i in range(1_000_000))  # something for the CPU curve to show
                time.sleep(0.15)
    (run / "telemetry").mkdir()
    sampler.trace.to_json(run / "telemetry" / "session.json")
    (run / "telemetry" / "summary.json").write_text("{}")  # not a trace: ignored
    files = build_comparison(run, tmp_path / "out", PRICES)
    res = {r.label: r for r in files.report.resources}
    assert set(res) == {first, second}
    marks = sorted(sampler.trace.marks, key=lambda m: m.t)
    assert res[first].duration_s <= marks[2].t - marks[0].t + 1e-6
    assert res[first].cpu_percent_peak is not None and res[first].rss_mib_peak
    assert res[first].energy_j is None  # no GPU here: energy is "not measured", not 0 J
    assert any(p.name == "resource_curves.png" for p in files.charts)
    assert "not measured" in files.markdown.read_text(encoding="utf-8")


def test_coding_and_perf_records_are_read_tolerantly(run, tmp_path):
    # Outcomes only (no model output), in the coding runner's CodingResult.to_dict() shape:
    # 2 tasks x 5 samples; and a perf record with a list of requests.
    model = build_report(run).models[0]
    with open(run / "coding.jsonl", "w") as f:
        for task, suite, passes in (("add_affix", "python", [1, 1, 0, 0, 0]),
                                    ("weblog", "bashlab", [0] * 5)):
            for i, ok in enumerate(passes):
                f.write(json.dumps({
                    "model": model, "task_id": task, "suite": suite, "sample": i,
                    "outcome": "pass" if ok else "wrong_answer", "passed": bool(ok),
                    "quality": {"tool": "ruff", "findings": 1 if ok else 0,
                                "by_code": {"F401": 1} if ok else {}}}) + "\n")
        f.write('{"model": "' + model + '", "task_id": "add_a')  # a torn last line
    with open(run / "perf.jsonl", "w") as f:
        f.write(json.dumps({"model": model, "scenario": "short", "requests": [
            {"ttft_s": 0.1, "e2e_s": 1.0, "decode_tokens_per_s": 50.0, "output_tokens": 40},
            {"ttft_s": 0.2, "e2e_s": 1.2, "decode_tokens_per_s": 40.0}]}) + "\n")
    files = build_comparison(run, tmp_path / "out", PRICES)
    coding = files.report.coding[model]
    assert coding.tasks == 2 and coding.samples == 10
    assert coding.pass_at[1] == pytest.approx((2 / 5 + 0) / 2)
    assert coding.pass_at[3] == pytest.approx((1 - (3 * 2 * 1) / (5 * 4 * 3)) / 2)
    assert coding.pass_all[3] == 0.0 and coding.pass_all[5] == 0.0
    assert 10 not in coding.pass_at  # 5 samples cannot estimate pass@10
    assert set(coding.by_group) == {"python", "bashlab"}
    assert coding.findings == {"F401": 2}
    perf = files.report.speed_of(model, "perf")
    assert perf.ttft_s.n == 2 and perf.decode_tps.p50 == pytest.approx(45.0)
    assert next(t for t in files.report.tokens if t.suite == "perf").counted == 1
    md = files.markdown.read_text(encoding="utf-8")
    assert "pass@1" in md and "Not run: this run has no coding records" not in md
    assert "coding_pass_at_1.png" in md and "F401 ×2" in md


@pytest.mark.parametrize("q", [0, 10, 50, 90, 99, 100])
def test_percentile_is_numpy_linear(q):
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], q) is None


PERF_RUN = Path(__file__).parent / "transcripts" / "report-perf-run"


def test_perf_run_fills_the_speed_section(tmp_path):
    files = build_comparison(PERF_RUN, tmp_path, PRICES)
    report = files.report
    lines = [json.loads(x) for x in (PERF_RUN / "perf.jsonl").read_text().splitlines()]
    requests = [r for r in lines if r["record"] == "request" and not r.get("error")]
    summaries = [r for r in lines if r["record"] == "summary"]
    (model,) = report.models
    speed = report.speed_of(model, "perf")
    assert speed.e2e_s.n == len(requests)  # summaries and cold starts are not requests
    assert speed.decode_tps.p50 == pytest.approx(
        float(np.percentile([r["client_decode_tps"] for r in requests], 50)))
    use = next(t for t in report.tokens if t.suite == "perf")
    assert use.output_tokens == sum(r["output_tokens"] for r in requests)
    md = files.markdown.read_text(encoding="utf-8")
    assert md.count(f"| {model} | sweep |") == sum(s["scenario"] == "sweep" for s in summaries)
    assert "load " in md and "concurrency_sweep.png" in md
    assert "Not run: this run has no Q&A records." in md
