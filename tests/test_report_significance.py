"""Wilson intervals and paired tests against published values, and their place in the report.

Reference values:
- Wilson score intervals: Newcombe (1998), "Two-sided confidence intervals for the single
  proportion", Statistics in Medicine 17:857-872, table II, method 3.
- McNemar exact conditional p 0.070 and mid-p 0.039: Fagerland, Lydersen & Laake (2013), BMC
  Medical Research Methodology 13:91, the airway hyper-responsiveness example (Bentur et al.
  2009: 1 / 1 / 7 / 12 pairs).
- Newcombe's interval for paired proportions: Altman et al., *Statistics with Confidence*
  (2nd ed.), table 6.2 (14 / 5 / 0 / 22 pairs: 0.0115 to 0.2265).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from stackeval.report import build_comparison, build_report
from stackeval.report.significance import (
    bootstrap_ci,
    holm,
    mcnemar,
    newcombe_paired,
    paired,
    sign_flip,
    wilson,
    z_value,
)
from stackeval.report.stats import coding_stats, item_scores, qa_stats

RECORDED_RUN = Path(__file__).parent / "transcripts" / "report-run"


@pytest.mark.parametrize(("passed", "total", "lo", "hi"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe_1998(passed, total, lo, hi):
    got = wilson(passed, total)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_edges_and_symmetry():
    assert z_value() == pytest.approx(1.959964, abs=1e-6)
    assert wilson(0, 0) is None
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    lo, hi = wilson(3, 10)
    assert wilson(7, 10) == pytest.approx((1 - hi, 1 - lo))
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_mcnemar_matches_fagerland_2013():
    exact, mid = mcnemar(1, 7)
    assert round(exact, 3) == 0.070 and round(mid, 3) == 0.039
    assert mcnemar(7, 1) == (exact, mid)
    assert mcnemar(0, 0) == (1.0, 1.0) and mcnemar(4, 4)[0] == 1.0
    # Large counts stay exact: 60 vs 40 discordant pairs, p = 2 P(X <= 40 | n=100, 1/2).
    assert mcnemar(60, 40)[0] == pytest.approx(0.056887, abs=1e-6)


def test_newcombe_paired_interval_matches_altman_and_fagerland():
    assert newcombe_paired(14, 5, 0, 22) == pytest.approx((0.0115, 0.2265), abs=5e-5)
    assert newcombe_paired(1, 1, 7, 12) == pytest.approx((-0.507, -0.026), abs=5e-4)


def test_sign_flip_on_zero_one_scores_is_mcnemars_exact_test():
    diffs = [1.0] * 7 + [-1.0] + [0.0] * 13
    p, exact = sign_flip(diffs)
    assert exact and p == pytest.approx(mcnemar(7, 1)[0])
    # Past the enumeration limit the Monte Carlo p is within its sampling error (n=20000).
    many = [1.0] * 25 + [-1.0] * 12
    p, exact = sign_flip(many)
    want = mcnemar(25, 12)[0]
    assert not exact and abs(p - want) < 4 * (want * (1 - want) / 20000) ** 0.5
    assert sign_flip([0.0, 0.0]) == (1.0, True)


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == []


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    rng = random.Random(5)
    values = [rng.random() < 0.3 for _ in range(400)]
    lo, hi = bootstrap_ci(values)
    assert bootstrap_ci(values) == (lo, hi)  # the same records print the same numbers
    mean = sum(values) / len(values)
    assert lo < mean < hi and hi - lo == pytest.approx(2 * 1.96 * (mean * (1 - mean) / 400) ** 0.5,
                                                       rel=0.15)
    assert bootstrap_ci([0.5, 0.5]) == (0.5, 0.5) and bootstrap_ci([]) is None


def test_paired_uses_mcnemar_for_single_attempts_and_permutation_for_repeats():
    a = {f"q{i}": [1.0] for i in range(10)} | {"only-a": [1.0]}
    b = {f"q{i}": [1.0 if i < 3 else 0.0] for i in range(10)}
    pair = paired("A", "B", a, b)
    assert (pair.items, pair.a_better, pair.b_better, pair.test) == (10, 7, 0, "McNemar")
    assert pair.diff == pytest.approx(0.7) and pair.p == pytest.approx(mcnemar(7, 0)[1])
    assert pair.diff_ci[0] > 0
    repeated = paired("A", "B", {k: [1.0, 0.0] for k in b}, {k: [0.0, 0.0] for k in b})
    assert repeated.test == "sign-flip permutation" and repeated.p_mid is None
    assert repeated.p == pytest.approx(2 / 2 ** 10)  # all ten items favour A: 2 of 1024 patterns
    assert paired("A", "B", a, {}).items == 0


def test_rates_carry_wilson_intervals_and_pass_at_1_too():
    records = [{"model": "m", "case_id": f"q{i}", "lang": "en", "category": "logic",
                "outcome": "pass" if i < 3 else "wrong_answer"} for i in range(10)]
    records.append({"model": "m", "case_id": "x", "lang": "en", "category": "logic",
                    "outcome": "infrastructure_error"})
    stats = qa_stats(records)["m"]
    assert stats.overall.interval == wilson(3, 10)
    assert item_scores("qa", records)["m"]["q0-en"] == [1.0]
    assert "x-en" not in item_scores("qa", records)["m"]
    coding = [{"model": "m", "task_id": f"t{i}", "passed": i < 4} for i in range(8)]
    assert coding_stats(coding)["m"].pass_at_ci[1] == wilson(4, 8)
    three = [{"model": "m", "task_id": f"t{i}", "sample": s, "passed": (i + s) % 3 == 0}
             for i in range(8) for s in range(3)]
    ci = coding_stats(three)["m"].pass_at_ci
    assert set(ci) == {1, 3} and ci[1][0] <= coding_stats(three)["m"].pass_at[1] <= ci[1][1]


def test_report_prints_intervals_and_the_paired_comparisons(tmp_path):
    files = build_comparison(RECORDED_RUN, tmp_path, None)
    md = files.markdown.read_text(encoding="utf-8")
    stats = files.report.qa["smollm2:135m"].overall
    lo, hi = stats.interval
    assert f"| {100 * stats.value:.0f}% ({stats.passed}/{stats.total}; {100 * lo:.0f}–" \
           f"{100 * hi:.0f}%) |" in md
    assert "## 5. Model comparisons" in md and "McNemar (mid-p)" in md
    pairs = files.report.paired["qa"]
    assert len(pairs) == 3 and all(p.items == 20 for p in pairs)
    assert any(" vs " in line and "shared items" in line for line in files.findings)


def test_report_uses_the_permutation_test_with_repeats(tmp_path):
    run = Path(shutil.copytree(RECORDED_RUN, tmp_path / "run"))
    lines = (run / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    again = [json.dumps(json.loads(line) | {"repeat": 1}) for line in lines]
    (run / "qa.jsonl").write_text("\n".join(lines + again) + "\n", encoding="utf-8")
    pairs = build_report(run).paired["qa"]
    assert all(p.test == "sign-flip permutation" and p.items == 20 for p in pairs)
