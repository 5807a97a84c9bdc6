"""A fixed, seeded HumanEval sample stratified by difficulty, for runs that cannot afford 164.

The first N problems are easier than average (the first 20 give the 0.5B model 80 % against
61.6 % published on all 164), so a subset is drawn from every quartile of solution length, the
best difficulty proxy the data carries, with a fixed seed so every run asks the same problems.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from stackeval.coding.tasks import CodingTask

STRATA = 4


def solution_lines(task: CodingTask) -> int:
    """Lines of the reference solution beyond the prompt stub."""
    body = task.reference.removeprefix(task.stub)
    return sum(1 for line in body.splitlines() if line.strip())


def stratified_sample(tasks: Sequence[CodingTask], n: int, seed: int = 2021) -> list[CodingTask]:
    """``n`` tasks, drawn evenly from quartiles of solution length, in their original order."""
    if n <= 0 or n >= len(tasks):
        return list(tasks)
    ranked = sorted(tasks, key=lambda t: (solution_lines(t), t.id))
    size, rest = divmod(len(ranked), STRATA)
    strata, start = [], 0
    for i in range(STRATA):
        end = start + size + (1 if i < rest else 0)
        strata.append(ranked[start:end])
        start = end
    rng = random.Random(seed)
    per, extra = divmod(n, STRATA)
    picked: set[str] = set()
    for i, stratum in enumerate(strata):
        picked.update(t.id for t in rng.sample(stratum, per + (1 if i < extra else 0)))
    return [t for t in tasks if t.id in picked]
