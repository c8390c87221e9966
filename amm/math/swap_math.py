"""SwapMath.computeSwapStep: one swap step inside a range of constant liquidity."""

from __future__ import annotations

from dataclasses import dataclass

from amm.math.full_math import check_uint, mul_div, mul_div_rounding_up
from amm.math.sqrt_price_math import (
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)

FEE_DENOMINATOR_PIPS = 1_000_000


@dataclass(frozen=True, slots=True)
class SwapStep:
    sqrt_price_next_x96: int
    amount_in: int
    amount_out: int
    fee_amount: int


def compute_swap_step(
    sqrt_price_current_x96: int,
    sqrt_price_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> SwapStep:
    """Swap toward the target price; exact input when amount_remaining ≥ 0, exact output when < 0.

    The fee is charged on the input: rounded up on the amount actually swapped, and when an exact
    input step stops short of the target the whole remainder becomes fee (as in the contract).
    """
    check_uint(sqrt_price_current_x96, 160, "sqrt_price_current_x96")
    check_uint(sqrt_price_target_x96, 160, "sqrt_price_target_x96")
    check_uint(liquidity, 128, "liquidity")
    if not 0 <= fee_pips < FEE_DENOMINATOR_PIPS:
        raise ValueError(f"fee_pips must be in [0, 1e6), got {fee_pips}")
    zero_for_one = sqrt_price_current_x96 >= sqrt_price_target_x96
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0

    if exact_in:
        remaining_less_fee = mul_div(amount_remaining, FEE_DENOMINATOR_PIPS - fee_pips, FEE_DENOMINATOR_PIPS)
        if zero_for_one:
            amount_in = get_amount0_delta(sqrt_price_target_x96, sqrt_price_current_x96, liquidity, True)
        else:
            amount_in = get_amount1_delta(sqrt_price_current_x96, sqrt_price_target_x96, liquidity, True)
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_price_target_x96
        else:
            sqrt_next = get_next_sqrt_price_from_input(
                sqrt_price_current_x96, liquidity, remaining_less_fee, zero_for_one
            )
    else:
        if zero_for_one:
            amount_out = get_amount1_delta(sqrt_price_target_x96, sqrt_price_current_x96, liquidity, False)
        else:
            amount_out = get_amount0_delta(sqrt_price_current_x96, sqrt_price_target_x96, liquidity, False)
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_price_target_x96
        else:
            sqrt_next = get_next_sqrt_price_from_output(
                sqrt_price_current_x96, liquidity, -amount_remaining, zero_for_one
            )

    reached_target = sqrt_price_target_x96 == sqrt_next
    if zero_for_one:
        if not (reached_target and exact_in):
            amount_in = get_amount0_delta(sqrt_next, sqrt_price_current_x96, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = get_amount1_delta(sqrt_next, sqrt_price_current_x96, liquidity, False)
    else:
        if not (reached_target and exact_in):
            amount_in = get_amount1_delta(sqrt_price_current_x96, sqrt_next, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = get_amount0_delta(sqrt_price_current_x96, sqrt_next, liquidity, False)

    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining

    if exact_in and sqrt_next != sqrt_price_target_x96:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR_PIPS - fee_pips)
    return SwapStep(sqrt_next, amount_in, amount_out, fee_amount)
