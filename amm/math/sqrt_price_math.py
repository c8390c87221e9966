"""SqrtPriceMath: token deltas between two sqrt prices and the next sqrt price after a trade.

Rounding follows the contract: amounts paid to the pool round up, amounts paid out round down, and
the next price rounds so a trade never moves the price further than its amount pays for. The
uint256 overflow branches of the contract are reproduced because they change the rounding path.
"""

from __future__ import annotations

from amm.math.full_math import (
    MAX_UINT160,
    MAX_UINT256,
    Q96,
    check_uint,
    div_rounding_up,
    mul_div,
    mul_div_rounding_up,
    to_int256,
    to_uint160,
)


def _check_price_and_liquidity(sqrt_price_x96: int, liquidity: int) -> None:
    check_uint(sqrt_price_x96, 160, "sqrt_price_x96")
    check_uint(liquidity, 128, "liquidity")
    if sqrt_price_x96 == 0:
        raise ValueError("sqrt_price_x96 must be positive")
    if liquidity == 0:
        raise ValueError("liquidity must be positive")


def get_next_sqrt_price_from_amount0_rounding_up(
    sqrt_price_x96: int, liquidity: int, amount: int, add: bool
) -> int:
    """Price after adding (removing) `amount` of token0: L·√P / (L ± amount·√P), rounded up."""
    check_uint(amount, 256, "amount")
    if amount == 0:
        return sqrt_price_x96
    numerator1 = liquidity << 96
    product = amount * sqrt_price_x96
    if add:
        if product <= MAX_UINT256:
            denominator = numerator1 + product
            if denominator <= MAX_UINT256:
                return mul_div_rounding_up(numerator1, sqrt_price_x96, denominator)
        # The contract's fallback when amount·√P overflows: a cheaper, slightly different rounding.
        divisor = numerator1 // sqrt_price_x96 + amount
        if divisor > MAX_UINT256:
            raise ValueError("get_next_sqrt_price_from_amount0: amount too large")
        return div_rounding_up(numerator1, divisor)
    if product > MAX_UINT256 or numerator1 <= product:
        raise ValueError("get_next_sqrt_price_from_amount0: output exceeds the token0 reserve of the range")
    return to_uint160(mul_div_rounding_up(numerator1, sqrt_price_x96, numerator1 - product))


def get_next_sqrt_price_from_amount1_rounding_down(
    sqrt_price_x96: int, liquidity: int, amount: int, add: bool
) -> int:
    """Price after adding (removing) `amount` of token1: √P ± amount/L, rounded down."""
    check_uint(amount, 256, "amount")
    if add:
        quotient = (amount << 96) // liquidity if amount <= MAX_UINT160 else mul_div(amount, Q96, liquidity)
        return to_uint160(sqrt_price_x96 + quotient)
    if amount <= MAX_UINT160:
        quotient = div_rounding_up(amount << 96, liquidity)
    else:
        quotient = mul_div_rounding_up(amount, Q96, liquidity)
    if sqrt_price_x96 <= quotient:
        raise ValueError("get_next_sqrt_price_from_amount1: output exceeds the token1 reserve of the range")
    return sqrt_price_x96 - quotient


def get_next_sqrt_price_from_input(
    sqrt_price_x96: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    _check_price_and_liquidity(sqrt_price_x96, liquidity)
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(
    sqrt_price_x96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    _check_price_and_liquidity(sqrt_price_x96, liquidity)
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96, liquidity, amount_out, False)
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96, liquidity, amount_out, False)


def get_amount0_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    """Token0 between two sqrt prices: L·2^96·(√B − √A)/(√B·√A)."""
    check_uint(sqrt_a_x96, 160, "sqrt_a_x96")
    check_uint(sqrt_b_x96, 160, "sqrt_b_x96")
    check_uint(liquidity, 128, "liquidity")
    if sqrt_a_x96 > sqrt_b_x96:
        sqrt_a_x96, sqrt_b_x96 = sqrt_b_x96, sqrt_a_x96
    if sqrt_a_x96 == 0:
        raise ValueError("get_amount0_delta: sqrt price must be positive")
    numerator1 = liquidity << 96
    numerator2 = sqrt_b_x96 - sqrt_a_x96
    if round_up:
        return div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b_x96), sqrt_a_x96)
    return mul_div(numerator1, numerator2, sqrt_b_x96) // sqrt_a_x96


def get_amount1_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    """Token1 between two sqrt prices: L·(√B − √A)/2^96."""
    check_uint(sqrt_a_x96, 160, "sqrt_a_x96")
    check_uint(sqrt_b_x96, 160, "sqrt_b_x96")
    check_uint(liquidity, 128, "liquidity")
    if sqrt_a_x96 > sqrt_b_x96:
        sqrt_a_x96, sqrt_b_x96 = sqrt_b_x96, sqrt_a_x96
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b_x96 - sqrt_a_x96, Q96)
    return mul_div(liquidity, sqrt_b_x96 - sqrt_a_x96, Q96)


def get_amount0_delta_signed(sqrt_a_x96: int, sqrt_b_x96: int, liquidity_delta: int) -> int:
    """Signed token0 owed to the pool: rounded up when adding liquidity, down (negative) when removing."""
    if liquidity_delta < 0:
        return -to_int256(get_amount0_delta(sqrt_a_x96, sqrt_b_x96, -liquidity_delta, False))
    return to_int256(get_amount0_delta(sqrt_a_x96, sqrt_b_x96, liquidity_delta, True))


def get_amount1_delta_signed(sqrt_a_x96: int, sqrt_b_x96: int, liquidity_delta: int) -> int:
    if liquidity_delta < 0:
        return -to_int256(get_amount1_delta(sqrt_a_x96, sqrt_b_x96, -liquidity_delta, False))
    return to_int256(get_amount1_delta(sqrt_a_x96, sqrt_b_x96, liquidity_delta, True))
