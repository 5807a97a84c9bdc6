"""Percentiles, medians and means: the one place summary figures are computed.

Perf summaries, the report and the web-layer table all take their figures from here. A value
that was not recorded (None) is left out before anything is computed, and an empty sample gives
None, never zero.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation (numpy's default); None when empty."""
    # Not statistics.quantiles: it takes only whole-number cut points and rounds differently.
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (the mean of the middle two for an even
    count); None when there are none."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None, summed exactly (``math.fsum``); None when
    there are none."""
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None
