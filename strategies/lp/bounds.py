"""Execution bounds from the CEX fair price (#21 item 4), never from the block's spot price.

A ratio swap carries a price limit at fair ∓ `slippage_bps`: a pool pushed beyond it fills
nothing past the limit (and the output floor then reverts it). A mint or increase carries
floors that every pool price within fair ± `slippage_bps` satisfies and a price beyond does not:
the amounts the pool would take at the band's edges (amount0 falls as the price rises, amount1 as
it falls). So a 5 bp move never reverts a ±5 % mint, and a same-block push past the slippage does.

That holds only for amounts balanced at fair (`balanced_amounts`): with one token in excess the
pool takes all of the other at any price, and a push that makes it take more of the excess one
(a push down with token0 in excess, after a ratio swap cut short by its price limit) passes both
floors. So the amounts offered are what the range takes at fair; the rest stays in the wallet.
"""

from __future__ import annotations

from amm.math.conversions import price_to_sqrt_price_x96
from amm.math.liquidity_amounts import get_amounts_for_liquidity, get_liquidity_for_amounts
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick


def _sqrt_at(price: float, decimals0: int, decimals1: int) -> int:
    return min(
        max(price_to_sqrt_price_x96(price, decimals0, decimals1), MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1
    )


def swap_price_limit(
    zero_for_one: bool, fair: float, slippage_bps: float, decimals0: int, decimals1: int
) -> int:
    """sqrtPriceLimitX96 of a swap: selling token0 may push the price down to fair·(1 − slippage)."""
    band = slippage_bps / 1e4
    return _sqrt_at(fair * (1 - band if zero_for_one else 1 + band), decimals0, decimals1)


def balanced_amounts(
    tick_lower: int, tick_upper: int, amount0: int, amount1: int, fair: float, decimals0: int, decimals1: int
) -> tuple[int, int]:
    """What of `amount0`/`amount1` the range [tick_lower, tick_upper) takes at the fair price."""
    sqrt_a, sqrt_b = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
    at_fair = _sqrt_at(fair, decimals0, decimals1)
    liquidity = get_liquidity_for_amounts(at_fair, sqrt_a, sqrt_b, amount0, amount1)
    return get_amounts_for_liquidity(at_fair, sqrt_a, sqrt_b, liquidity)


def liquidity_floors(
    tick_lower: int,
    tick_upper: int,
    amount0: int,
    amount1: int,
    fair: float,
    slippage_bps: float,
    decimals0: int,
    decimals1: int,
) -> tuple[int, int]:
    """(amount0_min, amount1_min) for adding `amount0`/`amount1` (balanced at fair) to
    [tick_lower, tick_upper)."""
    band = slippage_bps / 1e4
    sqrt_a, sqrt_b = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
    high = _sqrt_at(fair * (1 + band), decimals0, decimals1)
    low = _sqrt_at(fair * (1 - band), decimals0, decimals1)
    at_high = get_amounts_for_liquidity(
        high, sqrt_a, sqrt_b, get_liquidity_for_amounts(high, sqrt_a, sqrt_b, amount0, amount1)
    )
    at_low = get_amounts_for_liquidity(
        low, sqrt_a, sqrt_b, get_liquidity_for_amounts(low, sqrt_a, sqrt_b, amount0, amount1)
    )
    return at_high[0], at_low[1]
