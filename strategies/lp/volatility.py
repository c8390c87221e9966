"""The LP manager's σ̂: an EWMA of squared log returns, time-aware (rounds come at irregular times)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from amm.attribution import SECONDS_PER_YEAR


@dataclass(slots=True)
class EwmaVolatility:
    """Exponentially weighted variance of log returns per second, time-aware (irregular samples)."""

    half_life_s: float
    var_per_s: float = math.nan  # start from a prior with `from_sigma`
    samples: int = 0
    last_price: float = math.nan
    last_ts_ns: int = 0

    @classmethod
    def from_sigma(cls, half_life_s: float, sigma_annual: float) -> EwmaVolatility:
        """Starts at a prior σ, so the first few returns nudge it instead of replacing it."""
        return cls(half_life_s, sigma_annual**2 / SECONDS_PER_YEAR)

    def update(self, price: float, ts_ns: int) -> None:
        if not (math.isfinite(price) and price > 0):
            return
        if math.isnan(self.last_price):
            self.last_price, self.last_ts_ns = price, ts_ns
            return
        dt_s = (ts_ns - self.last_ts_ns) / 1e9
        if dt_s <= 0:
            return
        sample = math.log(price / self.last_price) ** 2 / dt_s
        alpha = 1.0 - math.exp(-dt_s * math.log(2) / self.half_life_s)
        self.var_per_s = (
            sample if math.isnan(self.var_per_s) else self.var_per_s + alpha * (sample - self.var_per_s)
        )
        self.samples += 1
        self.last_price, self.last_ts_ns = price, ts_ns

    def sigma_annual(self, fallback: float) -> float:
        """σ̂ per √year, or `fallback` until a first return was seen."""
        if math.isnan(self.var_per_s):
            return fallback
        return math.sqrt(self.var_per_s * SECONDS_PER_YEAR)
