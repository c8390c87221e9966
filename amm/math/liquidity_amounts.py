"""LiquidityAmounts (periphery): liquidity for token amounts and back, always rounded down.

These are valuation helpers: what a position is worth, how much liquidity a budget buys. What the
pool actually charges on mint (rounded up) and pays on burn (rounded down) lives in the pool.
"""

from __future__ import annotations

from amm.math.full_math import Q96, check_uint, mul_div


def _ordered(sqrt_a_x96: int, sqrt_b_x96: int) -> tuple[int, int]:
    check_uint(sqrt_a_x96, 160, "sqrt_a_x96")
    check_uint(sqrt_b_x96, 160, "sqrt_b_x96")
    if sqrt_a_x96 > sqrt_b_x96:
        sqrt_a_x96, sqrt_b_x96 = sqrt_b_x96, sqrt_a_x96
    if sqrt_a_x96 == 0:
        raise ValueError("sqrt prices of a range must be positive")
    return sqrt_a_x96, sqrt_b_x96


def _to_uint128(value: int) -> int:
    return check_uint(value, 128, "liquidity")


def get_liquidity_for_amount0(sqrt_a_x96: int, sqrt_b_x96: int, amount0: int) -> int:
    """L = x·√A·√B/(√B − √A)."""
    sqrt_a_x96, sqrt_b_x96 = _ordered(sqrt_a_x96, sqrt_b_x96)
    if sqrt_a_x96 == sqrt_b_x96:
        raise ValueError("range must have distinct bounds")
    intermediate = mul_div(sqrt_a_x96, sqrt_b_x96, Q96)
    return _to_uint128(mul_div(check_uint(amount0, 256, "amount0"), intermediate, sqrt_b_x96 - sqrt_a_x96))


def get_liquidity_for_amount1(sqrt_a_x96: int, sqrt_b_x96: int, amount1: int) -> int:
    """L = y/(√B − √A)."""
    sqrt_a_x96, sqrt_b_x96 = _ordered(sqrt_a_x96, sqrt_b_x96)
    if sqrt_a_x96 == sqrt_b_x96:
        raise ValueError("range must have distinct bounds")
    return _to_uint128(mul_div(check_uint(amount1, 256, "amount1"), Q96, sqrt_b_x96 - sqrt_a_x96))


def get_liquidity_for_amounts(
    sqrt_price_x96: int, sqrt_a_x96: int, sqrt_b_x96: int, amount0: int, amount1: int
) -> int:
    """Most liquidity that both budgets afford at the current price (the smaller side binds)."""
    sqrt_a_x96, sqrt_b_x96 = _ordered(sqrt_a_x96, sqrt_b_x96)
    if sqrt_price_x96 <= sqrt_a_x96:
        return get_liquidity_for_amount0(sqrt_a_x96, sqrt_b_x96, amount0)
    if sqrt_price_x96 < sqrt_b_x96:
        liquidity0 = get_liquidity_for_amount0(sqrt_price_x96, sqrt_b_x96, amount0)
        liquidity1 = get_liquidity_for_amount1(sqrt_a_x96, sqrt_price_x96, amount1)
        return min(liquidity0, liquidity1)
    return get_liquidity_for_amount1(sqrt_a_x96, sqrt_b_x96, amount1)


def get_amount0_for_liquidity(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int) -> int:
    sqrt_a_x96, sqrt_b_x96 = _ordered(sqrt_a_x96, sqrt_b_x96)
    check_uint(liquidity, 128, "liquidity")
    return mul_div(liquidity << 96, sqrt_b_x96 - sqrt_a_x96, sqrt_b_x96) // sqrt_a_x96


def get_amount1_for_liquidity(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int) -> int:
    sqrt_a_x96, sqrt_b_x96 = _ordered(sqrt_a_x96, sqrt_b_x96)
    check_uint(liquidity, 128, "liquidity")
    return mul_div(liquidity, sqrt_b_x96 - sqrt_a_x96, Q96)


def get_amounts_for_liquidity(
    sqrt_price_x96: int, sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int
) -> tuple[int, int]:
    """(amount0, amount1) a position of `liquidity` holds at `sqrt_price_x96`, rounded down."""
    sqrt_a_x96, sqrt_b_x96 = _ordered(sqrt_a_x96, sqrt_b_x96)
    check_uint(sqrt_price_x96, 160, "sqrt_price_x96")
    if sqrt_price_x96 <= sqrt_a_x96:
        return get_amount0_for_liquidity(sqrt_a_x96, sqrt_b_x96, liquidity), 0
    if sqrt_price_x96 < sqrt_b_x96:
        return (
            get_amount0_for_liquidity(sqrt_price_x96, sqrt_b_x96, liquidity),
            get_amount1_for_liquidity(sqrt_a_x96, sqrt_price_x96, liquidity),
        )
    return 0, get_amount1_for_liquidity(sqrt_a_x96, sqrt_b_x96, liquidity)
