import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.full_math import Q96
from amm.math.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

ticks = st.integers(MIN_TICK, MAX_TICK)
sqrt_prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)


@pytest.mark.parametrize(
    ("tick", "sqrt_price_x96"),
    [
        (-887272, 4295128739),
        (-887271, 4295343490),
        (887271, 1461373636630004318706518188784493106690254656249),
        (887272, 1461446703485210103287273052203988822378723970342),
        (0, 2**96),
    ],
)
def test_known_sqrt_ratios(tick, sqrt_price_x96):
    assert get_sqrt_ratio_at_tick(tick) == sqrt_price_x96


def test_extremes_are_the_published_bounds():
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO) == MIN_TICK
    assert get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1) == MAX_TICK - 1
    assert get_tick_at_sqrt_ratio(4295343490) == MIN_TICK + 1
    assert get_tick_at_sqrt_ratio(4295343490 - 1) == MIN_TICK


@pytest.mark.parametrize("tick", [MIN_TICK - 1, MAX_TICK + 1])
def test_tick_out_of_range_is_refused(tick):
    with pytest.raises(ValueError, match="T"):
        get_sqrt_ratio_at_tick(tick)


@pytest.mark.parametrize("sqrt_price", [0, MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO, 2**160])
def test_sqrt_price_out_of_range_is_refused(sqrt_price):
    with pytest.raises(ValueError, match="R"):
        get_tick_at_sqrt_ratio(sqrt_price)


@settings(max_examples=1500, deadline=None)
@given(ticks)
def test_tick_round_trip_and_floor_property(tick):
    sqrt_price = get_sqrt_ratio_at_tick(tick)
    if tick < MAX_TICK:
        assert get_tick_at_sqrt_ratio(sqrt_price) == tick
        # One wei below the ratio of a tick belongs to the tick below.
        if tick > MIN_TICK:
            assert get_tick_at_sqrt_ratio(sqrt_price - 1) == tick - 1
        assert get_sqrt_ratio_at_tick(tick + 1) > sqrt_price


@settings(max_examples=1500, deadline=None)
@given(sqrt_prices)
def test_tick_at_sqrt_ratio_is_the_largest_tick_not_above(sqrt_price):
    tick = get_tick_at_sqrt_ratio(sqrt_price)
    assert get_sqrt_ratio_at_tick(tick) <= sqrt_price
    assert tick == MAX_TICK or get_sqrt_ratio_at_tick(tick + 1) > sqrt_price


@settings(max_examples=300, deadline=None)
@given(st.integers(-50_000, 50_000))
def test_sqrt_ratio_matches_float_formula_where_floats_are_exact_enough(tick):
    expected = math.sqrt(1.0001**tick) * Q96
    assert get_sqrt_ratio_at_tick(tick) == pytest.approx(expected, rel=1e-12)


def test_monotonic_over_a_dense_sample():
    sample = range(MIN_TICK, MAX_TICK + 1, 997)
    ratios = [get_sqrt_ratio_at_tick(t) for t in sample]
    assert all(a < b for a, b in itertools.pairwise(ratios))
