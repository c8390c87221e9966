"""Fee accounting of Tick and Position: fee growth inside a range and the fees a position earned.

All fee growth values are Q128.128 fees per unit of liquidity, kept modulo 2^256: the subtractions
wrap on purpose (a tick's outside value only has meaning relative to the global one).
"""

from __future__ import annotations

from amm.math.full_math import Q128, Q256, check_uint, mul_div


def get_fee_growth_inside(
    tick_lower: int,
    tick_upper: int,
    tick_current: int,
    fee_growth_global_x128: int,
    fee_growth_outside_lower_x128: int,
    fee_growth_outside_upper_x128: int,
) -> int:
    """Fee growth per liquidity inside [tick_lower, tick_upper) for one token, modulo 2^256."""
    if tick_current >= tick_lower:
        below = fee_growth_outside_lower_x128
    else:
        below = (fee_growth_global_x128 - fee_growth_outside_lower_x128) % Q256
    if tick_current < tick_upper:
        above = fee_growth_outside_upper_x128
    else:
        above = (fee_growth_global_x128 - fee_growth_outside_upper_x128) % Q256
    return (fee_growth_global_x128 - below - above) % Q256


def fees_earned(fee_growth_inside_x128: int, fee_growth_inside_last_x128: int, liquidity: int) -> int:
    """⌊((inside − inside_last) mod 2^256)·L / 2^128⌋, truncated to uint128 like the contract's cast."""
    check_uint(fee_growth_inside_x128, 256, "fee_growth_inside_x128")
    check_uint(fee_growth_inside_last_x128, 256, "fee_growth_inside_last_x128")
    check_uint(liquidity, 128, "liquidity")
    growth = (fee_growth_inside_x128 - fee_growth_inside_last_x128) % Q256
    return mul_div(growth, liquidity, Q128) & ((1 << 128) - 1)


def fee_growth_delta(fee_amount: int, liquidity: int) -> int:
    """Fee growth added by one swap step: ⌊fee·2^128 / L⌋ (nothing when no liquidity is active)."""
    if liquidity == 0:
        return 0
    return mul_div(fee_amount, Q128, liquidity)
