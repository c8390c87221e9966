"""Range geometry and carry: width from σ̂, the ticks of a range, the token split it needs, its
liquidity for a value, and the fees-minus-LVR it expects (pure functions, human prices and L)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from amm.analytics import v3_amounts, v3_lvr_rate, v3_value
from amm.attribution import SECONDS_PER_YEAR
from amm.math.conversions import price_range_to_ticks, tick_to_price


@dataclass(frozen=True, slots=True)
class RangeChoice:
    tick_lower: int
    tick_upper: int
    price_lower: float
    price_upper: float
    half_width: float  # log-price half width the σ rule asked for


def range_half_width(
    sigma_annual: float, horizon_s: float, width_k: float, min_half_width: float, max_half_width: float
) -> float:
    """w = k·σ̂·√T, clipped: the range should hold the price for about the rebalance horizon."""
    w = width_k * sigma_annual * math.sqrt(horizon_s / SECONDS_PER_YEAR)
    return min(max(w, min_half_width), max_half_width)


def choose_range(
    fair_price: float,
    half_width: float,
    *,
    skew: float,
    tick_spacing: int,
    decimals0: int,
    decimals1: int,
) -> RangeChoice:
    """[P·e^(−w(1−skew)), P·e^(w(1+skew))] snapped outward to usable ticks (skew > 0 leans up)."""
    if not -1.0 < skew < 1.0:
        raise ValueError(f"skew must be in (-1, 1), got {skew}")
    lower = fair_price * math.exp(-half_width * (1.0 - skew))
    upper = fair_price * math.exp(half_width * (1.0 + skew))
    tick_lower, tick_upper = price_range_to_ticks(lower, upper, decimals0, decimals1, tick_spacing)
    return RangeChoice(
        tick_lower,
        tick_upper,
        tick_to_price(tick_lower, decimals0, decimals1),
        tick_to_price(tick_upper, decimals0, decimals1),
        half_width,
    )


def liquidity_for_value(value_token1: float, price: float, price_lower: float, price_upper: float) -> float:
    """Human L a position worth `value_token1` at `price` holds in this range."""
    per_unit = float(v3_value(price, 1.0, price_lower, price_upper))
    return value_token1 / per_unit if per_unit > 0 else 0.0


def split_for_range(
    wallet0: float, wallet1: float, price: float, price_lower: float, price_upper: float
) -> tuple[bool, float]:
    """The swap (zero_for_one, amount_in human) that turns the wallet into the range's token ratio.

    Ignores the swap's own fee and impact (a few bp): the mint leaves that remainder idle.
    """
    x_unit, y_unit = v3_amounts(price, 1.0, price_lower, price_upper)
    value = wallet0 * price + wallet1
    per_unit = float(x_unit) * price + float(y_unit)
    want0 = value * float(x_unit) / per_unit
    if want0 < wallet0:
        return True, wallet0 - want0  # sell the extra token0
    want1 = value * float(y_unit) / per_unit
    return False, max(wallet1 - want1, 0.0)


def carry_per_s(
    fee_rate: float, liquidity: float, price: float, sigma: float, lower: float, upper: float
) -> float:
    """Expected fees minus LVR per second of a position that is in range."""
    lvr = float(v3_lvr_rate(price, sigma, liquidity, lower, upper)) / SECONDS_PER_YEAR
    return fee_rate * liquidity - lvr


def at_edge(price: float, lower: float, upper: float, edge_buffer: float) -> bool:
    """Out of range, or within `edge_buffer` (a fraction of the log width) of either bound."""
    if not lower < price < upper:
        return True
    width = math.log(upper / lower)
    return min(math.log(price / lower), math.log(upper / price)) < edge_buffer * width


def in_range_odds(price: float, lower: float, upper: float, sigma: float, horizon_s: float) -> float:
    """Rough odds the price sits in [lower, upper] over the horizon (driftless, σ√T at mid-horizon).

    In range: erf(d/(σ√T)) with d the log distance to the nearer edge; outside: the odds of coming
    back, erfc(d/(σ√T)). Good enough to rank actions; not a pricing model.
    """
    scale = sigma * math.sqrt(horizon_s / SECONDS_PER_YEAR)
    if scale <= 0:
        return 1.0 if lower < price < upper else 0.0
    if lower < price < upper:
        return math.erf(min(math.log(price / lower), math.log(upper / price)) / scale)
    d = math.log(lower / price) if price <= lower else math.log(price / upper)
    return math.erfc(d / scale)
