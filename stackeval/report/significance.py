"""Statistics that say what they mean: Wilson intervals and paired tests of two models.

- :func:`wilson`: the Wilson score interval of a proportion (Wilson 1927; Newcombe 1998,
  method 3). Unlike "p ± 1.96·se" it never leaves [0, 1] and is honest at 0/n and n/n.
- :func:`mcnemar`: two models on the same items, one graded attempt each. Only the discordant
  items count (A right and B wrong, or the reverse); under "no difference" each is a fair coin.
  The exact conditional p is two-sided binomial; the mid-p (Fagerland, Lydersen & Laake 2013)
  subtracts the probability of the observed count once and is the better-calibrated default.
- :func:`newcombe_paired`: an interval for the gap between two paired proportions from the two
  Wilson intervals and the correlation of the pairs (Newcombe 1998, method 10; the worked
  example of Altman et al., *Statistics with Confidence*, table 6.2).
- :func:`sign_flip`: the same question when items carry scores (repeats or samples averaged per
  item): a paired permutation test that flips the sign of each item's difference. On 0/1 scores
  it is McNemar's exact test.
- :func:`bootstrap_ci`: a percentile interval of a mean (or a paired difference) by resampling
  items, seeded so a report rebuilt from the same records prints the same numbers.
- :func:`holm`: Holm's step-down adjustment when several pairs are tested at once.

Pure functions of counts and score lists; numpy does the resampling.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
PERMUTATIONS = 20000
EXACT_FLIP_LIMIT = 16  # enumerate every sign pattern up to 2**16 items with a difference
SEED = 20240601


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile (1.959964 for 95%)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(passed: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of ``passed / total``; None when nothing was counted."""
    if total <= 0:
        return None
    if not 0 <= passed <= total:
        raise ValueError(f"passed must be within 0..{total}, got {passed}")
    z = z_value(confidence)
    p = passed / total
    centre = p + z * z / (2 * total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    denom = 1 + z * z / total
    lo, hi = (centre - half) / denom, (centre + half) / denom
    # Exact at the edges (rounding would otherwise leave 1e-17 below 0/n's lower bound).
    return (0.0 if passed == 0 else max(0.0, lo)), (1.0 if passed == total else min(1.0, hi))


def _binom_half(n: int, k: int) -> float:
    """P(X = k) for X ~ Binomial(n, 1/2), exact for any n (integer arithmetic)."""
    return math.comb(n, k) / (1 << n)


def mcnemar(a_only: int, b_only: int) -> tuple[float, float]:
    """Two-sided McNemar exact conditional p and mid-p from the two discordant counts."""
    if a_only < 0 or b_only < 0:
        raise ValueError("discordant counts cannot be negative")
    n = a_only + b_only
    if n == 0:
        return 1.0, 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)
    exact = min(1.0, 2 * tail)
    mid = min(1.0, 2 * tail - _binom_half(n, k))
    return exact, mid


