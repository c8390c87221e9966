"""Per-market roots of a score that falls strictly with log kappa: bracketed Newton.

Both intensity fits (`intensity.TapeIntensity`, `own_fills.OwnFillIntensity`) solve a concave
likelihood's first-order condition in log kappa. Bisection needs ~50 halvings of the kappa
bounds' 11.5 e-folds to reach float resolution; Newton on the same smooth, monotone score gets
there in 3-5 steps from the last fit's root, each costing about two of bisection's. Every step also
narrows the bracket by the score's sign, and a Newton step that would leave the bracket (or is
not finite) bisects instead, so the answer is as robust as bisection's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# log-kappa resolution: 1e-12 relative in kappa, far below the estimates' own error (per cent)
LOG_KAPPA_TOLERANCE = 1e-12


def falling_root(
    score_and_slope: Callable[[FloatArray], tuple[FloatArray, FloatArray]],
    lo: float,
    hi: float,
    start: FloatArray,
    *,
    max_steps: int = 100,
) -> FloatArray:
    """x in [lo, hi] per row where score(x) = 0, for a score strictly falling in x.

    `score_and_slope(x)` gives the score and its derivative in x for every row. The search
    starts at `start` (a row's last root: between two fits it barely moves), where that is
    finite and inside the bracket, else in the middle. A row whose score keeps one sign over the
    whole bracket ends at that end (its root lies beyond); a row with no information (score 0
    everywhere) ends at `lo`.
    """
    low = np.full(start.shape, lo)
    high = np.full(start.shape, hi)
    x = np.where((start > lo) & (start < hi), start, 0.5 * (lo + hi))
    for _ in range(max_steps):
        score, slope = score_and_slope(x)
        rising = score > 0  # the root lies at a larger x
        low = np.where(rising, x, low)
        high = np.where(rising, high, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = score / slope
        nxt = x - step
        # strictly inside (False for NaN: bisect instead), or on the root already (the step is
        # rounding noise and may graze the bracket's end, which is x itself)
        inside = ((nxt > low) & (nxt < high)) | (np.abs(step) <= LOG_KAPPA_TOLERANCE)
        nxt = np.where(inside, nxt, 0.5 * (low + high))
        moved = np.abs(nxt - x)
        x = nxt
        if (moved <= LOG_KAPPA_TOLERANCE).all():
            break
    return x
