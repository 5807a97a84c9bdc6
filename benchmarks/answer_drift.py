"""How many answers and verdicts differ between two Q&A runs of the same models and questions.

    python benchmarks/answer_drift.py reports/runs/<one-at-a-time> reports/runs/<concurrent>

Greedy decoding under batching can change a few answers (other requests share the batch, so
floating-point sums differ). Per model this prints: answers identical, answers that only stop
earlier in the second run (the loop detector cut a prefix of the same text), answers that
differ, and verdicts (pass or not) that changed, with the accuracy of each run.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stackeval import store  # noqa: E402


def index(run: Path) -> dict[tuple, dict]:
    """Records by (model, case, lang, repeat); harness errors left out."""
    return {(r["model"], r["case_id"], r["lang"], r.get("repeat", 0)): r
            for r in store.read_records(run, "qa")
            if r.get("outcome") not in ("infrastructure_error", "context_overflow")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--show", type=int, default=0, help="print N differing answers")
    args = parser.parse_args()
    a, b = index(args.first), index(args.second)
    counts: dict[str, Counter] = defaultdict(Counter)
    shown = 0
    for key in sorted(a.keys() & b.keys()):
        ra, rb = a[key], b[key]
        c = counts[key[0]]
        c["both"] += 1
        ta, tb = ra["answer"].strip(), rb["answer"].strip()
        if ta == tb:
            c["identical"] += 1
        elif ta.startswith(tb) and (rb.get("metrics") or {}).get("stop_reason"):
            c["cut by loop stop"] += 1
        else:
            c["different"] += 1
            if shown < args.show:
                shown += 1
                print(f"--- {key}\n  A: {ta[:160]!r}\n  B: {tb[:160]!r}")
        c["pass A"] += ra["outcome"] == "pass"
        c["pass B"] += rb["outcome"] == "pass"
        c["verdict changed"] += (ra["outcome"] == "pass") != (rb["outcome"] == "pass")
    print(f"{'model':<22}{'both':>6}{'identical':>10}{'loop cut':>9}{'different':>10}"
          f"{'verdict changed':>16}{'acc A':>7}{'acc B':>7}")
    for model, c in counts.items():
        print(f"{model:<22}{c['both']:>6}{c['identical']:>10}{c['cut by loop stop']:>9}"
              f"{c['different']:>10}{c['verdict changed']:>16}"
              f"{c['pass A'] / c['both']:>7.0%}{c['pass B'] / c['both']:>7.0%}")
    missing = (a.keys() ^ b.keys())
    if missing:
        print(f"{len(missing)} answers are in only one of the runs (harness errors or selection)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
