"""pass@k and pass^k against hand-computed values."""

from __future__ import annotations

import pytest

from stackeval.coding.passk import pass_at_k, pass_hat_k, suite_pass_at_k, suite_pass_hat_k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),  # pass@1 = c / n
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (4, 0, 2, 0.0),
        (4, 3, 2, 1.0),  # n - c < k: every draw of 2 contains a pass
    ],
)
def test_pass_at_k(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [(10, 3, 1, 0.3), (5, 2, 2, 1 / 10), (5, 4, 3, 4 / 10), (3, 3, 3, 1.0), (3, 2, 3, 0.0)],
)
def test_pass_hat_k(n: int, c: int, k: int, expected: float) -> None:
    assert pass_hat_k(n, c, k) == pytest.approx(expected)


def test_suite_means() -> None:
    samples = {"a": [True, True], "b": [True, False], "c": [False, False]}
    assert suite_pass_at_k(samples, 1) == pytest.approx((1 + 0.5 + 0) / 3)
    assert suite_pass_at_k(samples, 2) == pytest.approx((1 + 1 + 0) / 3)
    assert suite_pass_hat_k(samples, 2) == pytest.approx((1 + 0 + 0) / 3)
    assert suite_pass_at_k(samples, 3) is None  # too few samples to estimate
    assert suite_pass_at_k({}, 1) is None


def test_invalid_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 4)
