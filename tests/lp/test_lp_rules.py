"""Pure LP rules: σ estimate, range width and ticks for known σ, token split, the gates."""

import math

import numpy as np
import pytest

from amm.analytics import v3_amounts
from amm.attribution import SECONDS_PER_YEAR
from amm.math.conversions import price_to_tick, tick_to_price
from strategies.lp.params import LpManagerParams
from strategies.lp.ranges import at_edge, choose_range, liquidity_for_value, range_half_width, split_for_range
from strategies.lp.rules import Action, PoolView, decide
from strategies.lp.volatility import EwmaVolatility

D0, D1 = 18, 6
RULES = LpManagerParams(kind="lp_manager", pools=["uni"]).rules()


def test_ewma_volatility_recovers_the_sigma_of_a_gbm():
    rng = np.random.default_rng(1)
    vol = EwmaVolatility(half_life_s=86_400.0)
    assert vol.sigma_annual(fallback=0.5) == 0.5
    sigma, dt = 0.8, 30.0
    price = 3000.0
    for i in range(20_000):
        vol.update(price, int(i * dt * 1e9))
        price *= math.exp(sigma * math.sqrt(dt / SECONDS_PER_YEAR) * rng.standard_normal())
    assert vol.sigma_annual(fallback=0.0) == pytest.approx(0.8, rel=0.05)


@pytest.mark.parametrize(
    ("sigma", "expected_w"),
    [(0.5, 2 * 0.5 * math.sqrt(1 / 365)), (0.8, 2 * 0.8 * math.sqrt(1 / 365)), (0.01, 0.005), (50.0, 1.0)],
)
def test_half_width_is_k_sigma_root_horizon_clipped(sigma, expected_w):
    assert range_half_width(sigma, 86_400, 2.0, 0.005, 1.0) == pytest.approx(expected_w, rel=1e-12)


def test_range_for_known_sigma_is_snapped_outward_to_the_spacing():
    w = range_half_width(0.8, 86_400, 2.0, 0.005, 1.0)  # 8.37 % each side
    choice = choose_range(3000.0, w, skew=0.0, tick_spacing=10, decimals0=D0, decimals1=D1)
    assert w == pytest.approx(0.083747, abs=1e-6)
    assert choice.tick_lower % 10 == 0 and choice.tick_upper % 10 == 0
    # Outward: the snapped range contains the asked one, by less than one spacing each side.
    assert choice.tick_lower <= price_to_tick(3000 * math.exp(-w), D0, D1) < choice.tick_lower + 10
    assert choice.tick_upper - 10 < price_to_tick(3000 * math.exp(w), D0, D1) + 1 <= choice.tick_upper + 1
    # ln(P·1e-12)/ln(1.0001) = −197093.9 and −195418.8: floored / ceiled to multiples of 10.
    assert (choice.tick_lower, choice.tick_upper) == (-197_100, -195_410)
    assert choice.price_lower == pytest.approx(tick_to_price(-197_100, D0, D1))
    assert choice.price_lower == pytest.approx(1.0001**-197_100 * 1e12, rel=1e-9)
    assert choice.price_upper == pytest.approx(1.0001**-195_410 * 1e12, rel=1e-9)
    skewed = choose_range(3000.0, w, skew=0.5, tick_spacing=10, decimals0=D0, decimals1=D1)
    assert skewed.price_lower == pytest.approx(3000 * math.exp(-w / 2), rel=1e-3)
    assert skewed.price_upper == pytest.approx(3000 * math.exp(1.5 * w), rel=1e-3)
    with pytest.raises(ValueError, match="skew"):
        choose_range(3000.0, w, skew=1.0, tick_spacing=10, decimals0=D0, decimals1=D1)


def test_split_gives_the_range_ratio():
    lo, hi = 2700.0, 3300.0
    for w0, w1 in ((10.0, 0.0), (0.0, 30_000.0), (5.0, 15_000.0)):
        zero_for_one, amount = split_for_range(w0, w1, 3000.0, lo, hi)
        x = w0 - amount if zero_for_one else w0 + amount / 3000.0
        y = w1 + amount * 3000.0 if zero_for_one else w1 - amount
        xu, yu = v3_amounts(3000.0, 1.0, lo, hi)
        assert x / y == pytest.approx(float(xu / yu), rel=1e-9)
        assert x * 3000 + y == pytest.approx(w0 * 3000 + w1)
    assert liquidity_for_value(30_000.0, 3000.0, lo, hi) * float(xu * 3000 + yu) == pytest.approx(30_000.0)


def test_edge_band():
    assert at_edge(2700.0, 2700.0, 3300.0, 0.1) and at_edge(3400.0, 2700.0, 3300.0, 0.1)
    assert at_edge(3290.0, 2700.0, 3300.0, 0.1) and not at_edge(3000.0, 2700.0, 3300.0, 0.1)


def view(**kw) -> PoolView:
    base = dict(
        now_ns=10**13, price=3000.0, sigma_annual=0.8, fee_rate=2e-5, capital_token1=30_000.0,
        gas_open_token1=3.0, gas_close_token1=2.0, gas_compound_token1=2.0, swap_cost_token1=5.0,
    )  # fmt: skip
    base.update(kw)
    return PoolView(**base)


