"""Per-market volatility feeding the quote core (the tape intensity is `strategies.quoting.intensity`).

It is updated vectorized from the event stream with explicit event times (ts_ns from the engine's
injected clock), never read the wall clock, and always answer: until a market is warm it returns
the configured fallback, so quoting starts at once and never waits on "calculating volatility"
(Hummingbot #5771). Calls take the slots that have news; each slot at most once per call.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from strategies.quoting.arrays import FloatArray

LN2 = math.log(2.0)


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
