import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.conversions import encode_sqrt_price_x96
from amm.math.liquidity_amounts import (
    get_amount0_for_liquidity,
    get_amount1_for_liquidity,
    get_amounts_for_liquidity,
    get_liquidity_for_amounts,
)
from amm.math.tick_math import MAX_TICK, MIN_TICK, get_sqrt_ratio_at_tick

SQRT_A = encode_sqrt_price_x96(100, 110)
SQRT_B = encode_sqrt_price_x96(110, 100)


@pytest.mark.parametrize(
    ("price", "liquidity"),
    [((1, 1), 2148), ((111, 100), 2097), ((99, 100), 1938), ((99, 110), 1048)],
)
def test_known_liquidity_for_amounts(price, liquidity):
    sqrt_p = encode_sqrt_price_x96(*price)
    assert get_liquidity_for_amounts(sqrt_p, SQRT_A, SQRT_B, 100, 200) == liquidity


def test_bounds_order_does_not_matter_and_edges_are_single_sided():
    sqrt_p = encode_sqrt_price_x96(1, 1)
    assert get_liquidity_for_amounts(sqrt_p, SQRT_B, SQRT_A, 100, 200) == 2148
    # At the lower bound only token0 counts; at the upper bound only token1.
    assert get_liquidity_for_amounts(SQRT_A, SQRT_A, SQRT_B, 100, 200) == get_liquidity_for_amounts(
        SQRT_A, SQRT_A, SQRT_B, 100, 0
    )
    assert get_amounts_for_liquidity(SQRT_A, SQRT_A, SQRT_B, 2148)[1] == 0
    assert get_amounts_for_liquidity(SQRT_B, SQRT_A, SQRT_B, 2148)[0] == 0


def test_known_amounts_for_liquidity():
    sqrt_p = encode_sqrt_price_x96(1, 1)
    assert get_amounts_for_liquidity(sqrt_p, SQRT_A, SQRT_B, 2148) == (99, 99)
    assert (
        get_amount0_for_liquidity(SQRT_A, SQRT_B, 1048)
        == get_amounts_for_liquidity(encode_sqrt_price_x96(99, 110), SQRT_A, SQRT_B, 1048)[0]
    )
    assert (
        get_amount1_for_liquidity(SQRT_A, SQRT_B, 2097)
        == get_amounts_for_liquidity(encode_sqrt_price_x96(111, 100), SQRT_A, SQRT_B, 2097)[1]
    )


def test_liquidity_beyond_uint128_is_refused():
    with pytest.raises(ValueError, match="liquidity"):
        # Above the range only token1 counts: L = 2^130·2^96/2^90 = 2^136 does not fit uint128.
        get_liquidity_for_amounts(2**97, 2**96, 2**96 + 2**90, 0, 2**130)


@st.composite
def ranges(draw):
    lower = draw(st.integers(MIN_TICK, MAX_TICK - 1))
    upper = draw(st.integers(lower + 1, min(MAX_TICK, lower + 200_000)))
    current = draw(st.integers(max(MIN_TICK, lower - 5_000), min(MAX_TICK - 1, upper + 5_000)))
    return current, lower, upper


@settings(max_examples=800, deadline=None)
@given(ranges(), st.integers(0, 2**100), st.integers(0, 2**100))
def test_liquidity_then_amounts_never_exceeds_inputs(tick_range, amount0, amount1):
    current, lower, upper = tick_range
    sqrt_p = get_sqrt_ratio_at_tick(current)
    sqrt_a, sqrt_b = get_sqrt_ratio_at_tick(lower), get_sqrt_ratio_at_tick(upper)
    try:
        liquidity = get_liquidity_for_amounts(sqrt_p, sqrt_a, sqrt_b, amount0, amount1)
    except ValueError:
        return  # liquidity beyond uint128: the periphery reverts too
    got0, got1 = get_amounts_for_liquidity(sqrt_p, sqrt_a, sqrt_b, liquidity)
    assert got0 <= amount0
    assert got1 <= amount1
