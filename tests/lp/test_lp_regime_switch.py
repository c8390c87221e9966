"""Volatility regime switches (`strategies.lp.regime`): a short σ̂ outside the long one's band
restarts the estimates from the new level; inside it, or before it has the samples to vote,
nothing changes."""

import asyncio
import logging
import math

import pytest
from pydantic import ValidationError

from amm.attribution import SECONDS_PER_YEAR
from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import Scenario
from benchmarks.lp.run import (
    OURS_HEDGED,
    Job,
    RoundSchedule,
    _runner,
    _warm_up,
    market_for,
    ours_hedged_params,
)
from bot.core.clock import NS_PER_S
from strategies.lp.params import LpManagerParams
from strategies.lp.regime import MIN_SAMPLES, VolatilitySwitch
from strategies.lp.volatility import EwmaVolatility

STEP_S = 30


class Tape:
    """Returns of exactly σ√Δt, alternating up and down, one every 30 s, to a long σ̂ and a switch."""

    def __init__(self, long: EwmaVolatility, switch: VolatilitySwitch) -> None:
        self.long, self.switch, self.price, self.i = long, switch, 3000.0, 0
        self._feed()

    def _feed(self) -> float | None:
        ts = self.i * STEP_S * NS_PER_S
        self.long.update(self.price, ts)
        return self.switch.update(self.price, ts, self.long)

    def run(self, sigma: float, rounds: int) -> list[tuple[int, float]]:
        """(round, variance ratio) of every switch seen."""
        move, seen = sigma * math.sqrt(STEP_S / SECONDS_PER_YEAR), []
        for _ in range(rounds):
            self.i += 1
            self.price *= math.exp(move if self.i % 2 else -move)
            ratio = self._feed()
            if ratio is not None:
                seen.append((self.i, ratio))
        return seen


def tape(ratio: float = 1.5) -> Tape:
    return Tape(EwmaVolatility.from_sigma(1800.0, 0.3), VolatilitySwitch.of(300.0, ratio))


def test_a_restart_takes_the_short_level_worth_its_samples_over_its_span():
    vol = EwmaVolatility.from_sigma(1800.0, 0.3)
    vol.update(3000.0, 0)
    vol.restart(1.44 / SECONDS_PER_YEAR, 29.0, 866.0)
    assert vol.sigma_annual(math.nan) == pytest.approx(1.2, rel=1e-12)
    assert vol.weight == pytest.approx(1.0 - 2.0 ** (-866.0 / 1800.0), rel=1e-12)
    assert vol.effective_samples() == pytest.approx(29.0, rel=1e-12)
    assert vol.rel_error() == pytest.approx(math.sqrt(1 / 58), rel=1e-12)
    assert vol.last_price == 3000.0  # the next return continues from the last price


def test_a_storm_is_seen_on_the_round_the_short_variance_leaves_the_band():
    t = tape()
    assert t.run(0.3, 240) == []  # two calm hours: the short σ̂ sits at the long one's
    seen = t.run(1.2, 5)
    # After k storm returns the short variance is d^k·0.09 + (1 − d^k)·1.44, d = 2^(−30/300);
    # the long one's the same with 2^(−30/1800): their ratio first reaches 1.5² at k = 3 (90 s).
    d_short, d_long = 2.0 ** (-STEP_S / 300), 2.0 ** (-STEP_S / 1800)

    def ratio(k: int) -> float:
        return (d_short**k * 0.09 + (1 - d_short**k) * 1.44) / (d_long**k * 0.09 + (1 - d_long**k) * 1.44)

    assert ratio(2) < 2.25 < ratio(3)
    assert seen[0] == (243, pytest.approx(ratio(3), rel=1e-6))  # (the short one's start: 0.933^240)