def held(**kw) -> PoolView:
    base = dict(liquidity=1500.0, price_lower=2760.0, price_upper=3262.0, value_token1=30_000.0,
                sigma_at_open=0.8, half_width=0.0837, last_action_ns=0)  # fmt: skip
    base.update(kw)
    return view(**base)


def test_open_is_gated_by_gas_and_by_the_reentry_level():
    d = decide(view(), RULES)
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    assert d.numbers["benefit_token1"] > d.numbers["cost_token1"] == 10.0
    d = decide(view(gas_open_token1=1e9), RULES)
    assert (d.action, d.executed_gate) == (Action.OPEN, False) and "gas" in d.reason
    d = decide(view(fee_rate=0.0), RULES)  # no fees seen yet: entering only pays LVR
    assert not d.executed_gate
    d = decide(view(sigma_annual=1.7), RULES)  # above 0.8 × 2.0: stay out
    assert (d.action, d.executed_gate) == (Action.HOLD, False)


def test_position_rules_in_priority_order():
    assert decide(held(), RULES).action is Action.HOLD
    d = decide(held(sigma_annual=2.5, sigma_at_open=2.4), RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, True)
    d = decide(held(price=3400.0, edge_since_ns=10**13 - 200 * 10**9), RULES)
    assert (d.action, d.reason, d.executed_gate) == (Action.RECENTRE, "out of range", True)
    d = decide(held(price=3400.0, edge_since_ns=10**13 - 60 * 10**9), RULES)  # not out for long enough
    assert d.action is Action.HOLD
    d = decide(held(sigma_annual=1.5), RULES)  # 1.5 / 0.8 > 1.5
    assert (d.action, d.reason) == (Action.RECENTRE, "volatility regime change")
    d = decide(held(lvr_since_open_token1=700.0), RULES)  # budget 2 % of 30k = 600
    assert (d.action, d.executed_gate) == (Action.WIDEN, True)
    assert d.half_width == pytest.approx(0.0837 * 1.5)
    d = decide(held(pending_fees_token1=50.0), RULES)  # 20 × 2 = 40 of gas
    assert (d.action, d.executed_gate) == (Action.COMPOUND, True)
    d = decide(held(pending_fees_token1=30.0), RULES)
    assert d.action is Action.HOLD
    # out of range (waiting out the delay) fees are not compounded into a range that earns nothing
    d = decide(held(price=3400.0, edge_since_ns=10**13 - 60 * 10**9, pending_fees_token1=50.0), RULES)
    assert d.action is Action.HOLD


def test_every_action_waits_for_the_minimum_interval_and_for_gas():
    recent = 10**13 - 100 * 10**9  # 100 s ago, minimum 600 s
    d = decide(held(price=3400.0, edge_since_ns=0, last_action_ns=recent), RULES)
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False) and "min interval" in d.reason
    d = decide(held(price=3400.0, edge_since_ns=0, gas_open_token1=1e9), RULES)
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False) and "gas" in d.reason
    d = decide(held(sigma_annual=2.5, gas_close_token1=1e9), RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False)


def test_manipulation_guard_refuses_every_action_while_the_pool_is_off_the_cex_mid():
    assert RULES.max_pool_deviation_bps == 100.0
    d = decide(view(pool_price=3000.0 * 1.02), RULES)  # pool 200 bp above the CEX mid
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason == "flat: enter; refused: pool price off fair"
    assert d.numbers["pool_deviation_bps"] == pytest.approx(200.0)
    d = decide(view(pool_price=3000.0 * (1 - 0.0099)), RULES)  # 99 bp: inside the guard
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    assert d.numbers["pool_deviation_bps"] == pytest.approx(99.0)
    d = decide(held(price=3400.0, edge_since_ns=0, pool_price=3300.0), RULES)  # 294 bp below
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False)
    assert d.reason == "out of range; refused: pool price off fair"
    d = decide(held(sigma_annual=2.5, sigma_at_open=2.4, pool_price=2900.0), RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False)
    assert "pool_deviation_bps" not in decide(view(), RULES).numbers  # not measured: no check


def test_pool_spot_off_its_own_twap_refuses_even_when_the_cex_agrees():
    d = decide(view(pool_price=3000.0, pool_twap_price=3000.0 * 1.015), RULES)  # pushed within the window
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason == "flat: enter; refused: pool price off its TWAP"
    assert d.numbers["twap_deviation_bps"] == pytest.approx(10_000 * (1 - 1 / 1.015))
    d = decide(view(pool_price=3000.0, pool_twap_price=3000.0 * 1.005), RULES)  # 50 bp: inside
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    assert "twap_deviation_bps" not in decide(view(pool_price=3000.0), RULES).numbers  # no oracle


def test_above_the_ceiling_nothing_reopens_or_adds_liquidity():
    # Far out of range above, σ̂ over the ceiling: the position bears no LVR, so pulling it does not pay
    # its gas; the recentre (and a compound) that would fire below the ceiling must not.
    out = held(price=4500.0, edge_since_ns=0, sigma_annual=2.5, sigma_at_open=2.4, pending_fees_token1=500.0)
    d = decide(out, RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False) and "gas" in d.reason
    calmer = decide(held(price=4500.0, edge_since_ns=0, sigma_annual=1.9, sigma_at_open=2.4), RULES)
    assert (calmer.action, calmer.reason, calmer.executed_gate) == (Action.RECENTRE, "out of range", True)
