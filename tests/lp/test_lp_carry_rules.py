"""The carry rules on constructed views: stay while the expected carry pays, exit when it turns
negative for long enough, hysteresis across the thresholds, moves only when they pay, no
compounding out of range or with a negative carry, and the config checks of the thresholds."""

import dataclasses
import math

import pytest
from pydantic import ValidationError

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.params import LpManagerParams
from strategies.lp.rules import Action, PoolView, Rules, decide
from tests.lp.lp_views import FEE_RATE, HELD_W, NOW_NS, PRICE, flat, held

RULES = LpManagerParams(kind="lp_manager", pools=["uni"]).rules()
# Thresholds far from zero, so the day's carry clears the entry's gas at both of them.
BAND = dataclasses.replace(RULES, enter_carry_apr=0.5, exit_carry_apr=0.1)
DELAY_NS = int(RULES.exit_delay_s * 1e9)


def fee_rate_for(carry_apr: float, make, rules: Rules) -> float:
    """The fee rate at which the best range's expected carry is `carry_apr` (bisection)."""
    lo, hi = 0.0, 100 * FEE_RATE
    for _ in range(60):
        mid = (lo + hi) / 2
        if decide(make(fee_rate=mid), rules).numbers["carry_apr"] < carry_apr:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def with_carry(carry_apr: float, make, rules: Rules = BAND, **kw) -> PoolView:
    """A view whose best expected carry is `carry_apr`; held, its range is that best one."""
    fee_rate = fee_rate_for(carry_apr, flat, rules)
    if make is held:
        kw = {"w": decide(flat(fee_rate=fee_rate), rules).half_width, **kw}
    view = make(fee_rate=fee_rate, **kw)
    assert decide(view, rules).numbers["carry_apr"] == pytest.approx(carry_apr, abs=1e-6)
    return view


def test_positive_carry_stays_and_negative_carry_exits_after_the_delay():
    d = decide(held(), RULES)  # σ 0.6, the range at about the best width
    assert (d.action, d.reason) == (Action.HOLD, "in range") and d.numbers["carry_apr"] > 1.0
    hot = held(sigma_annual=1.4)  # LVR above the fees at every width
    d = decide(hot, RULES)
    assert d.numbers["carry_apr"] < RULES.exit_carry_apr
    assert (d.action, d.reason) == (Action.HOLD, "carry below exit: waiting for the delay")
    d = decide(dataclasses.replace(hot, negative_carry_since_ns=NOW_NS - DELAY_NS + 10**9), RULES)
    assert d.action is Action.HOLD  # below exit for 1 s less than the delay
    d = decide(dataclasses.replace(hot, negative_carry_since_ns=NOW_NS - DELAY_NS), RULES)
    assert (d.action, d.reason, d.executed_gate) == (Action.WITHDRAW, "expected carry negative", True)
    assert d.numbers["benefit_token1"] > d.numbers["cost_token1"] == 5.0  # the loss avoided pays the close


def test_a_negative_carry_position_out_of_range_is_kept_it_loses_nothing():
    out = held(price=4500.0, sigma_annual=1.4, negative_carry_since_ns=0)
    d = decide(out, RULES)
    assert (d.action, d.executed_gate) == (Action.WITHDRAW, False) and "gas" in d.reason


def test_hysteresis_between_the_entry_and_exit_thresholds():
    between = 0.3  # below entry (0.5), above exit (0.1)
    d = decide(with_carry(between, held), BAND)
    assert d.action is Action.HOLD  # just below entry: a held position stays
    d = decide(with_carry(between, flat), BAND)
    assert (d.action, d.executed_gate) == (Action.OPEN, False)  # ... and a flat one does not enter
    assert d.reason == "flat: enter; refused: expected carry below entry"
    d = decide(with_carry(0.55, flat), BAND)
    assert (d.action, d.executed_gate) == (Action.OPEN, True)  # above entry: it does
    # Just below exit for the whole delay: the exit rule fires (and withdraws when the live range
    # itself loses more than the close costs; here it still earns, so it is kept, not moved).
    below = dataclasses.replace(with_carry(0.05, held), negative_carry_since_ns=0)
    d = decide(below, BAND)
    assert (d.action, d.reason) == (
        Action.WITHDRAW,
        "expected carry negative; refused: benefit below gas + swap",
    )
    assert d.numbers["benefit_token1"] == -d.numbers["keep_token1"] < 0
    just_above = dataclasses.replace(with_carry(0.15, held), negative_carry_since_ns=0)
    assert decide(just_above, BAND).action is Action.HOLD


def lvr_rate(sigma: float) -> float:
    """LVR per unit of L per second at the views' price."""
    return sigma * sigma * math.sqrt(PRICE) / 4.0 / SECONDS_PER_YEAR


