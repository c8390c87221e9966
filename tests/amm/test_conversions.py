import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.conversions import (
    ceil_tick,
    floor_tick,
    nearest_usable_tick,
    price_range_to_ticks,
    price_to_sqrt_price_x96,
    price_to_tick,
    ratio_to_sqrt_price_x96,
    sqrt_price_x96_to_price,
    tick_spacing_for_fee,
    tick_to_price,
    usable_tick_bounds,
)
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO


def test_fee_tiers_map_to_spacings():
    assert [tick_spacing_for_fee(f) for f in (100, 500, 3000, 10000)] == [1, 10, 60, 200]
    with pytest.raises(ValueError, match="fee tier"):
        tick_spacing_for_fee(2500)


def test_snapping_floors_toward_negative_infinity():
    assert floor_tick(-1, 60) == -60
    assert floor_tick(-60, 60) == -60
    assert floor_tick(-61, 60) == -120
    assert floor_tick(59, 60) == 0
    assert ceil_tick(-59, 60) == 0
    assert ceil_tick(1, 60) == 60
    assert nearest_usable_tick(-31, 60) == -60
    assert nearest_usable_tick(29, 60) == 0
    assert usable_tick_bounds(60) == (-887220, 887220)
    assert usable_tick_bounds(200) == (-887200, 887200)
    assert nearest_usable_tick(887272, 60) == 887220


def test_price_one_with_equal_decimals_is_tick_zero():
    assert price_to_sqrt_price_x96(1.0, 18, 18) == 2**96
    assert price_to_tick(1.0, 18, 18) == 0
    assert price_to_tick(Fraction(1, 1) - Fraction(1, 10**12), 18, 18) == -1


def test_decimals_shift_the_raw_price():
    # WETH (18) / USDC (6) at 3000 USDC per WETH: raw P = 3000·10^-12.
    tick = price_to_tick(3000.0, 18, 6)
    assert tick == -196257
    assert tick_to_price(tick, 18, 6) <= 3000.0 < tick_to_price(tick + 1, 18, 6)
    # USDC (6) / WETH (18) at 1/3000 WETH per USDC: raw P = 10^12/3000, the mirrored tick.
    assert price_to_tick(Fraction(1, 3000), 6, 18) == 196256
    sqrt_p = price_to_sqrt_price_x96(3000.0, 18, 6)
    assert sqrt_price_x96_to_price(sqrt_p, 18, 6) == pytest.approx(3000.0, rel=1e-15)
    assert tick_to_price(tick, 18, 6) == pytest.approx(math.exp(tick * math.log(1.0001)) * 1e12, rel=1e-9)


def test_price_range_to_ticks_covers_the_range_on_the_spacing():
    lower, upper = price_range_to_ticks(2500.0, 3500.0, 18, 6, 10)
    assert lower % 10 == 0 and upper % 10 == 0
    assert tick_to_price(lower, 18, 6) <= 2500.0 and tick_to_price(upper, 18, 6) >= 3500.0
    assert tick_to_price(lower + 10, 18, 6) > 2500.0
    assert price_range_to_ticks(None, None, 18, 6, 60) == usable_tick_bounds(60)
    assert price_range_to_ticks(2500.0, None, 18, 6, 10) == (lower, usable_tick_bounds(10)[1])
    with pytest.raises(ValueError, match="below upper"):
        price_range_to_ticks(3500.0, 2500.0, 18, 6, 10)


@pytest.mark.parametrize("price", [0.0, -1.0, float("inf"), float("nan"), 1e-40])
def test_bad_prices_are_refused(price):
    with pytest.raises(ValueError, match="price"):
        price_to_sqrt_price_x96(price, 18, 18)


@settings(max_examples=300, deadline=None)
@given(
    numerator=st.integers(1, 10**30),
    denominator=st.integers(1, 10**30),
    decimals=st.sampled_from([(18, 6), (6, 18), (8, 8), (18, 18), (0, 24)]),
)
def test_the_integer_ratio_path_floors_the_exact_square_root(numerator, denominator, decimals):
    """`ratio_to_sqrt_price_x96` (the arbitrageur's, integers only): ⌊√(n/d · 10^(d1−d0)) · 2^96⌋,
    whatever common factors n and d share; a price the pool cannot hold is refused, named."""
    d0, d1 = decimals
    exact = Fraction(numerator, denominator) * Fraction(10) ** (d1 - d0) * 2**192
    expected = math.isqrt(math.floor(exact))
    if not MIN_SQRT_RATIO <= expected < MAX_SQRT_RATIO:
        with pytest.raises(ValueError, match="outside the range a Uniswap v3 pool can represent"):
            ratio_to_sqrt_price_x96(numerator, denominator, d0, d1)
        return
    assert ratio_to_sqrt_price_x96(numerator, denominator, d0, d1) == expected
    assert ratio_to_sqrt_price_x96(numerator * 7, denominator * 7, d0, d1) == expected
    assert price_to_sqrt_price_x96(Fraction(numerator, denominator), d0, d1) == expected