def newcombe_paired(both: int, a_only: int, b_only: int, neither: int,
                    confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Interval of p_A - p_B for paired 0/1 outcomes (Newcombe's method 10)."""
    n = both + a_only + b_only + neither
    if n == 0:
        return None
    pa, pb = (both + a_only) / n, (both + b_only) / n
    la, ua = wilson(both + a_only, n, confidence)  # type: ignore[misc]
    lb, ub = wilson(both + b_only, n, confidence)  # type: ignore[misc]
    margins = (both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither)
    cross = both * neither - a_only * b_only
    # Newcombe's continuity-corrected correlation: a positive cross product is shrunk by n/2.
    cc = cross - n / 2 if cross > n / 2 else min(cross, 0)
    phi = cc / math.sqrt(margins) if margins else 0.0
    d = pa - pb
    lo = d - math.sqrt(max(0.0, (pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb)
                           + (ub - pb) ** 2))
    hi = d + math.sqrt(max(0.0, (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa)
                           + (ua - pa) ** 2))
    return max(-1.0, lo), min(1.0, hi)


def sign_flip(diffs: Sequence[float], *, seed: int = SEED,
              permutations: int = PERMUTATIONS) -> tuple[float, bool]:
    """Two-sided paired permutation p of the mean difference, and whether it was exact.

    Each item's difference keeps its size and gets a random sign; p is the share of sign
    patterns whose |sum| reaches the observed |sum| (the observed pattern included)."""
    d = np.asarray([x for x in diffs if x != 0], dtype=float)
    if d.size == 0:
        return 1.0, True
    observed = abs(d.sum()) - 1e-9 * max(1.0, float(np.abs(d).sum()))
    if d.size <= EXACT_FLIP_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(np.abs(signs @ d) >= observed)), True
    rng = np.random.default_rng(seed)
    hits, done, chunk = 0, 0, 2000
    while done < permutations:
        m = min(chunk, permutations - done)
        signs = rng.choice((1.0, -1.0), size=(m, d.size))
        hits += int(np.sum(np.abs(signs @ d) >= observed))
        done += m
    return (hits + 1) / (permutations + 1), False


def bootstrap_ci(values: Sequence[float], *, confidence: float = CONFIDENCE, seed: int = SEED,
                 resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of ``values`` (items resampled)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // x.size)
    for start in range(0, resamples, chunk):
        m = min(chunk, resamples - start)
        means[start:start + m] = x[rng.integers(0, x.size, size=(m, x.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (family-wise error control)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Paired:
    """Two score sets compared on the items both have (A minus B)."""

    a: str
    b: str
    items: int  # items graded for both
    mean_a: float | None  # mean score on the shared items (accuracy when scores are 0/1)
    mean_b: float | None
    a_better: int  # items where A scored higher
    b_better: int
    test: str  # "McNemar" or "sign-flip permutation" (or "" when nothing is shared)
    p_value: float | None  # exact McNemar or permutation p
    p_mid: float | None  # McNemar mid-p (binary items only)
    diff_ci: tuple[float, float] | None  # 95% interval of mean_a - mean_b

    @property
    def diff(self) -> float | None:
        """Mean score of A minus that of B on the shared items."""
        if self.mean_a is None or self.mean_b is None:
            return None
        return self.mean_a - self.mean_b

    @property
    def p(self) -> float | None:
        """The p-value to quote: the mid-p for McNemar, else the permutation p."""
        return self.p_mid if self.p_mid is not None else self.p_value


def paired(a: str, b: str, scores_a: Mapping[str, Sequence[float]],
           scores_b: Mapping[str, Sequence[float]], *, seed: int = SEED) -> Paired:
    """Compare A and B item by item: McNemar with Newcombe's interval when every shared item
    has one 0/1 score per side, else a sign-flip test on per-item mean scores with a bootstrap
    interval of the gap."""
    keys = sorted(k for k in scores_a.keys() & scores_b.keys() if scores_a[k] and scores_b[k])
    if not keys:
        return Paired(a, b, 0, None, None, 0, 0, "", None, None, None)
    xa = [math.fsum(scores_a[k]) / len(scores_a[k]) for k in keys]
    xb = [math.fsum(scores_b[k]) / len(scores_b[k]) for k in keys]
    diffs = [x - y for x, y in zip(xa, xb, strict=True)]
    a_better, b_better = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    single = all(len(scores_a[k]) == len(scores_b[k]) == 1 for k in keys)
    binary = single and all(v in (0.0, 1.0) for v in (*xa, *xb))
    if binary:
        exact, mid = mcnemar(a_better, b_better)
        both = sum(x == y == 1.0 for x, y in zip(xa, xb, strict=True))
        ci = newcombe_paired(both, a_better, b_better, len(keys) - both - a_better - b_better)
        test, p_mid = "McNemar", mid
    else:
        exact, _ = sign_flip(diffs, seed=seed)
        ci = bootstrap_ci(diffs, seed=seed)
        test, p_mid = "sign-flip permutation", None
    return Paired(a, b, len(keys), math.fsum(xa) / len(keys), math.fsum(xb) / len(keys),
                  a_better, b_better, test, exact, p_mid, ci)
