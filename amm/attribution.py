"""LP PnL attribution: fees − LVR − gas − hedge cost − swap cost = net, plus the price exposure.

Builds on `amm.analytics` (value, delta, IL, LVR rate), adding what needs a path or a book:
  - realised LVR along an observed price path: Σ [x(Pᵢ)·(Pᵢ₊₁ − Pᵢ) − (V(Pᵢ₊₁) − V(Pᵢ))] ≥ 0, the
    loss of the LP against the rebalancing portfolio that holds the same x(P) (exact for a
    discrete path; its expectation is ∫ℓ dt with ℓ the LVR rate),
  - expected LVR accumulated as Σ ℓ(Pᵢ)·Δtᵢ,
  - IL from exact position amounts (integer LiquidityAmounts) next to the closed form,
  - `LvrMeter`, the online accumulator a live LP manager feeds one price at a time.
Units: human prices (token1 per token0), human liquidity (`human_liquidity`), values in token1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from amm.analytics import F64, hodl_value, v3_amounts, v3_lvr_rate, v3_value
from amm.math.liquidity_amounts import get_amounts_for_liquidity
from amm.math.tick_math import get_sqrt_ratio_at_tick

SECONDS_PER_YEAR = 365 * 24 * 3600


def human_liquidity(liquidity_raw: int, decimals0: int, decimals1: int) -> float:
    """L in human units: with x in token0 and y in token1 units, L_h = L_raw / 10^((d0 + d1)/2)."""
    return liquidity_raw / 10.0 ** ((decimals0 + decimals1) / 2)


def exact_position_amounts(
    sqrt_price_x96: int, tick_lower: int, tick_upper: int, liquidity_raw: int, decimals0: int, decimals1: int
) -> tuple[float, float]:
    """Human (token0, token1) a position holds now, from the integer LiquidityAmounts (rounded down)."""
    amount0, amount1 = get_amounts_for_liquidity(
        sqrt_price_x96, get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper), liquidity_raw
    )
    return amount0 / 10.0**decimals0, amount1 / 10.0**decimals1


def il_from_amounts(
    price: ArrayLike,
    amount0_now: ArrayLike,
    amount1_now: ArrayLike,
    amount0_entry: ArrayLike,
    amount1_entry: ArrayLike,
) -> F64:
    """V_LP − V_HODL at `price` from what the position holds now and what it held at entry."""
    return hodl_value(price, amount0_now, amount1_now) - hodl_value(price, amount0_entry, amount1_entry)


def realized_lvr(prices: ArrayLike, liquidity: float, price_lower: float, price_upper: float) -> F64:
    """Cumulative realised LVR along a path (same length as `prices`, starting at 0)."""
    p = np.asarray(prices, dtype=np.float64)
    x, _ = v3_amounts(p[:-1], liquidity, price_lower, price_upper)
    value = v3_value(p, liquidity, price_lower, price_upper)
    step = x * np.diff(p) - np.diff(value)
    return np.concatenate(([0.0], np.cumsum(step)))


def expected_lvr(
    prices: ArrayLike, dt_s: ArrayLike, sigma_annual: ArrayLike, liquidity: float, lower: float, upper: float
) -> F64:
    """Cumulative Σ ℓ(Pᵢ)·Δtᵢ with ℓ = σ²L√P/4 in range (σ annual, Δt in seconds)."""
    rate_per_year = v3_lvr_rate(prices, sigma_annual, liquidity, lower, upper)
    return np.cumsum(rate_per_year * np.asarray(dt_s, dtype=np.float64) / SECONDS_PER_YEAR)


@dataclass(slots=True)
class LvrMeter:
    """Online LVR of one position: feed observed prices (and σ̂ for the expected figure)."""

    liquidity: float
    price_lower: float
    price_upper: float
    last_price: float
    last_ts_ns: int
    realized_token1: float = 0.0
    expected_token1: float = 0.0

    def observe(self, price: float, ts_ns: int, sigma_annual: float) -> None:
        if not (math.isfinite(price) and price > 0) or ts_ns < self.last_ts_ns:
            return
        args = (self.liquidity, self.price_lower, self.price_upper)
        self.realized_token1 += float(realized_lvr([self.last_price, price], *args)[-1])
        dt_s = (ts_ns - self.last_ts_ns) / 1e9
        self.expected_token1 += (
            float(v3_lvr_rate(self.last_price, sigma_annual, *args)) * dt_s / SECONDS_PER_YEAR
        )
        self.last_price, self.last_ts_ns = price, ts_ns


@dataclass(frozen=True, slots=True)
class PnlAttribution:
    """One position's (or strategy's) PnL in token1, split by source.

    `net_token1` is what the LP earns for providing liquidity once price risk is removed:
    fees − LVR − gas − hedge cost − swap cost. `price_exposure_token1` is the rest of the total
    (the rebalancing portfolio's mark-to-market plus the hedge's gross PnL): zero-mean noise that
    a perfect hedge removes.
    """

    fees_token1: float
    lvr_token1: float
    gas_token1: float
    hedge_cost_token1: float
    swap_cost_token1: float
    price_exposure_token1: float
    il_token1: float
    hodl_value_token1: float

    @property
    def net_token1(self) -> float:
        return (
            self.fees_token1
            - self.lvr_token1
            - self.gas_token1
            - self.hedge_cost_token1
            - self.swap_cost_token1
        )

    @property
    def total_token1(self) -> float:
        return self.net_token1 + self.price_exposure_token1


def attribute_pnl(
    prices: ArrayLike,
    liquidity: float,
    price_lower: float,
    price_upper: float,
    *,
    fees_token1: float,
    gas_token1: float = 0.0,
    hedge_cost_token1: float = 0.0,
    swap_cost_token1: float = 0.0,
    hedge_gross_pnl_token1: float = 0.0,
) -> PnlAttribution:
    """Attribute a constant-liquidity position's PnL over an observed path.

    V(P_T) − V(P_0) = Σ x(Pᵢ)ΔPᵢ − LVR exactly, so the total PnL (LP value change + fees − costs
    + the hedge's gross PnL) equals `net_token1 + price_exposure_token1` to rounding.
    """
    p = np.asarray(prices, dtype=np.float64)
    args = (liquidity, price_lower, price_upper)
    lvr = float(realized_lvr(p, *args)[-1])
    x, _ = v3_amounts(p[:-1], *args)
    exposure = float(np.sum(x * np.diff(p))) + hedge_gross_pnl_token1
    x0, y0 = v3_amounts(p[0], *args)
    hodl = float(hodl_value(p[-1], x0, y0))
    return PnlAttribution(
        fees_token1=fees_token1,
        lvr_token1=lvr,
        gas_token1=gas_token1,
        hedge_cost_token1=hedge_cost_token1,
        swap_cost_token1=swap_cost_token1,
        price_exposure_token1=exposure,
        il_token1=float(v3_value(p[-1], *args)) - hodl,
        hodl_value_token1=hodl,
    )