def test_entry_judges_the_carry_less_two_standard_errors_of_fees_minus_lvr():
    view = with_carry(0.55, flat)
    assert decide(view, BAND).executed_gate
    # Fee rate known to ±5 %, σ̂ to ±4 % (no fee-window σ̂ yet: σ̂'s own): one error bar for
    # fees − LVR, √((0.05·fee)² + (2·0.04·LVR)²), twice, off the fee rate.
    unsure = dataclasses.replace(view, fee_rel_error=0.05, sigma_rel_error=0.04)
    error = math.hypot(0.05 * view.fee_rate, 2 * 0.04 * lvr_rate(0.6))
    d = decide(unsure, BAND)
    assert d.numbers["fee_rate_entry"] == pytest.approx(view.fee_rate - 2 * error, rel=1e-12)
    assert d.numbers["sigma_entry"] == 0.6  # σ itself is not raised: its error is in the bar
    assert not d.executed_gate and d.reason.endswith("expected carry below entry")
    assert decide(unsure, dataclasses.replace(BAND, entry_carry_errors=0.0)).executed_gate
    # Measured from batch means (its runs and correlation included), that error is taken instead.
    measured = decide(dataclasses.replace(unsure, carry_error_per_l=0.01 * view.fee_rate), BAND)
    assert measured.numbers["fee_rate_entry"] == pytest.approx(0.98 * view.fee_rate, rel=1e-12)
    assert measured.numbers["carry_error_measured"] == 1.0 and d.numbers["carry_error_measured"] == 0.0
    assert measured.executed_gate
    # The bar is narrower than the worst of each error at once (fee − 2 SE and σ̂ + 2 SE).
    worst = dataclasses.replace(view, fee_rate=0.9 * view.fee_rate, sigma_annual=0.6 * 1.08)
    assert (
        decide(worst, dataclasses.replace(BAND, entry_carry_errors=0.0)).numbers["carry_apr"]
        < d.numbers["carry_apr"]
    )
    # Held, the rate is taken as measured: a position is not left on the estimates' noise.
    kept = with_carry(0.55, held)
    doubtful = decide(dataclasses.replace(kept, fee_rel_error=0.5, sigma_rel_error=0.3), BAND)
    assert doubtful.numbers["carry_apr"] == decide(kept, BAND).numbers["carry_apr"]


def test_no_entry_before_sigma_is_known_within_its_bound():
    rich = with_carry(5.0, flat)  # a carry far above the threshold
    young = dataclasses.replace(rich, sigma_rel_error=0.11)  # σ̂ known to ±11 %: minutes of returns
    d = decide(young, BAND)
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason == "flat: enter; refused: σ̂ not yet known within 10%"
    assert decide(dataclasses.replace(rich, sigma_rel_error=0.1), BAND).executed_gate
    assert decide(young, dataclasses.replace(BAND, entry_max_sigma_error=0.2)).executed_gate
    # A held position is not left for it.
    kept = dataclasses.replace(with_carry(0.55, held), sigma_rel_error=0.5)
    assert decide(kept, BAND).action is Action.HOLD


def test_fees_are_compounded_only_when_they_earn_the_gas_before_the_range_is_left():
    # ±2 % the only width (no move competes); 4 token1 of gas, × 1.5 margin = 6 to earn.
    only = dataclasses.replace(RULES, min_half_width=HELD_W, max_half_width=HELD_W)
    d = decide(held(sigma_annual=0.3, pending_fees_token1=1000.0), only)
    assert (d.action, d.executed_gate) == (Action.COMPOUND, True)
    assert 72_000 < d.numbers["compound_life_s"] < 73_000  # the range's expected life in the day
    assert 10.0 < d.numbers["benefit_token1"] < 12.0  # 1,000 token1 more, for 0.84 of a day
    # 300 token1 (75 × the gas, above the 20 × floor) earn 3.3 before the range is left: kept.
    d = decide(held(sigma_annual=0.3, pending_fees_token1=300.0), only)
    assert (d.action, d.executed_gate) == (Action.COMPOUND, False) and "benefit below" in d.reason
    # At σ 60 % the same 1,000 token1 earn 1.4: the range is left before they pay their gas.
    d = decide(held(sigma_annual=0.6, pending_fees_token1=1000.0), only)
    assert (d.action, d.executed_gate) == (Action.COMPOUND, False)
    assert decide(held(pending_fees_token1=60.0), RULES).action is Action.HOLD  # 15 × the gas


def test_no_compounding_out_of_range_or_with_a_negative_carry():
    fees = {"pending_fees_token1": 1000.0}
    # Out of range, with the recentre refused (its swap too dear): held, not compounded.
    d = decide(held(price=3400.0, swap_cost_token1=1e6, recentre_swap_cost_token1=10.0, **fees), RULES)
    assert (d.action, d.executed_gate) == (Action.RECENTRE, False)
    # A negative carry inside the hysteresis band (not exiting): held, not compounded.
    band = dataclasses.replace(RULES, exit_carry_apr=-1.0)
    d = decide(with_carry(-0.03, held, band, **fees), band)  # (−σ²/8 = −4.5 % is the floor)
    assert (d.action, d.reason) == (Action.HOLD, "in range")


