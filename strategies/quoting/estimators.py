"""Per-market estimators feeding the quote core: volatility and our own fill intensity.

Both are updated vectorized from the event stream with explicit event times (ts_ns from the engine's
injected clock), never read the wall clock, and always answer: until a market is warm they return
the configured fallback, so quoting starts at once and never waits on "calculating volatility"
(Hummingbot #5771). Calls take the slots that have news; each slot at most once per call.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from strategies.quoting.arrays import FloatArray, IntArray

LN2 = math.log(2.0)
BPS = 1e-4


def _per_market(name: str, value: float | npt.ArrayLike, n: int, *, positive: bool = True) -> FloatArray:
    arr = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)))
    ok = np.isfinite(arr) & ((arr > 0) if positive else (arr >= 0))
    if not ok.all():
        slot = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"{name}[{slot}] = {arr[slot]!r}: must be finite and {'>' if positive else '>='} 0")
    return arr


def _slots(slots: npt.ArrayLike, n: int) -> npt.NDArray[np.intp]:
    idx = np.atleast_1d(np.asarray(slots, dtype=np.intp))
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"slots must lie in [0, {n}), got {idx.min()}..{idx.max()}")
    if idx.size > 1 and np.unique(idx).size != idx.size:
        raise ValueError("slots must be unique within one update call")
    return idx


class VolatilityEstimator:
    """EWMA volatility per market in price units per sqrt(second), robust to irregular event times.

    Each sample is a log return r over the time dt since the previous sample; r**2 / dt estimates the
    variance rate whatever dt is, so irregular spacing needs no resampling. The rate is averaged
    with weight 1 - exp(-ln2 * min(dt, half_life) / half_life) (time-based decay; one return after
    a long gap counts at most as much as half a half-life), bias-corrected by the total weight.
    Events closer than `min_interval_s` to the last sample only move the last price (bursts,
    equal timestamps and out-of-order events cannot produce a zero-dt sample); the next sample then
    spans the whole move. Output: sqrt(rate) * last price.

    Warm once a market has `min_samples` samples spanning `warmup_s`; before that `volatility`
    returns `fallback_log_vol_per_sqrt_s * last price` (e.g. 50 %/year is 0.5 / sqrt(31_536_000)
    = 8.9e-5 per sqrt(s)). A constant price warms up normally and gives 0.
    """

    def __init__(
        self,
        n_markets: int,
        *,
        half_life_s: float | npt.ArrayLike,
        fallback_log_vol_per_sqrt_s: float | npt.ArrayLike,
        min_interval_s: float | npt.ArrayLike = 1.0,
        warmup_s: float | npt.ArrayLike | None = None,
        min_samples: int = 10,
    ) -> None:
        n = n_markets
        self.n_markets = n
        self.half_life_s = _per_market("half_life_s", half_life_s, n)
        self.fallback = _per_market(
            "fallback_log_vol_per_sqrt_s", fallback_log_vol_per_sqrt_s, n, positive=False
        )
        self.min_interval_ns = (_per_market("min_interval_s", min_interval_s, n) * 1e9).astype(np.int64)
        self.warmup_s = _per_market(
            "warmup_s", self.half_life_s if warmup_s is None else warmup_s, n, positive=False
        )
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {min_samples}")
        self.min_samples = min_samples
        self.last_price = np.full(n, np.nan)
        self.anchor_price = np.full(n, np.nan)
        self.anchor_ns = np.zeros(n, dtype=np.int64)
        self.variance_rate = np.zeros(n)  # log-return variance per second, weight-scaled
        self.weight = np.zeros(n)
        self.samples = np.zeros(n, dtype=np.int64)
        self.covered_s = np.zeros(n)

    def update(self, slots: npt.ArrayLike, prices: npt.ArrayLike, ts_ns: int | npt.ArrayLike) -> None:
        """New prices (mid or fair) for `slots` at `ts_ns`; non-finite or non-positive prices are ignored."""
        idx = _slots(slots, self.n_markets)
        price = np.broadcast_to(np.asarray(prices, dtype=np.float64), idx.shape)
        ts = np.broadcast_to(np.asarray(ts_ns, dtype=np.int64), idx.shape)
        good = np.isfinite(price) & (price > 0)
        idx, price, ts = idx[good], price[good], ts[good]
        self.last_price[idx] = price
        anchor = self.anchor_price[idx]
        first = np.isnan(anchor)
        self.anchor_price[idx[first]] = price[first]
        self.anchor_ns[idx[first]] = ts[first]
        dt_ns = ts - self.anchor_ns[idx]
        take = ~first & (dt_ns >= self.min_interval_ns[idx])
        idx, price, anchor, dt_s = idx[take], price[take], anchor[take], dt_ns[take] * 1e-9
        half_life = self.half_life_s[idx]
        keep = np.exp(-LN2 * np.minimum(dt_s, half_life) / half_life)
        log_return = np.log(price / anchor)
        self.variance_rate[idx] = keep * self.variance_rate[idx] + (1.0 - keep) * (log_return**2 / dt_s)
        self.weight[idx] = keep * self.weight[idx] + (1.0 - keep)
        self.samples[idx] += 1
        self.covered_s[idx] += dt_s
        self.anchor_price[idx] = price
        self.anchor_ns[idx] = ts[take]

    @property
    def warm(self) -> npt.NDArray[np.bool_]:
        return (self.samples >= self.min_samples) & (self.covered_s >= self.warmup_s)

    def volatility(self, out: FloatArray | None = None, price: FloatArray | None = None) -> FloatArray:
        """sigma per market in price units per sqrt(second) at `price` (default: the last price
        sampled; NaN until a first price arrives). Sampled on a clock, the current fair is the
        right scale: the last sample can be a second old, and missing before the first tick."""
        out = np.empty(self.n_markets) if out is None else out
        warm = self.warm
        np.copyto(out, self.fallback)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.sqrt(self.variance_rate / self.weight, out=out, where=warm)
        out *= self.last_price if price is None else price
        return out


class IntensityEstimator:
    """Our own fill intensity lambda(delta) = A * exp(-kappa * delta) per market, by Poisson MLE.

    Exposure: the seconds each of our quote levels rested at a depth delta (bps from fair), binned
    on `depth_edges_bps`; fills: our fills per depth bin. With N_j fills over E_j seconds at bin
    depth d_j, the maximum-likelihood kappa solves

        sum_j N_j d_j / sum_j N_j  =  sum_j E_j d_j e^(-kappa d_j) / sum_j E_j e^(-kappa d_j)

    (mean fill depth = exposure-weighted mean depth tilted by kappa; the right side falls as kappa
    grows, so bisection on log kappa within `kappa_bounds_per_bps` is safe), then
    A = sum_j N_j / sum_j E_j e^(-kappa d_j). Counts and exposure decay with `half_life_s`.

    Warm once the decayed fill count reaches `min_fills` and exposure covers two or more bins;
    otherwise `intensity` returns the fallbacks. Fill depths deeper on average than our exposure
    clamp kappa to its lower bound instead of dividing by zero.
    """

    def __init__(
        self,
        n_markets: int,
        *,
        quotes_per_market: int,
        depth_edges_bps: npt.ArrayLike,
        half_life_s: float,
        min_fills: float,
        fallback_a_per_s: float | npt.ArrayLike,
        fallback_kappa_per_bps: float | npt.ArrayLike,
        kappa_bounds_per_bps: tuple[float, float] = (1e-4, 1e3),
        bisection_steps: int = 60,
    ) -> None:
        edges = np.asarray(depth_edges_bps, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 3 or not (np.diff(edges) > 0).all() or edges[0] < 0:
            raise ValueError("depth_edges_bps must be >= 3 increasing non-negative depths (two or more bins)")
        lo, hi = kappa_bounds_per_bps
        if not 0 < lo < hi < math.inf:
            raise ValueError(f"kappa_bounds_per_bps must satisfy 0 < low < high, got {kappa_bounds_per_bps}")
        if not (half_life_s > 0 and min_fills > 0):
            raise ValueError("half_life_s and min_fills must be > 0")
        if quotes_per_market < 1:
            raise ValueError(f"quotes_per_market must be >= 1, got {quotes_per_market}")
        n = n_markets
        self.n_markets = n
        self.edges = edges
        self.centers = 0.5 * (edges[:-1] + edges[1:])
        self.half_life_s = float(half_life_s)
        self.min_fills = float(min_fills)
        self.fallback_a = _per_market("fallback_a_per_s", fallback_a_per_s, n)
        self.fallback_kappa = _per_market("fallback_kappa_per_bps", fallback_kappa_per_bps, n)
        self.log_kappa_bounds = (math.log(lo), math.log(hi))
        self.bisection_steps = bisection_steps
        n_bins = self.centers.size
        self.exposure_s = np.zeros((n, n_bins))
        self.fills = np.zeros((n, n_bins))
        self.live_bins = np.full((n, quotes_per_market), -1, dtype=np.intp)
        self.since_ns = np.zeros(n, dtype=np.int64)
        self.fitted_a = self.fallback_a.copy()
        self.fitted_kappa = self.fallback_kappa.copy()
        self.warm = np.zeros(n, dtype=bool)

    def _bins(self, depth_bps: FloatArray) -> npt.NDArray[np.intp]:
        """Bin per depth; -1 for NaN (no quote) or outside the edges."""
        b = np.searchsorted(self.edges, depth_bps, side="right") - 1
        b[~(depth_bps >= self.edges[0]) | (depth_bps >= self.edges[-1])] = -1
        return b

    def _accrue(self, idx: npt.NDArray[np.intp], ts: IntArray) -> None:
        """Decay the slots' history to ts, then credit the elapsed time to their resting depths."""
        dt_s = np.maximum(ts - self.since_ns[idx], 0) * 1e-9
        keep = np.exp(-LN2 * dt_s / self.half_life_s)[:, None]
        self.exposure_s[idx] *= keep
        self.fills[idx] *= keep
        bins = self.live_bins[idx]
        rows = np.broadcast_to(idx[:, None], bins.shape)
        live = bins >= 0
        np.add.at(self.exposure_s, (rows[live], bins[live]), np.broadcast_to(dt_s[:, None], bins.shape)[live])
        self.since_ns[idx] = np.maximum(self.since_ns[idx], ts)

    def set_quotes(self, slots: npt.ArrayLike, depth_bps: npt.ArrayLike, ts_ns: int | npt.ArrayLike) -> None:
        """Our quotes for `slots` rest at `depth_bps` from ts_ns on.

        depth_bps: shape (len(slots), quotes_per_market), bids and asks alike, NaN for no quote.
        Time before a slot's first call counts as no quote.
        """
        idx = _slots(slots, self.n_markets)
        depth = np.asarray(depth_bps, dtype=np.float64)
        expected = (idx.size, self.live_bins.shape[1])
        if depth.shape != expected:
            raise ValueError(
                f"depth_bps has shape {depth.shape}, expected {expected} (slots, quotes_per_market)"
            )
        ts = np.broadcast_to(np.asarray(ts_ns, dtype=np.int64), idx.shape)
        self._accrue(idx, ts)
        self.live_bins[idx] = self._bins(depth)

    def record_fills(
        self, slots: npt.ArrayLike, depth_bps: npt.ArrayLike, ts_ns: int | npt.ArrayLike
    ) -> None:
        """Our fills: one entry per fill (a slot may repeat), at depth_bps from fair when it rested."""
        idx = np.atleast_1d(np.asarray(slots, dtype=np.intp))
        depth = np.broadcast_to(np.asarray(depth_bps, dtype=np.float64), idx.shape)
        ts = np.broadcast_to(np.asarray(ts_ns, dtype=np.int64), idx.shape)
        unique, first = np.unique(idx, return_index=True)
        self._accrue(unique, ts[first])
        bins = self._bins(np.array(depth))
        ok = bins >= 0
        np.add.at(self.fills, (idx[ok], bins[ok]), 1.0)

    def fit(self, ts_ns: int) -> None:
        """Accrue every market to ts_ns and refit (A, kappa); cheap enough to run every few seconds."""
        self._accrue(np.arange(self.n_markets, dtype=np.intp), np.full(self.n_markets, ts_ns, dtype=np.int64))
        e, f, d = self.exposure_s, self.fills, self.centers
        total_fills = f.sum(axis=1)
        exposed_bins = (e > 0).sum(axis=1)
        self.warm = (total_fills >= self.min_fills) & (exposed_bins >= 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_fill_depth = (f @ d) / total_fills
            log_e = np.log(e)  # -inf where no exposure
            lo = np.full(self.n_markets, self.log_kappa_bounds[0])
            hi = np.full(self.n_markets, self.log_kappa_bounds[1])
            for _ in range(self.bisection_steps):
                mid = 0.5 * (lo + hi)
                too_small = self._tilted_mean_depth(log_e, np.exp(mid)) > mean_fill_depth
                lo = np.where(too_small, mid, lo)
                hi = np.where(too_small, hi, mid)
            kappa = np.exp(0.5 * (lo + hi))
            a = total_fills / (e * np.exp(-kappa[:, None] * d)).sum(axis=1)
        self.fitted_kappa = np.where(self.warm, kappa, self.fallback_kappa)
        self.fitted_a = np.where(self.warm & np.isfinite(a) & (a > 0), a, self.fallback_a)

    def _tilted_mean_depth(self, log_e: FloatArray, kappa: FloatArray) -> FloatArray:
        w = log_e - kappa[:, None] * self.centers
        w = np.exp(w - w.max(axis=1, keepdims=True))
        return (w @ self.centers) / w.sum(axis=1)

    def intensity(self, fair_price: FloatArray, a_out: FloatArray, kappa_out: FloatArray) -> None:
        """Write A (per second) and kappa (per price unit at the current fair) for every market."""
        np.copyto(a_out, self.fitted_a)
        np.divide(self.fitted_kappa, fair_price * BPS, out=kappa_out)