def test_a_calm_after_a_storm_is_seen_going_down():
    t = Tape(EwmaVolatility.from_sigma(1800.0, 1.2), VolatilitySwitch.of(300.0, 1.5))
    assert t.run(1.2, 240) == []
    seen = t.run(0.3, 60)
    assert seen and seen[0][1] < 1 / 2.25 and seen[0][0] == 240 + 16  # 8 minutes


def test_no_vote_before_enough_samples_nor_when_off():
    t = tape()
    assert t.run(3.0, int(MIN_SAMPLES) - 2) == []  # a wild start: too few returns to vote
    off = tape(ratio=0.0)
    off.run(0.3, 240)
    assert off.run(3.0, 30) == []


def test_the_meter_restarts_sigma_and_the_fee_window_on_a_switch(caplog):
    costs = HedgeCosts()
    params = ours_hedged_params(costs).model_copy(update={"vol_switch_ratio": 1.5})
    job = Job(Scenario(0.6, 3000, 0.01, warmup_h=1.0), 3, OURS_HEDGED, 0.0, 30.0, params)
    m = market_for(job, costs)
    runner = _runner(job, m.pool, m.fair, m.clock, costs)
    asyncio.run(_warm_up(runner, m, RoundSchedule.starting(30 * NS_PER_S, 1.0, m.fair())))  # type: ignore[arg-type]
    meter = runner.manager.meter  # type: ignore[attr-defined]
    short, flow, window_var = meter.switch.short, meter.fee_flow_token1_per_s, meter.fee_window_vol.var_per_s
    pool_var = meter.pool_vol.var_per_s
    assert flow > 0 and meter.fee_rel_error() < 1.0 and meter.carry_batches.moments.weight > 0.0
    with caplog.at_level(logging.INFO, logger="mmbot.lp"):
        meter._restart_estimates(4.0)
    assert "volatility regime switch" in caplog.text
    assert meter.vol.var_per_s == short.var_per_s
    assert meter.vol.effective_samples() == pytest.approx(short.effective_samples(), rel=1e-12)
    assert meter.pool_vol.var_per_s == pytest.approx(4.0 * pool_var, rel=1e-12)
    # The fee window keeps its figures as a prior worth one sample: its error is unknown again.
    assert (meter.fee_flow_token1_per_s, meter.fee_window_vol.var_per_s) == (flow, window_var)
    assert meter.fee_rel_error() == 1.0 and meter.fee_window_vol.rel_error() == pytest.approx(math.sqrt(0.5))
    assert meter._fee_weight == pytest.approx(1.0 - 2.0 ** (-meter.switch.span_s / params.fee_half_life_s))
    # The carry's error is measured again (the arbitrageurs' share of the fees moves with σ).
    assert meter.carry_batches.moments.weight == 0.0 and meter.carry_batches.span_s == 0.0


def test_switch_settings_are_checked_naming_the_field():
    base = {"kind": "lp_manager", "pools": ["uni"]}
    with pytest.raises(ValidationError, match=r"vol_switch_ratio \(1.0\) must be above 1"):
        LpManagerParams.model_validate({**base, "vol_switch_ratio": 1.0})
    with pytest.raises(
        ValidationError, match=r"vol_switch_half_life_s \(1800.0\) must be below vol_half_life_s"
    ):
        LpManagerParams.model_validate({**base, "vol_switch_ratio": 2.0, "vol_switch_half_life_s": 1800.0})
    assert LpManagerParams.model_validate({**base, "vol_switch_ratio": 0.0}).vol_switch_ratio == 0.0


def test_a_price_that_never_moved_is_a_stale_feed_not_a_calm():
    t = tape()  # the long σ̂ at its 30 % prior
    assert t.run(0.0, 120) == []  # an hour without a move: the short variance is 0, no vote
    assert t.switch.short.var_per_s == 0.0 and t.switch.short.effective_samples() > MIN_SAMPLES
    # One that stops after moving looks like a calm as it fades, and is taken for one.
    t = tape()
    t.run(0.3, 240)
    assert t.run(0.0, 30)[0][0] == 240 + 15
