"""The Q&A eval end to end through pytester: a real model, real records, real Allure results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

EVALS = Path(__file__).resolve().parent.parent / "evals" / "test_qa.py"
SECRET = "sk-test-gateway-secret-4f1c2a"


def test_qa_eval_writes_records_and_attachments_without_secrets(pytester, tmp_path):
    pytester.makepyfile(test_qa=EVALS.read_text())
    reports, allure_dir = tmp_path / "reports", tmp_path / "allure"
    result = pytester.runpytest_subprocess(
        "--models", "smollm2:135m", "-k", "paris-capital-of-germany", "--max-tokens", "48",
        "--reports-dir", str(reports), "--alluredir", str(allure_dir), "--api-key", SECRET)
    # Wrong answers are allowed (a 135M model); harness errors are not.
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    result.assert_outcomes(**{k: v for k, v in result.parseoutcomes().items()
                              if k in ("passed", "failed")})
    assert "error" not in result.parseoutcomes()
    result.stdout.fnmatch_lines(["*stackeval: Q&A summary*", "smollm2:135m*"])

    records = [json.loads(line) for f in reports.glob("runs/*/qa.jsonl")
               for line in f.read_text().splitlines()]
    assert {(r["case_id"], r["lang"]) for r in records} == {
        ("paris-capital-of-germany", "zh"), ("paris-capital-of-germany", "en")}
    for r in records:
        assert r["outcome"] in ("pass", "wrong_answer", "truncated")
        assert r["served"]["sha256"] and r["served"]["quantization"] == "Q4_1"
        assert r["metrics"]["token_source"] == "server_usage"

    results = [json.loads(p.read_text()) for p in allure_dir.glob("*-result.json")]
    assert len(results) == 2
    names = {a["name"] for r in results for a in r["attachments"]}
    assert {"prompt (chat)", "answer", "verdict", "metrics"} <= names
    labels = {(lb["name"], lb["value"]) for r in results for lb in r["labels"]}
    assert ("model", "smollm2:135m") in labels and ("category", "geography") in labels
    assert (allure_dir / "environment.properties").exists()

    for path in [*reports.rglob("*"), *allure_dir.rglob("*")]:
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
