"""Cross-run comparison of two copies of the recorded real run, one of them changed on purpose."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stackeval.errors import ConfigError
from stackeval.report.crossrun import compare_runs, resolve_run
from stackeval.report.crossrun_page import write_cross_run
from stackeval.report.significance import mcnemar

RECORDED_RUN = Path(__file__).parent / "transcripts" / "report-run"
REPO = Path(__file__).resolve().parents[1]
FLIPPED = "smollm2:135m"


def _rewrite(run: Path, name: str, change) -> None:
    path = run / name
    if name.endswith(".jsonl"):
        rows = [change(json.loads(line)) for line in path.read_text().splitlines()]
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    else:
        path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _perf(model: str, ttft: float, agg: float) -> dict:
    return {"record": "summary", "model": model, "scenario": "sweep", "endpoint_kind": "direct",
            "concurrency": 4, "ttft_s": {"p50": ttft}, "aggregate_output_tps": agg}


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    """Run a is the recording; run b passes every smollm2 answer that was wrong in a, serves
    another file under its name and samples warmer; both carry one perf summary."""
    a = Path(shutil.copytree(RECORDED_RUN, tmp_path / "runs" / "run-a"))
    b = Path(shutil.copytree(RECORDED_RUN, tmp_path / "runs" / "run-b"))
    _rewrite(a, "environment.json", lambda e: e | {"run_id": "run-a"})

    def env(e: dict) -> dict:
        e["run_id"] = "run-b"
        e["models"][FLIPPED] |= {"sha256": "f" * 64, "quantization": "Q8_0"}
        e["settings"]["temperature"] = 0.7
        return e

    _rewrite(b, "environment.json", env)
    _rewrite(b, "qa.jsonl", lambda r: r | {"outcome": "pass"} if r["model"] == FLIPPED and
             r["outcome"] == "wrong_answer" else r)
    (a / "perf.jsonl").write_text(json.dumps(_perf(FLIPPED, 0.2, 100.0)) + "\n")
    (b / "perf.jsonl").write_text(json.dumps(_perf(FLIPPED, 0.3, 80.0)) + "\n")
    return a, b


def test_deltas_use_the_paired_test_on_shared_items(runs):
    a, b = runs
    cross = compare_runs([a, b])
    (rp,) = cross.pairs
    records = [json.loads(x) for x in (a / "qa.jsonl").read_text().splitlines()]
    wrong = sum(r["model"] == FLIPPED and r["outcome"] == "wrong_answer" for r in records)
    overall = next(d for d in rp.deltas if d.model == FLIPPED and d.scope == "overall")
    assert overall.pair.items == 20 and overall.pair.b_better == wrong
    assert overall.pair.a_better == 0 and overall.pair.p == mcnemar(0, wrong)[1]
    assert overall.change == pytest.approx(wrong / 20)
    same = next(d for d in rp.deltas if d.model == "gemma3:270m" and d.scope == "overall")
    assert same.change == 0 and same.pair.p == 1.0
    scopes = {d.scope for d in rp.deltas if d.model == FLIPPED}
    assert {"category logic", "lang zh", "lang en"} <= scopes


def test_served_differences_are_flagged(runs):
    rp = compare_runs(list(runs)).pairs[0]
    flagged = {(s.model, s.what): (s.base, s.other) for s in rp.served}
    assert flagged[(FLIPPED, "sha256")][1] == "f" * 64
    assert flagged[(FLIPPED, "quantization")] == ("Q4_1", "Q8_0")
    assert flagged[(None, "setting temperature")] == ("0.0", "0.7")
    assert not any(m == "gemma3:270m" for m, _ in flagged)  # nothing changed for it
    perf = {f.what: (f.base, f.other) for f in rp.figures if f.what.startswith("perf")}
    assert perf["perf sweep c=4 aggregate tok/s"] == (100.0, 80.0)


def test_page_and_findings(runs, tmp_path):
    files = write_cross_run(compare_runs(list(runs)), tmp_path / "out")
    md = files.markdown.read_text(encoding="utf-8")
    assert "## 3. What was served: run-a → run-b" in md and "| Q4_1 | Q8_0 |" in md
    assert f"| {FLIPPED} | overall | 20% (4/20; 8–42%) |" in md
    assert any(line.startswith(f"run-b vs run-a: {FLIPPED} qa +") and line.endswith("better.")
               for line in files.findings)
    assert any("different file or server" in line and FLIPPED in line for line in files.findings)
    html = files.html.read_text(encoding="utf-8")
    assert "<script" not in html and "run-a" in html


def test_cli_compares_run_ids_and_rejects_a_single_run(runs, tmp_path):
    reports = tmp_path
    done = subprocess.run([sys.executable, "-m", "stackeval", "report", "--reports-dir",
                           str(reports), "--compare", "run-a", "run-b"], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (reports / "comparison" / "compare-run-a-vs-run-b" / "compare.md").is_file()
    assert "baseline run-a" in done.stdout
    with pytest.raises(ConfigError, match="at least two runs"):
        compare_runs([runs[0]])
    with pytest.raises(ConfigError, match="neither a run directory nor a run id"):
        resolve_run("nope", reports)
