import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.conversions import encode_sqrt_price_x96
from amm.math.full_math import MAX_UINT128, MAX_UINT256
from amm.math.sqrt_price_math import (
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

E18 = 10**18
SQRT_1 = encode_sqrt_price_x96(1, 1)
SQRT_121 = encode_sqrt_price_x96(121, 100)
prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
liquidities = st.integers(1, MAX_UINT128)


def test_known_amount_deltas_from_lp_maths():
    assert get_amount0_delta(SQRT_1, SQRT_121, E18, True) == 90909090909090910
    assert get_amount0_delta(SQRT_1, SQRT_121, E18, False) == 90909090909090909
    assert get_amount1_delta(SQRT_1, SQRT_121, E18, True) == 100000000000000000
    assert get_amount1_delta(SQRT_1, SQRT_121, E18, False) == 99999999999999999


def test_amount_deltas_are_symmetric_in_the_price_order():
    assert get_amount0_delta(SQRT_121, SQRT_1, E18, True) == 90909090909090910
    assert get_amount1_delta(SQRT_121, SQRT_1, E18, False) == 99999999999999999


def test_next_price_from_input_known_values():
    # 0.1 token1 in at price 1, L = 1: √P + 0.1 → 1.1·2^96 rounded down.
    assert get_next_sqrt_price_from_input(SQRT_1, E18, E18 // 10, False) == 87150978765690771352898345369
    # 0.1 token0 in: 2^96/1.1 rounded up.
    assert get_next_sqrt_price_from_input(SQRT_1, E18, E18 // 10, True) == 72025602285694852357767227579
    assert get_next_sqrt_price_from_input(SQRT_1, E18, 0, True) == SQRT_1


def test_next_price_from_output_known_values():
    assert get_next_sqrt_price_from_output(SQRT_1, E18, E18 // 10, False) == 88031291682515930659493278152
    assert get_next_sqrt_price_from_output(SQRT_1, E18, E18 // 10, True) == 71305346262837903834189555302


def test_input_overflow_branch_of_amount0():
    # amount·√P overflows uint256: the contract switches to ceil(L·2^96 / (L·2^96/√P + amount)).
    sqrt_p, liquidity, amount = MAX_SQRT_RATIO - 1, MAX_UINT128, 2**100
    assert amount * sqrt_p > MAX_UINT256
    numerator = liquidity << 96
    expected = -(-numerator // (numerator // sqrt_p + amount))
    assert get_next_sqrt_price_from_input(sqrt_p, liquidity, amount, True) == expected
    assert get_next_sqrt_price_from_input(SQRT_1, E18, 2**200, True) == 1
    # No overflow: the mulDivRoundingUp path, the largest input still leaves a positive price.
    assert get_next_sqrt_price_from_input(1, 1, 2**255, True) == 1


def test_output_larger_than_reserves_is_refused():
    with pytest.raises(ValueError, match="token1 reserve"):
        get_next_sqrt_price_from_output(SQRT_1, 1, 4, True)
    with pytest.raises(ValueError, match="token0 reserve"):
        get_next_sqrt_price_from_output(SQRT_1, 1, 1, False)
    with pytest.raises(ValueError, match="liquidity must be positive"):
        get_next_sqrt_price_from_input(SQRT_1, 0, 1, True)
    with pytest.raises(ValueError, match="uint160"):
        get_next_sqrt_price_from_input(MAX_SQRT_RATIO, MAX_UINT128, MAX_UINT256, False)


@settings(max_examples=1000, deadline=None)
@given(prices, prices, st.integers(0, MAX_UINT128))
def test_round_up_minus_round_down_is_zero_or_one(a, b, liquidity):
    up0, down0 = get_amount0_delta(a, b, liquidity, True), get_amount0_delta(a, b, liquidity, False)
    up1, down1 = get_amount1_delta(a, b, liquidity, True), get_amount1_delta(a, b, liquidity, False)
    assert up0 - down0 in (0, 1)
    assert up1 - down1 in (0, 1)


@settings(max_examples=800, deadline=None)
@given(prices, liquidities, st.integers(0, 2**128), st.booleans())
def test_input_never_moves_the_price_further_than_paid(sqrt_p, liquidity, amount_in, zero_for_one):
    try:
        sqrt_q = get_next_sqrt_price_from_input(sqrt_p, liquidity, amount_in, zero_for_one)
    except ValueError:
        return  # the contract reverts too (price out of uint160)
    if zero_for_one:
        assert sqrt_q <= sqrt_p
        assert get_amount0_delta(sqrt_q, sqrt_p, liquidity, True) <= amount_in
    else:
        assert sqrt_q >= sqrt_p
        assert get_amount1_delta(sqrt_p, sqrt_q, liquidity, True) <= amount_in


@settings(max_examples=800, deadline=None)
@given(prices, liquidities, st.integers(0, 2**128), st.booleans())
def test_output_always_pays_at_least_the_amount(sqrt_p, liquidity, amount_out, zero_for_one):
    try:
        sqrt_q = get_next_sqrt_price_from_output(sqrt_p, liquidity, amount_out, zero_for_one)
    except ValueError:
        return
    if zero_for_one:
        assert sqrt_q <= sqrt_p
        assert get_amount1_delta(sqrt_q, sqrt_p, liquidity, False) >= amount_out
    else:
        assert sqrt_q >= sqrt_p
        assert get_amount0_delta(sqrt_p, sqrt_q, liquidity, False) >= amount_out
