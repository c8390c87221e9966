import numpy as np
import pytest

from amm import analytics as an
from amm.math.liquidity_amounts import get_amounts_for_liquidity
from amm.math.tick_math import get_sqrt_ratio_at_tick

Q96 = 2**96
L = 10**18
TICK_LOWER, TICK_UPPER = -600, 900


def raw_price(tick: int) -> float:
    return (get_sqrt_ratio_at_tick(tick) / Q96) ** 2


PA, PB = raw_price(TICK_LOWER), raw_price(TICK_UPPER)


def test_amounts_agree_with_the_exact_integer_functions():
    ticks = np.arange(-1500, 1800, 37)
    x, y = an.v3_amounts([raw_price(int(t)) for t in ticks], L, PA, PB)
    sa, sb = get_sqrt_ratio_at_tick(TICK_LOWER), get_sqrt_ratio_at_tick(TICK_UPPER)
    for i, t in enumerate(ticks):
        exact0, exact1 = get_amounts_for_liquidity(get_sqrt_ratio_at_tick(int(t)), sa, sb, L)
        assert x[i] == pytest.approx(exact0, rel=1e-9, abs=2)
        assert y[i] == pytest.approx(exact1, rel=1e-9, abs=2)
    assert x[ticks >= TICK_UPPER].max() == 0 and y[ticks <= TICK_LOWER].max() == 0


def test_delta_and_gamma_match_finite_differences():
    prices = np.array([0.9, 0.97, 1.0, 1.03, 1.08, 1.2])  # below, inside, above [0.9418, 1.0942]
    h = 1e-6
    value = lambda p: an.v3_value(p, L, PA, PB)  # noqa: E731
    fd_delta = (value(prices + h) - value(prices - h)) / (2 * h)
    np.testing.assert_allclose(an.v3_delta(prices, L, PA, PB), fd_delta, rtol=1e-6, atol=1e-12 * L)
    delta = lambda p: an.v3_delta(p, L, PA, PB)  # noqa: E731
    fd_gamma = (delta(prices + h) - delta(prices - h)) / (2 * h)
    np.testing.assert_allclose(an.v3_gamma(prices, L, PA, PB), fd_gamma, rtol=1e-5, atol=1e-12 * L)
    assert an.v3_gamma(prices, L, PA, PB)[[0, 5]].tolist() == [0.0, 0.0]
    # v2
    fd_v2 = (an.v2_value(prices + h, L) - an.v2_value(prices - h, L)) / (2 * h)
    np.testing.assert_allclose(an.v2_delta(prices, L), fd_v2, rtol=1e-6)
    fd_v2g = (an.v2_delta(prices + h, L) - an.v2_delta(prices - h, L)) / (2 * h)
    np.testing.assert_allclose(an.v2_gamma(prices, L), fd_v2g, rtol=1e-5)


def test_il_vs_hodl_closed_form_and_direct_difference():
    p0 = 1.0
    prices = np.linspace(0.8, 1.3, 51)
    il = an.v3_il_vs_hodl(prices, p0, L, PA, PB)
    x0, y0 = an.v3_amounts(p0, L, PA, PB)
    direct = an.v3_value(prices, L, PA, PB) - an.hodl_value(prices, x0, y0)
    np.testing.assert_allclose(il, direct, rtol=1e-9, atol=1e-6 * L)
    inside = (prices > PA) & (prices < PB)
    closed = -L * (np.sqrt(prices) - np.sqrt(p0)) ** 2 / np.sqrt(p0)
    np.testing.assert_allclose(il[inside], closed[inside], rtol=1e-9, atol=1e-9 * L)
    assert (il <= 1e-9 * L).all()
    # Outside the range the loss grows linearly in P.
    above = prices[prices > PB]
    slope = np.diff(an.v3_il_vs_hodl(above, p0, L, PA, PB)) / np.diff(above)
    np.testing.assert_allclose(slope, slope[0], rtol=1e-9)
    assert an.v3_il_fraction(p0, p0, L, PA, PB) == 0.0


def test_v2_il_known_value_and_lvr_share():
    assert float(an.v2_il_fraction(1.5, 1.0)) == pytest.approx(-0.020204, abs=1e-6)
    sigma = 0.6
    ratio = an.v2_lvr_rate(2500.0, sigma, 1e3) / an.v2_value(2500.0, 1e3)
    assert float(ratio) == pytest.approx(sigma**2 / 8)  # 4.5 %/yr at σ = 60 %/yr


def test_v3_lvr_is_sigma2_l_sqrtp_over_4_in_range_and_zero_outside():
    prices = np.array([0.9, 1.0, 1.05, 1.2])
    lvr = an.v3_lvr_rate(prices, 0.8, L, PA, PB)
    np.testing.assert_allclose(lvr[1:3], 0.8**2 * L * np.sqrt(prices[1:3]) / 4, rtol=1e-12)
    assert lvr[0] == 0.0 and lvr[3] == 0.0


def test_break_even_volatility_equates_fees_and_lvr():
    fee, vol, l_active, price = 0.003, 5e6, 4e6, 2500.0
    sigma_be = float(an.break_even_volatility(fee, vol, l_active, price))
    own_l = 1e3
    fees = fee * vol * own_l / l_active
    assert fees == pytest.approx(sigma_be**2 * own_l * np.sqrt(price) / 4, rel=1e-12)


def test_broadcasting_over_grid_and_positions():
    grid = np.linspace(0.5, 2.0, 7)
    liquidity = np.array([[1.0], [2.0], [3.0]])
    value = an.v3_value(grid, liquidity, 0.8, 1.25)
    assert value.shape == (3, 7)
    np.testing.assert_allclose(value[2], 3 * value[0])
