"""The perf eval for real on smollm2:135m: a tiny sweep through the embedded stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


def test_tiny_perf_run_on_smollm2(pytester: pytest.Pytester, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        str(ROOT / "evals" / "test_perf.py"), f"--rootdir={ROOT}", "-p", "no:cacheprovider",
        "--models", "smollm2:135m", "--concurrency", "3", "--perf-requests", "3",
        "--perf-max-tokens", "8", "--perf-warmup", "1", "--replicas", "1", "--parallel", "2",
        "--reports-dir", str(reports))
    result.assert_outcomes(passed=5, skipped=1)  # the rate sweep runs only with --rates
    (run,) = (reports / "runs").iterdir()
    records = [json.loads(line) for line in (run / "perf.jsonl").read_text().splitlines()]
    requests = [r for r in records if r["record"] == "request"]
    assert {(r["scenario"], r["endpoint_kind"], r["concurrency"]) for r in requests} == {
        ("short", "direct", 1), ("long", "direct", 1), ("short", "gateway", 1),
        ("sweep", "direct", 3)}
    assert all(r["output_tokens"] == 8 and r["length_ok"] for r in requests)
    assert all(r["token_source"] == "server_usage" and r["slots"] == 2 for r in requests)
    direct = [r for r in requests if r["endpoint_kind"] == "direct"]
    assert all(r["server_decode_tps"] and r["decode_diff_pct"] is not None for r in direct)
    long_ = [r["prompt_tokens"] for r in requests if r["scenario"] == "long"]
    short = [r["prompt_tokens"] for r in requests if r["scenario"] == "short"]
    assert min(long_) > 5 * max(short)
    assert all(r["cached_tokens"] is not None and r["cached_tokens"] < 10 for r in direct)
    cold = [r for r in records if r["record"] == "cold_start"]
    assert len(cold) == 2 and all(r["load_s"] > 0 for r in cold)
    bench = json.loads((run / "benchmark.json").read_text())
    assert {b["extra_info"].get("scenario") for b in bench["benchmarks"]} == {
        "cold", "short", "long", "sweep"}
    assert list((run / "telemetry" / "tests").glob("*.png"))
    assert (run / "telemetry" / "model-smollm2_135m.png").exists()
    result.stdout.fnmatch_lines(["*stackeval: performance*", "*smollm2:135m*sweep*3*"])
