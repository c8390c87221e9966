"""The intensity fits' root search: bracketed Newton on a score falling in log kappa."""

from __future__ import annotations

import math

import numpy as np

from strategies.quoting.roots import falling_root

LO, HI = math.log(1e-3), math.log(1e2)


def _exponential_score(targets: np.ndarray, calls: list[int]):
    """score(x) = e^-x - e^-target per row: falls strictly, root at x = target."""

    def score_and_slope(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return np.exp(-x) - np.exp(-targets), -np.exp(-x)

    return score_and_slope


def test_roots_of_every_row_to_the_tolerance_from_the_middle_and_from_a_near_start() -> None:
    targets = np.array([-6.0, -1.0, 0.0, 0.5, 4.0])
    calls: list[int] = []
    cold = falling_root(_exponential_score(targets, calls), LO, HI, np.full(5, np.nan))
    assert np.abs(cold - targets).max() < 1e-11
    cold_calls = len(calls)
    calls.clear()
    warm = falling_root(_exponential_score(targets, calls), LO, HI, targets + 0.01)
    assert np.abs(warm - targets).max() < 1e-11
    assert len(calls) <= 5 < cold_calls  # a start near the root: a few Newton steps


def test_a_root_beyond_the_bracket_ends_at_that_end_and_no_information_at_the_low_end() -> None:
    targets = np.array([10.0, -10.0])  # beyond HI (score > 0 throughout), beyond LO (< 0)
    x = falling_root(_exponential_score(targets, []), LO, HI, np.zeros(2))
    assert abs(x[0] - HI) < 1e-11 and abs(x[1] - LO) < 1e-11

    def flat(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros_like(x), np.zeros_like(x)  # no takers yet: the score is 0 everywhere

    assert abs(falling_root(flat, LO, HI, np.zeros(1))[0] - LO) < 1e-11


def test_a_newton_step_that_would_leave_the_bracket_bisects_instead() -> None:
    # score = atan(target - x): Newton from far away overshoots wildly; the bracket holds it
    target = np.array([3.0])

    def atan_score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = target - x
        return np.arctan(d), -1.0 / (1.0 + d * d)

    x = falling_root(atan_score, LO, HI, np.array([LO + 0.1]))
    assert abs(x[0] - 3.0) < 1e-11
