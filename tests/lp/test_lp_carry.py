"""The carry model: liquidity per value, LVR per value, occupation and exit times, and the width
optimiser against a brute-force grid of the same carry function."""

import dataclasses
import itertools
import math

import numpy as np
import pytest

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.carry import (
    HedgeCosting,
    PoolEconomics,
    liquidity_per_token1,
    optimal_half_width,
    range_survival,
    steady_carry_per_s,
    time_in_range_s,
)
from strategies.lp.ranges import liquidity_for_value
from tests.lp.lp_views import CAPITAL, FEE_RATE, OTHERS_L, PRICE

DAY_S = 86_400.0


def economics(sigma: float = 0.6, fee_rate: float = FEE_RATE, pool_l: float = OTHERS_L, cost: float = 22.0):
    return PoolEconomics(PRICE, sigma, fee_rate, pool_l, 0.0, CAPITAL, cost, 30.0)


@pytest.mark.parametrize("w", [0.005, 0.05, 0.5, 1.0])
def test_liquidity_per_value_is_the_v3_amounts_one(w):
    lo, hi = PRICE * math.exp(-w), PRICE * math.exp(w)
    assert liquidity_per_token1(PRICE, w) * CAPITAL == pytest.approx(
        liquidity_for_value(CAPITAL, PRICE, lo, hi)
    )


def test_lvr_per_value_is_sigma_squared_over_four_w_for_narrow_ranges_and_an_eighth_full_range():
    e = economics(sigma=0.6)
    for w in (0.001, 0.01):
        per_value = e.lvr_per_s(liquidity_per_token1(PRICE, w)) * SECONDS_PER_YEAR
        assert per_value == pytest.approx(0.36 / (4 * w), rel=w)  # the notes' σ²/(4w)
    wide = e.lvr_per_s(liquidity_per_token1(PRICE, 60.0)) * SECONDS_PER_YEAR
    assert wide == pytest.approx(0.36 / 8, rel=1e-9)  # v2: σ²/8


def test_fees_are_our_share_of_the_pool_flow():
    e = economics()
    flow = FEE_RATE * OTHERS_L
    assert e.fee_per_s(OTHERS_L) == pytest.approx(flow / 2)  # as much L as everyone else: half
    assert e.fee_per_s(1e12) == pytest.approx(flow, rel=1e-6)  # saturates at the whole flow
    assert economics(pool_l=0.0).fee_per_s(1000.0) == pytest.approx(FEE_RATE * 1000.0)  # no dilution figure


def test_time_in_range_matches_the_integral_of_the_normal_cdf():
    sigma, lo, hi = 0.8, PRICE * 0.97, PRICE * 1.05
    t = (np.arange(20_000) + 0.5) * DAY_S / 20_000  # midpoints
    s = sigma * np.sqrt(t / SECONDS_PER_YEAR)
    cdf = np.vectorize(lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)))
    for p in (3000.0, 2950.0, 3300.0):  # inside, below, above
        inside = cdf(math.log(hi / p) / s) - cdf(math.log(lo / p) / s)
        assert time_in_range_s(p, lo, hi, sigma, DAY_S) == pytest.approx(inside.mean() * DAY_S, rel=1e-3)


def test_survival_and_expected_life_of_a_range():
    # Far longer than the mean exit time: it leaves for sure, after d1·d2/σ² on average.
    survive, life = range_survival(PRICE, PRICE * math.exp(-0.01), PRICE * math.exp(0.02), 0.6, 1e9)
    assert survive == pytest.approx(0.0, abs=1e-12)
    assert life == pytest.approx(0.01 * 0.02 / 0.36 * SECONDS_PER_YEAR, rel=1e-9)
    # A day with σ√T ≈ 3 %: a ±60 % range survives almost surely, a ±1 % one almost never.
    assert range_survival(PRICE, PRICE * math.exp(-0.6), PRICE * math.exp(0.6), 0.6, DAY_S)[0] > 0.999
    assert range_survival(PRICE, PRICE * math.exp(-0.01), PRICE * math.exp(0.01), 0.6, DAY_S)[0] < 0.01
    # The two regimes of the computation (series, one-edge formulas) agree where they meet.
    for d in (0.105, 0.11, 0.2):
        lo, hi = PRICE * math.exp(-d), PRICE * math.exp(d)
        survive, life = range_survival(PRICE, lo, hi, 0.3, DAY_S)
        assert 0.0 < survive <= 1.0 and 0.0 < life <= DAY_S


