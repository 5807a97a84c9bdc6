"""Re-check a run's stored bash-lab answers with today's checkers, asking no model.

    python benchmarks/recheck_bashlab.py reports/runs/<run id>/coding.jsonl [--sandbox bwrap]

Prints, per answer, the partial credit the run recorded and the one today's checkers give (with
the sub-checks that pass), then the mean per model: what a checker change does to the bash lab's
partial scores, measured on the same scripts.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from stackeval.coding.checkers import check_code
from stackeval.coding.tasks import load_bashlab
from stackeval.sandbox.choose import choose_sandbox


def main() -> None:
    """Re-check every bash-lab record of one coding.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path, help="a run's coding.jsonl")
    parser.add_argument("--sandbox", default="bwrap", help="bwrap (default), docker or auto")
    args = parser.parse_args()
    tasks = {t.id: t for t in load_bashlab()}
    box = choose_sandbox(args.sandbox)
    before: dict[str, list[float]] = defaultdict(list)
    after: dict[str, list[float]] = defaultdict(list)
    for line in args.records.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("suite") != "bashlab":
            continue
        run = check_code(tasks[rec["task_id"]], rec["code"], box)
        old = float(rec.get("run", {}).get("partial", 0.0))
        before[rec["model"]].append(old)
        after[rec["model"]].append(run.partial)
        passing = [name for name, ok in run.checks if ok]
        print(f"{rec['model']:20} {rec['task_id']:18} {rec['lang']}  {old:.3f} -> "
              f"{run.partial:.3f}  {passing}")
    for model, old in before.items():
        new = after[model]
        print(f"{model}: mean partial {100 * sum(old) / len(old):.1f}% -> "
              f"{100 * sum(new) / len(new):.1f}% ({len(new)} answers)")


if __name__ == "__main__":
    main()
