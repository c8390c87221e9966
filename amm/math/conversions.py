"""Human prices ↔ ticks ↔ sqrtPriceX96, with token decimals, and tick-spacing snapping.

Raw price P = token1 per token0 in raw units; human price = P·10^(d0 − d1). Conversions into the
integer domain are exact (Fraction arithmetic and integer square roots, rounded down); conversions
out of it return floats for display and analytics.
"""

from __future__ import annotations

import math
from fractions import Fraction

from amm.math.full_math import Q192
from amm.math.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

FEE_TIER_TICK_SPACING: dict[int, int] = {100: 1, 500: 10, 3000: 60, 10000: 200}


def tick_spacing_for_fee(fee_pips: int) -> int:
    try:
        return FEE_TIER_TICK_SPACING[fee_pips]
    except KeyError:
        raise ValueError(
            f"fee_pips {fee_pips} is not a Uniswap v3 fee tier ({sorted(FEE_TIER_TICK_SPACING)})"
        ) from None


def encode_sqrt_price_x96(amount1: int, amount0: int) -> int:
    """√(amount1/amount0)·2^96 rounded down (the encodePriceSqrt of Uniswap's own tests)."""
    if amount0 <= 0 or amount1 <= 0:
        raise ValueError("encode_sqrt_price_x96 needs positive amounts")
    return math.isqrt((amount1 << 192) // amount0)


def price_to_sqrt_price_x96(price_human: float | Fraction, decimals0: int, decimals1: int) -> int:
    """sqrtPriceX96 of a human price (token1 per token0), rounded down; must be a valid pool price."""
    if not price_human > 0 or (isinstance(price_human, float) and not math.isfinite(price_human)):
        raise ValueError(f"price must be positive and finite, got {price_human}")
    numerator, denominator = price_human.as_integer_ratio()
    return ratio_to_sqrt_price_x96(numerator, denominator, decimals0, decimals1)


def ratio_to_sqrt_price_x96(numerator: int, denominator: int, decimals0: int, decimals1: int) -> int:
    """sqrtPriceX96 of the human price numerator/denominator, rounded down, in integers only (the
    simulated arbitrageur asks twice a block; Fraction's normalising gcds cost most of that)."""
    if numerator <= 0 or denominator <= 0:
        raise ValueError(f"price must be positive, got {numerator}/{denominator}")
    shift = decimals1 - decimals0
    if shift >= 0:
        numerator *= 10**shift
    else:
        denominator *= 10**-shift
    sqrt_price = math.isqrt(numerator * Q192 // denominator)
    if not MIN_SQRT_RATIO <= sqrt_price < MAX_SQRT_RATIO:
        price = numerator / denominator * 10.0**-shift
        raise ValueError(f"price {price:g} is outside the range a Uniswap v3 pool can represent")
    return sqrt_price


def sqrt_price_x96_to_price(sqrt_price_x96: int, decimals0: int, decimals1: int) -> float:
    """Human price (token1 per token0) of a sqrtPriceX96."""
    return float(Fraction(sqrt_price_x96 * sqrt_price_x96, Q192) * Fraction(10) ** (decimals0 - decimals1))


def price_to_tick(price_human: float | Fraction, decimals0: int, decimals1: int) -> int:
    """Largest tick whose price is ≤ the given human price."""
    return get_tick_at_sqrt_ratio(price_to_sqrt_price_x96(price_human, decimals0, decimals1))


def tick_to_price(tick: int, decimals0: int, decimals1: int) -> float:
    """Human price at a tick, from the pool's own sqrt ratio (float pow loses ~1e-12 at large ticks)."""
    return sqrt_price_x96_to_price(get_sqrt_ratio_at_tick(tick), decimals0, decimals1)


def floor_tick(tick: int, tick_spacing: int) -> int:
    """Largest usable tick ≤ tick (toward −∞, also for negatives: −1 with spacing 60 → −60)."""
    if tick_spacing <= 0:
        raise ValueError(f"tick_spacing must be positive, got {tick_spacing}")
    return tick // tick_spacing * tick_spacing


def ceil_tick(tick: int, tick_spacing: int) -> int:
    return -floor_tick(-tick, tick_spacing)


def usable_tick_bounds(tick_spacing: int) -> tuple[int, int]:
    """The lowest and highest ticks a position can use with this spacing (full range)."""
    return ceil_tick(MIN_TICK, tick_spacing), floor_tick(MAX_TICK, tick_spacing)


def nearest_usable_tick(tick: int, tick_spacing: int) -> int:
    """Closest multiple of the spacing (ties up), clamped to the usable bounds."""
    low, high = usable_tick_bounds(tick_spacing)
    rounded = floor_tick(tick + tick_spacing // 2, tick_spacing)
    return min(max(rounded, low), high)


def price_range_to_ticks(
    lower_price_human: float | None,
    upper_price_human: float | None,
    decimals0: int,
    decimals1: int,
    tick_spacing: int,
) -> tuple[int, int]:
    """Usable [tick_lower, tick_upper) covering a human price range: lower floored, upper ceiled.

    A missing bound (None) extends to the usable edge, so (None, None) is the full range.
    """
    if (
        lower_price_human is not None
        and upper_price_human is not None
        and lower_price_human >= upper_price_human
    ):
        raise ValueError(f"lower price {lower_price_human} must be below upper price {upper_price_human}")
    low, high = usable_tick_bounds(tick_spacing)
    tick_lower, tick_upper = low, high
    if lower_price_human is not None:
        tick_lower = max(
            floor_tick(price_to_tick(lower_price_human, decimals0, decimals1), tick_spacing), low
        )
    if upper_price_human is not None:
        tick_upper = min(
            ceil_tick(price_to_tick(upper_price_human, decimals0, decimals1), tick_spacing), high
        )
    if tick_lower >= tick_upper:
        # Both prices inside one spacing interval: take that interval.
        tick_upper = tick_lower + tick_spacing
    return tick_lower, tick_upper
