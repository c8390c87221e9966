"""IL, greeks and LVR against the exact integer value function; PnL attribution adds up."""

import math

import numpy as np
import pytest

from amm.analytics import v3_delta, v3_gamma, v3_il_vs_hodl, v3_lvr_rate, v3_value
from amm.attribution import (
    SECONDS_PER_YEAR,
    LvrMeter,
    attribute_pnl,
    exact_position_amounts,
    expected_lvr,
    human_liquidity,
    il_from_amounts,
    realized_lvr,
)
from amm.math.conversions import price_to_sqrt_price_x96, tick_to_price

D0, D1 = 18, 6
TICK_LOWER, TICK_UPPER = -200_310, -192_200  # about 2000 .. 4500 USDC per WETH
L_RAW = 10**15  # about 1000 in human units: a position worth ~30k USDC


def exact_value(price: float) -> float:
    """The position's value from the integer LiquidityAmounts at a human price."""
    x, y = exact_position_amounts(
        price_to_sqrt_price_x96(price, D0, D1), TICK_LOWER, TICK_UPPER, L_RAW, D0, D1
    )
    return x * price + y


def bounds() -> tuple[float, float, float]:
    return (
        human_liquidity(L_RAW, D0, D1),
        tick_to_price(TICK_LOWER, D0, D1),
        tick_to_price(TICK_UPPER, D0, D1),
    )


@pytest.mark.parametrize("price", [2100.0, 2999.5, 3000.0, 3777.7, 4400.0])
def test_value_delta_gamma_match_finite_differences_of_the_exact_value(price):
    liq, lo, hi = bounds()
    assert v3_value(price, liq, lo, hi) == pytest.approx(exact_value(price), rel=1e-9)
    d = price * 2.5e-4  # small enough for the O(h²) error, large against 1e-6 USDC rounding
    fd_delta = (exact_value(price + d) - exact_value(price - d)) / (2 * d)
    h = price * 1e-3
    fd_gamma = (exact_value(price + h) - 2 * exact_value(price) + exact_value(price - h)) / h**2
    assert v3_delta(price, liq, lo, hi) == pytest.approx(fd_delta, rel=1e-5)  # O(h²) stencil error
    assert v3_gamma(price, liq, lo, hi) == pytest.approx(fd_gamma, rel=1e-3)
    assert v3_gamma(price, liq, lo, hi) < 0


@pytest.mark.parametrize(
    ("entry", "now"), [(3000.0, 3300.0), (3000.0, 2500.0), (2500.0, 4490.0), (3000.0, 5000.0)]
)
def test_closed_form_il_equals_il_from_exact_amounts(entry, now):
    liq, lo, hi = bounds()
    x0, y0 = exact_position_amounts(
        price_to_sqrt_price_x96(entry, D0, D1), TICK_LOWER, TICK_UPPER, L_RAW, D0, D1
    )
    x1, y1 = exact_position_amounts(
        price_to_sqrt_price_x96(now, D0, D1), TICK_LOWER, TICK_UPPER, L_RAW, D0, D1
    )
    exact = float(il_from_amounts(now, x1, y1, x0, y0))
    closed = float(v3_il_vs_hodl(now, entry, liq, lo, hi))
    assert exact < 0
    assert closed == pytest.approx(exact, rel=1e-7)
    if now < hi:  # in range: −L(√P − √P0)²/√P0
        assert closed == pytest.approx(
            -liq * (math.sqrt(now) - math.sqrt(entry)) ** 2 / math.sqrt(entry), rel=1e-9
        )


def test_realized_lvr_converges_to_the_expected_rate_on_a_fine_gbm_path():
    liq, lo, hi = bounds()
    sigma, n, dt_s = 0.8, 200_000, 1.0
    rng = np.random.default_rng(5)
    var = sigma**2 * dt_s / SECONDS_PER_YEAR
    log_p = np.log(3000.0) + np.cumsum(rng.normal(-0.5 * var, math.sqrt(var), n))
    prices = np.exp(np.concatenate(([np.log(3000.0)], log_p)))
    assert lo < prices.min() and prices.max() < hi  # stays in range: ℓ = σ²L√P/4 throughout
    realized = realized_lvr(prices, liq, lo, hi)
    expected = expected_lvr(prices[:-1], dt_s, sigma, liq, lo, hi)
    assert np.all(np.diff(realized) >= -1e-9)  # a concave value loses against rebalancing every step
    assert realized[-1] == pytest.approx(expected[-1], rel=0.02)
    # Identity of the decomposition: V(P_T) − V(P_0) = Σ x ΔP − LVR.
    x = v3_delta(prices[:-1], liq, lo, hi)
    change = v3_value(prices[-1], liq, lo, hi) - v3_value(prices[0], liq, lo, hi)
    assert change == pytest.approx(np.sum(x * np.diff(prices)) - realized[-1], rel=1e-9, abs=1e-6)


def test_lvr_meter_matches_the_vectorized_figures():
    liq, lo, hi = bounds()
    prices = [3000.0, 3010.0, 2990.0, 3050.0, 4600.0, 3000.0]
    meter = LvrMeter(liq, lo, hi, prices[0], 0)
    for i, p in enumerate(prices[1:], start=1):
        meter.observe(p, i * 60 * 10**9, 0.8)
    meter.observe(float("nan"), 10**12, 0.8)  # ignored
    assert meter.realized_token1 == pytest.approx(realized_lvr(prices, liq, lo, hi)[-1], rel=1e-12)
    assert meter.expected_token1 == pytest.approx(
        expected_lvr(prices[:-1], 60.0, 0.8, liq, lo, hi)[-1], rel=1e-12
    )
    # Out of range (4600 > upper) the rate is 0: the step that starts there adds nothing expected.
    assert v3_lvr_rate(4600.0, 0.8, liq, lo, hi) == 0


def test_attribution_adds_up_to_the_total_pnl():
    liq, lo, hi = bounds()
    prices = np.array([3000.0, 3100.0, 2950.0, 3200.0, 3150.0])
    hedge_gross = -float(np.sum(v3_delta(prices[:-1], liq, lo, hi) * np.diff(prices)))  # a perfect hedge
    att = attribute_pnl(
        prices,
        liq,
        lo,
        hi,
        fees_token1=40.0,
        gas_token1=3.0,
        hedge_cost_token1=2.5,
        swap_cost_token1=1.0,
        hedge_gross_pnl_token1=hedge_gross,
    )
    change = float(v3_value(prices[-1], liq, lo, hi) - v3_value(prices[0], liq, lo, hi))
    total = change + 40.0 - 3.0 - 2.5 - 1.0 + hedge_gross
    assert att.total_token1 == pytest.approx(total, rel=1e-9)
    assert att.net_token1 == pytest.approx(40.0 - att.lvr_token1 - 6.5)
    assert att.price_exposure_token1 == pytest.approx(0.0, abs=1e-6)  # perfectly hedged: only net is left
    assert att.lvr_token1 > 0
    assert att.il_token1 == pytest.approx(float(v3_il_vs_hodl(prices[-1], prices[0], liq, lo, hi)))
