"""Volatility regime switches: a short σ̂ watched against the manager's σ̂.

Volatility clusters: calm hours and stormy ones. An EWMA of half-life h needs a few h to move from
one level to the other (σ̂'s half hour, the fee window's two hours), and until then the rules judge
the new regime at the old one's figures: they keep a narrow range into a storm, and stay out of a
calm pool for hours after one (σ 30 % ↔ 120 %: re-entries 3–6 h into a calm spell). A short EWMA
sees the switch in minutes but is too noisy to judge carry with. So it only votes: once its σ̂ is
`ratio` times the long one's or less than 1/`ratio` of it, the long estimators restart from the new
level (`strategies.lp.measure.PoolMeter`). With `ratio` 1.5 and a five-minute half-life (about
29 returns of 30 s), a constant σ gives a false switch about every other day (the short variance
under 1/2.25 of the long one: P(χ²₂₉ < 12.9) ≈ 0.004 per independent look, one every ~14 min),
which costs a restart of estimates that were right (in the LP benchmark's constant-σ cells,
−1.7 to +0.6 a day against no switch, within one standard error); a 4× switch is seen in 90 s
going up and 8 minutes going down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from strategies.lp.volatility import EwmaVolatility

MIN_SAMPLES = 10.0  # the short σ̂'s effective returns before its vote counts (its error ≤ 22 %)


@dataclass(slots=True)
class VolatilitySwitch:
    """Feeds the short σ̂; tells when it has left the long one's band (`ratio` ≤ 1: never)."""

    short: EwmaVolatility
    ratio: float

    @classmethod
    def of(cls, half_life_s: float, ratio: float) -> VolatilitySwitch:
        return cls(EwmaVolatility(half_life_s, weight=0.0, weight_sq=0.0), ratio)

    @property
    def span_s(self) -> float:
        """The time the short σ̂'s samples cover, as an equally weighted window: 2h/ln 2."""
        return 2.0 * self.short.half_life_s / math.log(2)

    def update(self, price: float, ts_ns: int, long: EwmaVolatility) -> float | None:
        """One price; the short ÷ long variance ratio when it crosses the band (a switch), else None."""
        self.short.update(price, ts_ns)
        if self.ratio <= 1.0 or self.short.effective_samples() < MIN_SAMPLES:
            return None
        if not (long.var_per_s > 0.0 and self.short.var_per_s > 0.0):  # (NaN: no return yet)
            return None  # a price that never moved while the short σ̂ watched: a stale feed, not a calm
        variance_ratio = self.short.var_per_s / long.var_per_s
        band = self.ratio * self.ratio
        return variance_ratio if not 1.0 / band < variance_ratio < band else None
