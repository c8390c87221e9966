"""Pure LP rules: σ estimate, range ticks for a known width, token split, the gates and guards.
(The carry rules and the width optimiser: test_lp_carry_rules.py, test_lp_carry.py.)"""

import math

import numpy as np
import pytest

from amm.analytics import v3_amounts
from amm.attribution import SECONDS_PER_YEAR
from amm.math.conversions import price_to_tick, tick_to_price
from strategies.lp.params import LpManagerParams
from strategies.lp.ranges import choose_range, liquidity_for_value, split_for_range
from strategies.lp.rules import Action, decide
from strategies.lp.volatility import EwmaVolatility
from tests.lp.lp_views import flat, held

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


def test_range_for_a_known_width_is_snapped_outward_to_the_spacing():
    w = 2 * 0.8 * math.sqrt(1 / 365)  # 8.37 % each side
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


def test_open_is_gated_by_the_entry_threshold_gas_and_the_reentry_level():
    d = decide(flat(), RULES)
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    assert d.numbers["benefit_token1"] > d.numbers["cost_token1"] * RULES.gas_margin
    assert d.numbers["cost_token1"] == 7.0 + 5.0 + 10.0  # open, later close, ratio swap
    # A one-off ratio swap the day's carry does not pay (later recentres swap less: 10)
    d = decide(flat(swap_cost_token1=400.0, recentre_swap_cost_token1=10.0), RULES)
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason.endswith("benefit below gas + swap")
    d = decide(flat(gas_open_token1=1e9), RULES)  # gas that high sinks the carry itself (every recentre)
    assert (d.action, d.executed_gate) == (Action.OPEN, False) and d.reason.endswith("carry below entry")
    d = decide(flat(fee_rate=0.0), RULES)  # no fees seen yet: entering only pays LVR
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason.endswith("expected carry below entry") and d.numbers["carry_apr"] < 0
    d = decide(flat(sigma_annual=1.7), RULES)  # above 0.8 × 2.0 (the safety ceiling): stay out
    assert (d.action, d.reason) == (Action.HOLD, "flat: volatility above re-entry level")


def test_every_action_waits_for_the_minimum_interval_and_for_gas():
    recent = 10**13 - 100 * 10**9  # 100 s ago, minimum 600 s
    d = decide(held(price=3400.0, last_action_ns=recent), RULES)
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False) and "min interval" in d.reason
    d = decide(held(price=3400.0, swap_cost_token1=1e6, recentre_swap_cost_token1=10.0), RULES)
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False) and "gas" in d.reason
    d = decide(held(sigma_annual=2.5, gas_close_token1=1e9), RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False)


def test_manipulation_guard_refuses_every_action_while_the_pool_is_off_the_cex_mid():
    assert RULES.max_pool_deviation_bps == 100.0
    d = decide(flat(pool_price=3000.0 * 1.02), RULES)  # pool 200 bp above the CEX mid
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason == "flat: enter; refused: pool price off fair"
    assert d.numbers["pool_deviation_bps"] == pytest.approx(200.0)
    d = decide(flat(pool_price=3000.0 * (1 - 0.0099)), RULES)  # 99 bp: inside the guard
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    assert d.numbers["pool_deviation_bps"] == pytest.approx(99.0)
    d = decide(held(price=3400.0, pool_price=3300.0), RULES)  # 294 bp below
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False)
    assert d.reason == "out of range; refused: pool price off fair"
    d = decide(held(sigma_annual=2.5, pool_price=2900.0), RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False)
    assert "pool_deviation_bps" not in decide(flat(), RULES).numbers  # not measured: no check


def test_pool_spot_off_its_own_twap_refuses_even_when_the_cex_agrees():
    d = decide(flat(pool_price=3000.0, pool_twap_price=3000.0 * 1.015), RULES)  # pushed within the window
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason == "flat: enter; refused: pool price off its TWAP"
    assert d.numbers["twap_deviation_bps"] == pytest.approx(10_000 * (1 - 1 / 1.015))
    d = decide(flat(pool_price=3000.0, pool_twap_price=3000.0 * 1.005), RULES)  # 50 bp: inside
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    assert "twap_deviation_bps" not in decide(flat(pool_price=3000.0), RULES).numbers  # no oracle


def test_above_the_ceiling_nothing_reopens_or_adds_liquidity():
    # Far out of range above, σ̂ over the ceiling: the position bears no LVR, so pulling it does not pay
    # its gas; the recentre (and a compound) that would fire below the ceiling must not.
    out = held(price=4500.0, sigma_annual=2.5, pending_fees_token1=500.0)
    d = decide(out, RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False) and "gas" in d.reason
    calm = decide(held(price=4500.0, sigma_annual=0.6), RULES)
    assert (calm.action, calm.reason, calm.executed_gate) == (Action.RECENTRE, "out of range", True)