ECONOMIES = [
    economics(sigma=0.3),
    economics(sigma=0.6),
    economics(sigma=0.95),
    economics(sigma=1.3),  # above break-even: every width loses, the widest least
    economics(sigma=0.6, pool_l=0.0),  # no dilution: fees linear in L
    economics(sigma=0.6, fee_rate=4 * FEE_RATE, cost=200.0),
    dataclasses.replace(economics(sigma=0.6), hedge=HedgeCosting(0.25, 5.5e-4, 12.0)),  # hedged
]


@pytest.mark.parametrize("e", ECONOMIES)
def test_width_optimiser_matches_a_brute_force_grid(e):
    lo, hi = 0.005, 1.0
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 20_001))
    carry = np.array([steady_carry_per_s(e, float(w)) for w in grid])
    best = int(np.argmax(carry))
    found = optimal_half_width(e, lo, hi)
    assert lo <= found.half_width <= hi
    assert found.carry_per_s == pytest.approx(steady_carry_per_s(e, found.half_width))
    assert found.carry_per_s >= carry[best] - 1e-12 * abs(carry[best])  # at least the grid's best
    step = math.log(hi / lo) / 20_000
    assert abs(math.log(found.half_width / grid[best])) <= 2 * step  # within the grid's resolution


def test_higher_sigma_widens_the_range_until_the_pool_does_not_pay():
    widths, carries = [], []
    for sigma in np.linspace(0.2, 1.4, 25):
        best = optimal_half_width(economics(sigma=float(sigma)), 0.005, 1.0)
        widths.append(best.half_width)
        carries.append(best.carry_per_s)
    assert all(b >= a * (1 - 1e-6) for a, b in itertools.pairwise(widths))
    assert all(b < a for a, b in itertools.pairwise(carries))
    assert widths[0] < 0.01 and widths[-1] == pytest.approx(1.0) and carries[-1] < 0 < carries[0]


def test_higher_fee_rate_narrows_the_range():
    widths = [optimal_half_width(economics(sigma=0.9, fee_rate=FEE_RATE * k), 0.005, 1.0).half_width
              for k in (0.7, 1.0, 1.5, 2.0, 4.0)]  # fmt: skip
    assert all(b < a for a, b in itertools.pairwise(widths))


def test_a_requested_width_is_judged_as_the_range_it_opens_snapped_outward():
    # A 0.3 % pool's spacing: 60 ticks, 0.6 % in log price; snapping adds half of it each side.
    e, snap = (
        dataclasses.replace(economics(), hedge=HedgeCosting(0.25, 5.5e-4, 12.0)),
        60 * math.log(1.0001) / 2,
    )
    lo, hi = snap, 1.0
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 20_001))
    carry = np.array([steady_carry_per_s(e, float(w) + snap) for w in grid])
    found = optimal_half_width(e, lo, hi, snap)
    assert found.carry_per_s == pytest.approx(steady_carry_per_s(e, found.half_width + snap))
    assert found.carry_per_s >= carry.max() - 1e-12 * abs(carry.max())
    # What it asks for opens the unsnapped optimum: half a spacing narrower than that.
    unsnapped = optimal_half_width(e, lo, hi)
    assert found.half_width + snap == pytest.approx(unsnapped.half_width, rel=1e-3)


def test_the_hedge_cost_follows_the_pool_price_own_sigma():
    # The position's delta moves with the pool, which waits inside its fee band: a pool moving
    # at half the fair σ costs a quarter of the hedge trading; fees and LVR stay the fair's.
    hedged = dataclasses.replace(economics(sigma=0.6), hedge=HedgeCosting(0.25, 5.5e-4, 0.0))
    lazy = dataclasses.replace(hedged, hedge_sigma_annual=0.3)
    liquidity = CAPITAL * liquidity_per_token1(PRICE, 0.01)
    assert lazy.hedge_per_s(liquidity) == pytest.approx(hedged.hedge_per_s(liquidity) / 4)
    assert lazy.lvr_per_s(liquidity) == hedged.lvr_per_s(liquidity)
    # Judged at another σ (the entry's pessimistic one, a move's σ̂ ± its error): scaled alike.
    assert lazy.at(0.9, CAPITAL).hedge_sigma == pytest.approx(0.45)
    assert optimal_half_width(lazy, 0.005, 1.0).half_width < optimal_half_width(hedged, 0.005, 1.0).half_width
