"""The standard error of the entry gate's carry, fees − LVR, measured from the pool's own record.

The gate judges fees − LVR per unit of liquidity, the fee window's fee rate less σ̂²·√P/4, and
waits until it clears zero by `entry_carry_errors` of its standard errors. Taking the fee rate's
error from each round's flow as an independent sample, and σ̂'s from the Gaussian count, missed
two things (LP benchmark, 32 paths a cell, 6 h watched; the spread across paths of the estimate
against the error claimed, as fractions of the fee rate):
- the fee flow comes in runs: an arbitrage that brings a 0.3 % pool back into its band leaves it
  at the edge, where the next noise swaps and arbitrages follow; the rounds' flows are not
  independent, and the error from them read low (0.131 claimed against 0.164 across paths at
  σ 30 %, 0.095 against 0.125 at 120 %);
- in a volatile pool most of the fees are the arbitrageurs', paid as the price moves: a window
  that saw large moves read more fees and more LVR alike, so their errors partly cancel
  (correlation 0.25 at σ 60 % on a 0.05 % pool, 0.52 at 120 %), and the independent sum read
  high (0.081 claimed against 0.070 across paths at 60 %).
So the error is taken from batch means: the fee flow and the fair's variance rate over
`BATCH_S` spans, their co-moments weighted across batches as the fee window weighs its samples
(its half-life), and the error of the difference from them: Var(f̄)/L² + k²·Var(v̄) − 2k·Cov/L.
Until `MIN_EFFECTIVE_BATCHES` there is none (NaN), and the gate falls back to the rounds' errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from strategies.lp.volatility import effective_count, ewma_decay, ewma_step

# Long against the runs between rounds (an arbitrage and the swaps after it, minutes), short
# enough that a 2 h fee window holds tens of them.
BATCH_S = 600.0
MIN_EFFECTIVE_BATCHES = 12.0  # the error of an error from n batches is about 1/√(2n): 20 % here


@dataclass(slots=True)
class FlowVarianceMoments:
    """Time-aware EWMA co-moments of (fee flow token1/s, fair variance per second) samples."""

    half_life_s: float
    weight: float = 0.0
    weight_sq: float = 0.0
    mean_flow: float = 0.0
    mean_var: float = 0.0
    flow_sq: float = 0.0
    var_sq: float = 0.0
    cross: float = 0.0

    def add(self, flow_token1_per_s: float, var_per_s: float, span_s: float) -> None:
        step = ewma_step(self.weight, self.weight_sq, span_s, self.half_life_s)
        self.weight, self.weight_sq = step.weight, step.weight_sq

        def moved(mean: float, sample: float) -> float:
            return (mean * step.kept + step.fresh * sample) / step.weight

        flow, var = flow_token1_per_s, var_per_s
        self.mean_flow, self.mean_var = moved(self.mean_flow, flow), moved(self.mean_var, var)
        self.flow_sq, self.var_sq = moved(self.flow_sq, flow * flow), moved(self.var_sq, var * var)
        self.cross = moved(self.cross, flow * var)

    def decay_by(self, gap_s: float) -> None:
        """Age the weights over a gap without samples (a resume), as the EWMA would have."""
        d = ewma_decay(gap_s, self.half_life_s)
        self.weight, self.weight_sq = self.weight * d, self.weight_sq * d * d

    def effective_samples(self) -> float:
        return effective_count(self.weight, self.weight_sq)

    def mean_covariance(self) -> tuple[float, float, float] | None:
        """(Var(f̄), Var(v̄), Cov(f̄, v̄)) of the weighted means: the samples' (unbiased for n
        effective samples) over n; None below `MIN_EFFECTIVE_BATCHES`."""
        n = self.effective_samples()
        if n < MIN_EFFECTIVE_BATCHES:
            return None
        scale = 1.0 / (n - 1.0)  # (· n/(n − 1)) / n
        return (
            max(self.flow_sq - self.mean_flow**2, 0.0) * scale,
            max(self.var_sq - self.mean_var**2, 0.0) * scale,
            (self.cross - self.mean_flow * self.mean_var) * scale,
        )

    def correlation(self) -> float:
        """ρ̂ of the fee flow with the variance (0 while unknown or without spread)."""
        moments = self.mean_covariance()
        if moments is None or not (moments[0] > 0.0 and moments[1] > 0.0):
            return 0.0
        return min(max(moments[2] / math.sqrt(moments[0] * moments[1]), -1.0), 1.0)


@dataclass(slots=True)
class CarryBatches:
    """Rounds' fee flows and fair returns gathered into `BATCH_S` batches, their means into
    `moments`; the round in progress is dropped by a restart or a resume."""

    moments: FlowVarianceMoments
    batch_s: float = BATCH_S
    fees_token1: float = 0.0
    squared_returns: float = 0.0
    span_s: float = 0.0

    @classmethod
    def of(cls, half_life_s: float) -> CarryBatches:
        return cls(FlowVarianceMoments(half_life_s))

    def add(self, flow_token1_per_s: float, log_return: float, dt_s: float) -> None:
        """One round's interval: the pool's fee flow over it and the fair's log return across it."""
        if not (dt_s > 0.0 and math.isfinite(flow_token1_per_s) and math.isfinite(log_return)):
            return
        self.fees_token1 += flow_token1_per_s * dt_s
        self.squared_returns += log_return * log_return
        self.span_s += dt_s
        if self.span_s >= self.batch_s:
            span = self.span_s
            self.moments.add(self.fees_token1 / span, self.squared_returns / span, span)
            self.fees_token1 = self.squared_returns = self.span_s = 0.0

    def carry_error_per_l(self, active_liquidity: float, price: float) -> float:
        """The standard error of fee rate − LVR per unit of liquidity per second (token1), the
        fee rate being the flow over `active_liquidity` and LVR σ²·√P/4 per unit; NaN until
        known."""
        moments = self.moments.mean_covariance()
        if moments is None or not (active_liquidity > 0.0 and price > 0.0):
            return math.nan
        var_flow, var_var, cov = moments
        f, k = 1.0 / active_liquidity, math.sqrt(price) / 4.0
        return math.sqrt(max(f * f * var_flow + k * k * var_var - 2.0 * f * k * cov, 0.0))
