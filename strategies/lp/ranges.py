"""Range geometry: the ticks of a range, the token split it needs, its liquidity for a value (pure
functions, human prices and L; the width itself comes from `strategies.lp.carry`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from amm.analytics import v3_amounts, v3_value
from amm.math.conversions import price_range_to_ticks, tick_to_price


@dataclass(frozen=True, slots=True)
class RangeChoice:
    tick_lower: int
    tick_upper: int
    price_lower: float
    price_upper: float
    half_width: float  # log-price half width the carry optimiser asked for


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