def test_an_off_centre_range_is_kept_an_out_of_range_one_recentred():
    near_edge = held(price=3000.0 * 1.019)  # 0.1 % from the upper edge of ±2 %: earns as much inside
    d = decide(near_edge, RULES)
    assert (d.action, d.reason) == (Action.HOLD, "in range")
    d = decide(held(price=3000.0 * 1.05), RULES)
    assert (d.action, d.reason, d.executed_gate) == (Action.RECENTRE, "out of range", True)
    assert d.half_width == pytest.approx(decide(flat(price=3150.0), RULES).half_width, rel=0.05)


def test_widen_and_narrow_when_the_width_is_wrong_enough():
    d = decide(held(w=0.2, sigma_annual=0.3), RULES)  # σ̂ fell: ±20 % earns far less than the best
    assert (d.action, d.reason, d.executed_gate) == (Action.RECENTRE, "a narrower range pays", True)
    assert d.half_width < 0.02
    d = decide(held(w=0.005, sigma_annual=0.95), RULES)  # σ̂ rose: ±0.5 % now loses LVR in range
    assert (d.action, d.reason, d.executed_gate) == (Action.WIDEN, "a wider range pays", True)
    assert d.half_width > 0.05
    # Right after a move the live range is the best one: nothing more to gain (no flapping).
    best = decide(flat(sigma_annual=0.95), RULES).half_width
    assert decide(held(w=best, sigma_annual=0.95), RULES).action is Action.HOLD


def test_thresholds_are_checked_with_errors_naming_the_field():
    with pytest.raises(ValidationError, match=r"exit_carry_apr .* must be below enter_carry_apr"):
        LpManagerParams(kind="lp_manager", pools=["uni"], enter_carry_apr=0.01, exit_carry_apr=0.01)
    with pytest.raises(ValidationError, match=r"min_half_width .* must not exceed max_half_width"):
        LpManagerParams(kind="lp_manager", pools=["uni"], min_half_width=0.2, max_half_width=0.1)
    with pytest.raises(ValidationError, match="width_k"):  # the fixed multiple is gone
        LpManagerParams(kind="lp_manager", pools=["uni"], width_k=2.0)
    for old in ("entry_sigma_errors", "entry_fee_errors"):  # one error bar replaced the two
        with pytest.raises(ValidationError, match=f"{old} is gone: .* entry_carry_errors"):
            LpManagerParams(kind="lp_manager", pools=["uni"], **{old: 1.0})


def test_a_move_must_pay_across_the_error_of_sigma():
    """A ±5 % range at σ̂ 50 %: narrowing to the best width pays at σ̂ itself, but not at σ̂ + 25 %
    (its standard error): the range is kept rather than moved on what may be σ̂'s noise."""
    rules = dataclasses.replace(RULES, min_action_interval_s=0.0)
    sure = decide(held(w=0.05, sigma_annual=0.5, sigma_rel_error=0.0), rules)
    assert (sure.action, sure.executed_gate) == (Action.RECENTRE, True)
    assert sure.half_width < 0.02
    noisy = decide(held(w=0.05, sigma_annual=0.5, sigma_rel_error=0.25), rules)
    assert (noisy.action, noisy.executed_gate) == (Action.RECENTRE, False)
    assert noisy.reason.endswith("refused: benefit below gas + swap")
    assert noisy.numbers["move_gain_token1"] < sure.numbers["move_gain_token1"]
    unsure = dataclasses.replace(rules, move_sigma_errors=0.0)  # judged at σ̂ alone: it moves
    assert decide(held(w=0.05, sigma_annual=0.5, sigma_rel_error=0.25), unsure).executed_gate


def test_entry_opens_at_the_width_the_held_rules_keep_and_gates_at_the_pessimistic_carry():
    # σ̂ known to ±10 %, the fee rate to ±5 %: the gate judges the carry at a lower fee rate.
    unsure = {"sigma_rel_error": 0.1, "fee_rel_error": 0.05}
    d = decide(flat(**unsure), BAND)
    assert (d.action, d.executed_gate) == (Action.OPEN, True)
    w = d.half_width
    pessimistic = decide(flat(fee_rate=d.numbers["fee_rate_entry"]), BAND)
    assert w < pessimistic.half_width / 1.05  # the width chosen at the pessimistic figures is wider
    # Held at that width, at the same estimates, the rules want the same width and keep it.
    kept = decide(held(w=w, **unsure), BAND)
    assert (kept.action, kept.reason) == (Action.HOLD, "in range")
    assert kept.half_width == pytest.approx(w, rel=1e-3)
    # The gate still refuses a pool whose carry is positive at the estimates but not at the bar.
    view = with_carry(0.55, flat)  # 0.55 at the estimates (no error yet) ...
    doubtful = dataclasses.replace(view, fee_rel_error=0.3)  # ... the fee rate known to ±30 %
    d = decide(doubtful, BAND)
    assert d.numbers["carry_apr"] < 0.0 < decide(view, BAND).numbers["carry_apr"]
    assert (d.action, d.executed_gate) == (Action.OPEN, False)
    assert d.reason == "flat: enter; refused: expected carry below entry"
    assert d.half_width == pytest.approx(decide(view, BAND).half_width)  # the width stays the estimates'
