"""Fill intensity lambda(delta) = A * exp(-kappa * delta) from our own quotes' fills, and its blend
into the tape estimate (`intensity.TapeIntensity`) once there are enough of them.

The tape says how deep takers swept; our fills say how often *our* quote at depth delta was
actually filled (queue position and all), which is the quantity the models price. Measured
right, per market:

- exposure: the time our *live* orders rested (acknowledged by the venue, until it confirms the
  cancel or the last fill; never a target's time), sampled once a second from the engine's
  orders, each credited with the interval at its depth from the fair then, into fine depth bins
  keeping both seconds and seconds x depth (the bin's mean depth);
- fills: maker fills only, each weighing its filled lots / the quote size (a partial fill is
  part of a fill), with the sufficient statistics N = sum of weights and D = sum of weight x depth.

Poisson likelihood of fills given exposure: log L = N log A - kappa D - A sum_j E_j e^(-kappa m_j)
(E_j seconds at mean depth m_j). Its maximum in A is A = N / sum_j E_j e^(-kappa m_j); in kappa,
the exposure-weighted mean depth under e^(-kappa m) must equal D / N, and that mean falls strictly
with kappa (its derivative is minus a variance), so a bracketed Newton search on log kappa
finds the unique root.
Everything decays with the tape's half-life, at each fit (every few seconds, against a
half-life of an hour: what arrives between two fits is not decayed inside that interval).

The rule for "enough" (stated, the config's `min_own_fills` / `min_own_depth_spread_bps`): a
market's own estimate is used once its decayed fill weight N >= min_own_fills AND the exposure's
depth spread (standard deviation) >= min_own_depth_spread_bps: quotes always at one depth say
nothing about the slope kappa, however many fills. Then A and kappa are blended geometrically,
log x = w log x_own + (1 - w) log x_tape with w = N / (N + takers on the tape), i.e. each of our
fills counts as much as one taker; a tape not warm yet gives w = 1.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from strategies.quoting.roots import falling_root

FloatArray = npt.NDArray[np.float64]
LN2 = math.log(2.0)
BPS = 1e-4
BIN_BPS = 0.25  # exposure bins: fine enough that e^(-kappa depth) is near linear inside one
MAX_DEPTH_BPS = 60.0  # deeper exposure is pooled in the last bin (at its own mean depth)


class OwnFillIntensity:
    """Per-market (A per second per side, kappa per bps) from our live orders' exposure and fills."""

    def __init__(
        self,
        n_markets: int,
        *,
        half_life_s: float,
        min_fills: float,
        min_depth_spread_bps: float,
        kappa_bounds_per_bps: tuple[float, float] = (1e-3, 1e2),
    ) -> None:
        n = n_markets
        self.n_markets = n
        self.half_life_s = float(half_life_s)
        self.min_fills = float(min_fills)
        self.min_depth_spread_bps = float(min_depth_spread_bps)
        self.log_kappa_bounds = (math.log(kappa_bounds_per_bps[0]), math.log(kappa_bounds_per_bps[1]))
        n_bins = int(MAX_DEPTH_BPS / BIN_BPS) + 1
        self.exposure_s = np.zeros((n, n_bins))  # decayed seconds of live orders per depth bin
        self.exposure_depth = np.zeros((n, n_bins))  # ... times their depth (bps): the bin's mean
        self.fills = np.zeros(n)  # N: decayed fill weight
        self.fill_depth = np.zeros(n)  # D: decayed sum of weight x depth (bps)
        self.a_per_s = np.full(n, np.nan)
        self.kappa_per_bps = np.full(n, np.nan)
        self.enough = np.zeros(n, dtype=bool)
        self._decayed_ns = 0

    # ---- exposure and fills --------------------------------------------------------------------

    def add_exposure(self, rows: npt.ArrayLike, depth_bps: npt.ArrayLike, seconds: float) -> None:
        """`seconds` of one resting order per entry, at `depth_bps` from the fair in market `rows`."""
        rows = np.asarray(rows, dtype=np.intp)
        depth = np.maximum(np.asarray(depth_bps, dtype=np.float64), 0.0)  # through the fair: 0
        keep = np.isfinite(depth)
        rows, depth = rows[keep], depth[keep]
        bins = np.minimum((depth / BIN_BPS).astype(np.intp), self.exposure_s.shape[1] - 1)
        np.add.at(self.exposure_s, (rows, bins), seconds)
        np.add.at(self.exposure_depth, (rows, bins), seconds * depth)

    def add_fill(self, row: int, depth_bps: float, weight: float) -> None:
        """A maker fill of `weight` (filled lots / quote size, at most 1) at `depth_bps`."""
        if not (math.isfinite(depth_bps) and weight > 0):
            return
        weight = min(weight, 1.0)
        self.fills[row] += weight
        self.fill_depth[row] += weight * max(depth_bps, 0.0)

    # ---- the fit -------------------------------------------------------------------------------

    def fit(self, now_ns: int) -> None:
        """Decay to `now_ns`, then (A, kappa) where there are enough fills at spread depths."""
        if self._decayed_ns:
            keep = math.exp(-LN2 * max(now_ns - self._decayed_ns, 0) * 1e-9 / self.half_life_s)
            for arr in (self.exposure_s, self.exposure_depth, self.fills, self.fill_depth):
                arr *= keep
        self._decayed_ns = now_ns
        e = self.exposure_s
        total = e.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(e > 0, self.exposure_depth / e, 0.0)
            mean = (e * m).sum(axis=1) / total
            spread = np.sqrt((e * (m - mean[:, None]) ** 2).sum(axis=1) / total)
            target = self.fill_depth / self.fills
        self.enough = (self.fills >= self.min_fills) & (total > 0) & (spread >= self.min_depth_spread_bps)
        if not self.enough.any():
            return
        rows = np.flatnonzero(self.enough)
        kappa, a = self._mle(e[rows], m[rows], self.fills[rows], target[rows], self.kappa_per_bps[rows])
        self.kappa_per_bps[rows], self.a_per_s[rows] = kappa, a

    def _mle(
        self, e: FloatArray, m: FloatArray, n: FloatArray, target: FloatArray, last_kappa: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """kappa where the e^(-kappa m)-weighted mean exposure depth is `target` (the search
        starts at `last_kappa`, NaN: none yet); then A."""
        m0 = np.where(e > 0, m, np.inf).min(axis=1)  # shift: e^(-kappa (m - m0)) never underflows all
        shifted = np.where(e > 0, m - m0[:, None], 0.0)

        def score_and_slope(log_kappa: FloatArray) -> tuple[FloatArray, FloatArray]:
            k = np.exp(log_kappa)
            w = e * np.exp(-k[:, None] * shifted)
            total = w.sum(axis=1)
            mean = (w * m).sum(axis=1) / total
            # d mean / d kappa = -(the w-weighted variance of the depth)
            variance = (w * (m - mean[:, None]) ** 2).sum(axis=1) / total
            return mean - target, -k * variance

        lo, hi = self.log_kappa_bounds
        kappa = np.exp(falling_root(score_and_slope, lo, hi, np.log(last_kappa)))
        weighted = (e * np.exp(-kappa[:, None] * shifted)).sum(axis=1)
        with np.errstate(over="ignore"):
            a = n * np.exp(kappa * m0) / weighted
        return kappa, a

    def blend(
        self, tape_takers: FloatArray, tape_warm: npt.NDArray[np.bool_], a: FloatArray, kappa: FloatArray
    ) -> FloatArray:
        """Blend into the tape's (a, kappa) in place where enough; returns the own weight w."""
        w = np.zeros(self.n_markets)
        ok = self.enough & np.isfinite(self.a_per_s) & (self.a_per_s > 0)
        takers = np.where(tape_warm, tape_takers, 0.0)
        w[ok] = self.fills[ok] / (self.fills[ok] + takers[ok])
        for out, own in ((a, self.a_per_s), (kappa, self.kappa_per_bps)):
            out[ok] = np.exp(w[ok] * np.log(own[ok]) + (1 - w[ok]) * np.log(out[ok]))
        return w
