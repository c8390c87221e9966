"""Entry judged at σ̂ over the fee rate's own window, and no move into a range
whose expected carry is below the entry threshold, on constructed views."""

import dataclasses
import math

import pytest

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.rules import Action, decide
from strategies.lp.volatility import EwmaVolatility
from tests.lp.lp_views import PRICE, flat, held
from tests.lp.test_lp_carry_rules import BAND, fee_rate_for, with_carry


def test_entry_is_judged_at_the_fee_windows_sigma():
    view = with_carry(0.55, flat)  # σ̂ 0.6, known exactly: enters
    assert decide(view, BAND).executed_gate
    # The fee rate's window saw σ 0.7 (a volatile hour the last half hour forgot): its fees were
    # that hour's, so the carry is judged at 0.7 and the pool is not entered.
    volatile = dataclasses.replace(view, fee_window_sigma_annual=0.7, fee_window_sigma_rel_error=0.0)
    d = decide(volatile, BAND)
    assert d.numbers["sigma_entry"] == 0.7
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason.endswith("expected carry below entry")
    # A calmer window is judged at its σ̂ too: its fees were a calm window's.
    calm = dataclasses.replace(view, fee_window_sigma_annual=0.5, fee_window_sigma_rel_error=0.0)
    d = decide(calm, BAND)
    assert d.numbers["sigma_entry"] == 0.5 and d.executed_gate
    # ... as far as its own error allows (it has no prior: early on it can be anything).
    young = dataclasses.replace(calm, fee_window_sigma_rel_error=0.5)
    lvr_rate = 0.5**2 * math.sqrt(PRICE) / 4.0 / SECONDS_PER_YEAR
    d = decide(young, BAND)
    assert d.numbers["fee_rate_entry"] == pytest.approx(view.fee_rate - 2 * (2 * 0.5 * lvr_rate), rel=1e-12)
    assert not d.executed_gate


def test_the_held_rules_keep_the_recent_sigma():
    kept = with_carry(0.55, held)
    volatile = dataclasses.replace(kept, fee_window_sigma_annual=1.5, fee_window_sigma_rel_error=0.05)
    assert decide(volatile, BAND).numbers == decide(kept, BAND).numbers


def test_no_move_into_a_range_below_the_entry_threshold():
    # Best carry 0.3: between exit (0.1) and entry (0.5), a held position stays (hysteresis) ...
    fee_rate = fee_rate_for(0.3, flat, BAND)
    best_w = decide(flat(fee_rate=fee_rate), BAND).half_width
    out = held(w=best_w, fee_rate=fee_rate, price=PRICE * 1.2)
    d = decide(out, BAND)
    assert BAND.exit_carry_apr < d.numbers["carry_apr"] < BAND.enter_carry_apr
    # ... but out of range it is not recentred: a close and an open for a range not worth entering.
    assert (d.action, d.executed_gate) == (Action.HOLD, False)
    assert d.reason == "out of range: no range pays to move into"
    # Above the entry threshold the same position is recentred.
    paying = held(w=best_w, fee_rate=fee_rate_for(0.9, flat, BAND), price=PRICE * 1.2)
    d = decide(paying, BAND)
    assert d.numbers["carry_apr"] > BAND.enter_carry_apr
    assert (d.action, d.reason, d.executed_gate) == (Action.RECENTRE, "out of range", True)


def test_a_losing_range_with_no_range_worth_entering_is_withdrawn_not_moved():
    # ±0.5 % at a fee rate whose best range (±7 %) carries 0.3: the narrow range, diluted, loses
    # 191 token1 over the day; a widen would pay, but no range clears the entry threshold.
    fee_rate = fee_rate_for(0.3, flat, BAND)
    d = decide(held(w=0.005, fee_rate=fee_rate), BAND)
    assert BAND.exit_carry_apr < d.numbers["carry_apr"] < BAND.enter_carry_apr
    assert d.numbers["move_gain_token1"] > 0.0  # the move rule would fire
    assert (d.action, d.reason, d.executed_gate) == (Action.WITHDRAW, "no range pays to move into", True)
    assert d.numbers["benefit_token1"] == -d.numbers["keep_token1"] > d.numbers["cost_token1"] == 5.0
    # The best range itself, in range, earns: held, whatever the threshold.
    assert decide(with_carry(0.3, held), BAND).action is Action.HOLD


def test_volatility_standard_error_from_the_effective_sample_count():
    v = EwmaVolatility.from_sigma(1e12, 0.5, 0.0)  # no prior, a half-life far longer than the run
    assert v.rel_error() == 1.0  # nothing seen
    price = 3000.0
    for i in range(201):  # 200 returns of equal weight
        v.update(price * (1.001 if i % 2 else 1.0), i * 10**9)
    assert v.samples == 200
    assert v.rel_error() == pytest.approx(math.sqrt(1 / 400), rel=1e-6)
    prior = EwmaVolatility.from_sigma(1800.0, 0.8, 300.0)
    assert prior.rel_error() == pytest.approx(math.sqrt(0.5))  # the prior counts as one sample
