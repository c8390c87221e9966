"""Uniswap v2 constant-product maths (UniswapV2Library), exact integers with the 0.3 % fee.

Output rounds down and required input rounds up (+1), so the pair's k check always holds.
"""

from __future__ import annotations

V2_FEE_NUMERATOR = 997
V2_FEE_DENOMINATOR = 1000


def _check_reserves(reserve_in: int, reserve_out: int) -> None:
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError(
            f"reserves must be positive (INSUFFICIENT_LIQUIDITY), got {reserve_in}, {reserve_out}"
        )


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Output for an exact input: ⌊in·997·R_out / (R_in·1000 + in·997)⌋."""
    if amount_in <= 0:
        raise ValueError(f"amount_in must be positive (INSUFFICIENT_INPUT_AMOUNT), got {amount_in}")
    _check_reserves(reserve_in, reserve_out)
    amount_in_with_fee = amount_in * V2_FEE_NUMERATOR
    return amount_in_with_fee * reserve_out // (reserve_in * V2_FEE_DENOMINATOR + amount_in_with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """Input needed for an exact output: ⌊R_in·out·1000 / ((R_out − out)·997)⌋ + 1."""
    if amount_out <= 0:
        raise ValueError(f"amount_out must be positive (INSUFFICIENT_OUTPUT_AMOUNT), got {amount_out}")
    _check_reserves(reserve_in, reserve_out)
    if amount_out >= reserve_out:
        raise ValueError(f"amount_out {amount_out} must be below the output reserve {reserve_out}")
    numerator = reserve_in * amount_out * V2_FEE_DENOMINATOR
    denominator = (reserve_out - amount_out) * V2_FEE_NUMERATOR
    return numerator // denominator + 1


def quote(amount_a: int, reserve_a: int, reserve_b: int) -> int:
    """Equivalent amount of the other asset at the reserve ratio (adding liquidity), rounded down."""
    if amount_a <= 0:
        raise ValueError(f"amount must be positive (INSUFFICIENT_AMOUNT), got {amount_a}")
    _check_reserves(reserve_a, reserve_b)
    return amount_a * reserve_b // reserve_a
