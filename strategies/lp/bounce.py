"""Bid-ask bounce in a venue's candle closes, measured so σ̂ seeded from them can leave it out.

A close is the minute's last trade, at the bid or at the ask: the efficient price plus a noise u of
variance η² (a half spread c gives η² ≈ c²). Close-to-close log returns r = e + u_t − u_{t−1} then
have E[r²] = σ²Δ + 2η² and a first-order autocovariance E[r_t·r_{t−1}] = −η² (Roll, 1984): the
noise shows as returns that reverse. σ² from squared closes is biased by 2η²/Δ, which outweighs
the move where spreads are wide against σ√Δ: six hours of the default paper run's one-minute
closes read σ̂ 1.07 on its σ 0.8 ETH market and 0.72 on a σ 0.6 one (random closes across a 10 bp
spread at σ 60 %: 0.78); on a stable pair (a 2 bp spread, σ 2 %) they are nearly all bounce. The
mids the live rounds read have none.

The noise is taken as found only where the autocovariance is significantly negative (beyond
`SIGNIFICANCE` standard errors), so bounce-free closes keep their σ̂ unchanged but for about one
history in 700 (a one-sided 3-SE test; at 2 SE one in forty, and σ̂'s error over bounce-free
histories grew by up to an eighth, `benchmarks/lp/seeded_sigma.py`), while a bounce that matters
is far beyond it (σ 60 % across a 10 bp spread: 4 SE over six hours of minutes, 7 SE at σ 30 %).
Pure arithmetic on a column of prices, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.clock import NS_PER_S

SIGNIFICANCE = 3.0  # standard errors of the lag-1 autocovariance below zero before it counts
MIN_RETURNS = 30  # fewer returns say too little of their autocovariance (half an hour of minutes)


@dataclass(frozen=True, slots=True)
class Bounce:
    """What the closes' returns hold of bid-ask bounce."""

    noise_var: float  # η̂², squared log price per close (0: none found)
    share: float  # 2η̂² over the mean squared return: the part of σ̂² from closes that is bounce

    @property
    def found(self) -> bool:
        return self.noise_var > 0.0


NO_BOUNCE = Bounce(0.0, 0.0)


def bounce_of(prices: Sequence[float]) -> Bounce:
    """The bounce in closes `prices` (positive, oldest first): η̂² = −the lag-1 autocovariance of
    their log returns where it is significantly negative (its standard error from the products
    themselves, so robust to a σ that changes over the span), else none."""
    returns = np.diff(np.log(np.asarray(prices, dtype=np.float64)))
    if len(returns) < MIN_RETURNS:
        return NO_BOUNCE
    products = returns[1:] * returns[:-1]
    autocov = float(products.mean())
    error = float(np.sqrt((products * products).mean() / (len(products) - 1)))
    mean_square = float((returns * returns).mean())
    if not (mean_square > 0.0 and autocov < -SIGNIFICANCE * error):
        return NO_BOUNCE
    noise_var = -autocov
    return Bounce(noise_var, min(2.0 * noise_var / mean_square, 1.0))


def noise_var_per_s(bounce: Bounce, ts_ns: Sequence[int]) -> float:
    """The bias the bounce adds to an EWMA of squared returns per second over closes at `ts_ns`:
    2η²/Δ for closes Δ apart, 2η² × the mean of 1/Δ where they are not (candles without trades
    left out make longer returns, which the same noise biases less)."""
    if not bounce.found or len(ts_ns) < 2:
        return 0.0
    gaps_s = np.diff(np.asarray(ts_ns, dtype=np.float64)) / NS_PER_S
    return 2.0 * bounce.noise_var * float(np.mean(1.0 / gaps_s))
