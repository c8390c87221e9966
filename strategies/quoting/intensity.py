"""Fill intensity lambda(delta) = A * exp(-kappa * delta) per market, estimated from the public tape.

Why the tape and not our own fills: our fills only say something about the depths we happened to
quote at (a handful of depths, few events, and the exposure must be credited to live orders, not
targets), which made the old own-fill fit bistable (A = 1.15-12.2 /s on one market across seeds).
Every taker on the tape tells how deep the book was swept from the fair, whoever was hit; a taker
whose worst print is at depth D from the fair would have filled a quote of ours at any depth
<= D. So lambda(delta) is the rate of takers (per side) reaching depth >= delta.

Estimation, identified and stable: each taker (prints of one aggressor side at one exchange
time are one sweep, counted at its deepest print) is binned by depth on `depth_edges_bps` (the last
bin open-ended). For an exponential tail the bin probabilities are e^(-kappa a_j) - e^(-kappa b_j);
the log-likelihood of binned data is concave in kappa, its derivative

    sum_j c_j (w_j / (e^(kappa w_j) - 1) - a_j)          (w_j = b_j - a_j; open bin: -a_j)

falls strictly with kappa, so a bracketed root search on log kappa (`roots.falling_root`) finds the
unique maximum; then A = the taker rate per side at depth 0 = sum_j c_j / (2 T). Counts and the
observed time T decay with `half_life_s`. Each taker weighs min(its size / our quote size, 1): a
small taker only partly fills our quote. Until a market has `min_takers` (decayed, weighted) it
answers the fallbacks.

Prints arrive one at a time (`record_trade`, O(1)); they are kept in a bounded buffer and binned
vectorized at `fit` (or when the buffer fills).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from strategies.quoting.roots import falling_root

FloatArray = npt.NDArray[np.float64]
LN2 = math.log(2.0)
BPS = 1e-4


class TapeIntensity:
    """Per-market (A per second per side, kappa per bps) from public trades at depth from the fair."""

    def __init__(
        self,
        n_markets: int,
        *,
        depth_edges_bps: npt.ArrayLike,
        half_life_s: float,
        min_takers: float,
        fallback_a_per_s: float | npt.ArrayLike,
        fallback_kappa_per_bps: float | npt.ArrayLike,
        kappa_bounds_per_bps: tuple[float, float] = (1e-3, 1e2),
        buffer_size: int = 4096,
    ) -> None:
        edges = np.asarray(depth_edges_bps, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or edges[0] != 0 or not (np.diff(edges) > 0).all():
            raise ValueError("depth_edges_bps: >= 2 strictly increasing depths starting at 0")
        lo, hi = kappa_bounds_per_bps
        if not 0 < lo < hi < math.inf:
            raise ValueError(f"kappa_bounds_per_bps must satisfy 0 < low < high, got {kappa_bounds_per_bps}")
        if not (half_life_s > 0 and min_takers > 0 and buffer_size > 0):
            raise ValueError("half_life_s, min_takers and buffer_size must be > 0")
        n = n_markets
        self.n_markets = n
        self.lower_bps = edges  # bin j is [edges[j], edges[j+1]), the last one [edges[-1], inf)
        self.width_bps = np.append(np.diff(edges), np.inf)
        self.half_life_s = float(half_life_s)
        self.min_takers = float(min_takers)
        self.fallback_a = np.broadcast_to(np.asarray(fallback_a_per_s, dtype=np.float64), (n,)).copy()
        self.fallback_kappa = np.broadcast_to(
            np.asarray(fallback_kappa_per_bps, dtype=np.float64), (n,)
        ).copy()
        self.log_kappa_bounds = (math.log(lo), math.log(hi))
        self.counts = np.zeros((n, edges.size))  # decayed, size-weighted takers per depth bin
        self.observed_s = np.zeros(n)  # decayed seconds of tape watched
        self.since_ns = np.zeros(n, dtype=np.int64)  # 0: not watched yet
        self.quote_size_lots = np.zeros(n)  # our quote size: a taker weighs min(size / this, 1)
        self.a_per_s = self.fallback_a.copy()
        self.kappa_per_bps = self.fallback_kappa.copy()
        self.warm = np.zeros(n, dtype=bool)
        # buffered prints: market row, +1 buy / -1 sell aggressor, exchange time, depth, size
        self._row = np.zeros(buffer_size, dtype=np.intp)
        self._side = np.zeros(buffer_size, dtype=np.int8)
        self._ts = np.zeros(buffer_size, dtype=np.int64)
        self._depth = np.zeros(buffer_size)
        self._size = np.zeros(buffer_size)
        self._used = 0

    def record_trade(
        self, row: int, buy_aggressor: bool, price: float, size_lots: float, fair: float, ts_ns: int
    ) -> None:
        """One public print at `price` while the fair was `fair` (both in price units)."""
        if not (fair > 0 and price > 0):
            return
        if self._used == self._ts.size:
            self._flush(None)
        i = self._used
        sign = 1 if buy_aggressor else -1
        self._row[i] = row
        self._side[i] = sign
        self._ts[i] = ts_ns
        # a print on the wrong side of the fair (the fair moved) is depth 0
        self._depth[i] = max(sign * (price - fair) / fair / BPS, 0.0)
        self._size[i] = size_lots
        self._used = i + 1

    def _flush(self, now_ns: int | None) -> None:
        """Bin the buffered prints as sweeps, each weighted and decayed to `now_ns`.

        now_ns None (the buffer is full between fits): decayed to each market's last fit instead,
        which the next fit's decay then carries to its time, as for every other count.
        """
        k = self._used
        if k == 0:
            return
        row, side, ts = self._row[:k], self._side[:k], self._ts[:k]
        order = np.lexsort((side, ts, row))
        row, side, ts = row[order], side[order], ts[order]
        depth, size = self._depth[:k][order], self._size[:k][order]
        new = np.ones(k, dtype=bool)
        new[1:] = (row[1:] != row[:-1]) | (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
        start = np.flatnonzero(new)
        sweep_row, sweep_ts = row[start], ts[start]
        sweep_depth = np.maximum.reduceat(depth, start)
        sweep_size = np.add.reduceat(size, start)
        quote = self.quote_size_lots[sweep_row]
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(quote > 0, np.minimum(sweep_size / quote, 1.0), 1.0)
        if now_ns is None:
            since = self.since_ns[sweep_row]
            age_s = np.where(since > 0, since - sweep_ts, 0) * 1e-9
        else:
            age_s = np.maximum(now_ns - sweep_ts, 0) * 1e-9
        weight *= np.exp(-LN2 * age_s / self.half_life_s)
        bins = np.searchsorted(self.lower_bps, sweep_depth, side="right") - 1
        np.add.at(self.counts, (sweep_row, bins), weight)
        self._used = 0

    def fit(self, active: npt.NDArray[np.bool_], now_ns: int) -> None:
        """Decay to now_ns, credit the time watched to `active` markets (those with a fair), refit."""
        started = self.since_ns > 0
        dt_s = np.where(started, np.maximum(now_ns - self.since_ns, 0) * 1e-9, 0.0)
        keep = np.exp(-LN2 * dt_s / self.half_life_s)
        self.counts *= keep[:, None]
        # time watched, decayed exactly like a count arriving uniformly over dt
        self.observed_s = keep * self.observed_s + (1.0 - keep) * self.half_life_s / LN2
        self.since_ns = np.where(active, now_ns, 0)
        self._flush(now_ns)
        total = self.counts.sum(axis=1)
        self.warm = (total >= self.min_takers) & (self.observed_s > 0)
        kappa = self._kappa_mle()
        with np.errstate(divide="ignore", invalid="ignore"):
            a = total / (2.0 * self.observed_s)  # takers of both sides: A is per side
        self.kappa_per_bps = np.where(self.warm, kappa, self.fallback_kappa)
        self.a_per_s = np.where(self.warm & np.isfinite(a) & (a > 0), a, self.fallback_a)

    def _kappa_mle(self) -> FloatArray:
        """Root of the binned exponential score in log kappa (`roots.falling_root`), for the
        warm markets (the others answer their fallback; their kappa is the lower bound)."""
        kappa = np.full(self.n_markets, math.exp(self.log_kappa_bounds[0]))
        rows = np.flatnonzero(self.warm)
        if rows.size == 0:
            return kappa
        counts = self.counts[rows]
        lower, width = self.lower_bps, self.width_bps[:-1]  # the last bin is open-ended

        def score_and_slope(log_kappa: FloatArray) -> tuple[FloatArray, FloatArray]:
            k = np.exp(log_kappa)[:, None]
            with np.errstate(over="ignore", divide="ignore"):
                u = np.expm1(k * width)
                tail = np.zeros_like(counts)  # the open bin's term: 0
                np.divide(width, u, out=tail[:, :-1])
                # d tail / d kappa = -tail * width * (1 + 1/u): finite as u -> inf (tail -> 0)
                slope = -(counts[:, :-1] * tail[:, :-1] * (width * (1.0 + 1.0 / u))).sum(axis=1)
            return (counts * (tail - lower)).sum(axis=1), slope * k[:, 0]

        lo, hi = self.log_kappa_bounds
        with np.errstate(divide="ignore"):
            start = np.log(self.kappa_per_bps[rows])
        kappa[rows] = np.exp(falling_root(score_and_slope, lo, hi, start))
        return kappa

    def intensity(self, fair_price: FloatArray, a_out: FloatArray, kappa_out: FloatArray) -> None:
        """Write A (per second) and kappa (per price unit at the current fair) for every market."""
        np.copyto(a_out, self.a_per_s)
        np.divide(self.kappa_per_bps, fair_price * BPS, out=kappa_out)
