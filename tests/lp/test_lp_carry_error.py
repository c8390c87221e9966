"""The entry gate's error of fees − LVR from batch means (`strategies.lp.carry_error`): exact
moments on constructed samples, the batching, the error of the difference, and its calibration
against the spread of the estimate over many histories with runs and correlation in them."""

import asyncio
import math

import numpy as np
import pytest

from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import Scenario
from benchmarks.lp.run import OURS_HEDGED, Job, RoundSchedule, _runner, _warm_up, market_for
from bot.core.clock import NS_PER_S
from strategies.lp.carry_error import (
    MIN_EFFECTIVE_BATCHES,
    CarryBatches,
    FlowVarianceMoments,
)
from strategies.lp.rules import Action, Decision, PoolView, Rules, decide

HALF_LIFE_S = 7200.0
EQUAL_WEIGHTS = 1e12  # a half-life so long the weights are equal to 1e-8


def test_moments_of_equally_spaced_samples_are_their_weighted_means():
    m = FlowVarianceMoments(HALF_LIFE_S)
    pairs = [(2.0, 1.0), (4.0, 3.0), (3.0, 1.0), (5.0, 4.0)]
    for f, v in pairs:
        m.add(f, v, 600.0)
    d = math.exp(-600.0 * math.log(2) / HALF_LIFE_S)
    w = np.array([d**3, d**2, d, 1.0]) * (1 - d)  # newest weighs most
    f, v = np.array(pairs).T
    assert m.weight == pytest.approx(w.sum(), rel=1e-12)
    assert m.weight_sq == pytest.approx((w * w).sum(), rel=1e-12)
    assert m.mean_flow == pytest.approx((w * f).sum() / w.sum(), rel=1e-12)
    assert m.mean_var == pytest.approx((w * v).sum() / w.sum(), rel=1e-12)
    assert m.cross == pytest.approx((w * f * v).sum() / w.sum(), rel=1e-12)
    assert m.mean_covariance() is None and m.correlation() == 0.0  # 4 batches: not yet known


def test_covariance_of_the_means_is_the_samples_over_the_effective_count():
    m = FlowVarianceMoments(EQUAL_WEIGHTS)  # n = the count
    rng = np.random.default_rng(3)
    f = rng.normal(10.0, 2.0, 40)
    v = 0.5 * f + rng.normal(0.0, 1.0, 40)
    for a, b in zip(f, v, strict=True):
        m.add(float(a), float(b), 600.0)
    assert m.effective_samples() == pytest.approx(40.0, rel=1e-12)
    var_f, var_v, cov = m.mean_covariance()  # type: ignore[misc]
    sample = np.cov(f, v)  # unbiased, n − 1
    assert (var_f, var_v, cov) == pytest.approx((sample[0, 0] / 40, sample[1, 1] / 40, sample[0, 1] / 40))
    assert m.correlation() == pytest.approx(np.corrcoef(f, v)[0, 1], rel=1e-9)


def test_rounds_are_gathered_into_batches_of_their_flow_and_variance_rates():
    b = CarryBatches.of(HALF_LIFE_S)
    b.add(2.0, 0.01, 300.0)
    assert b.moments.weight == 0.0 and b.span_s == 300.0  # the batch is not full yet
    b.add(4.0, -0.02, 300.0)
    assert b.span_s == 0.0 and b.moments.weight > 0.0
    assert b.moments.mean_flow == pytest.approx((2.0 * 300 + 4.0 * 300) / 600)  # fees over the span
    assert b.moments.mean_var == pytest.approx((0.01**2 + 0.02**2) / 600)  # Σr² over the span
    b.add(float("nan"), 0.01, 30.0)  # a round without a figure is not taken
    b.add(1.0, 0.01, 0.0)
    assert b.span_s == 0.0


def test_the_error_of_fees_minus_lvr_per_unit_of_liquidity():
    b = CarryBatches.of(EQUAL_WEIGHTS)
    assert math.isnan(b.carry_error_per_l(1e6, 3000.0))  # nothing measured
    rng = np.random.default_rng(5)
    for _ in range(int(MIN_EFFECTIVE_BATCHES) + 1):
        b.moments.add(float(rng.normal(100.0, 10.0)), float(rng.normal(1e-7, 2e-8)), 600.0)
    var_f, var_v, cov = b.moments.mean_covariance()  # type: ignore[misc]
    active_l, price = 2e6, 3000.0
    f, k = 1 / active_l, math.sqrt(price) / 4
    expected = math.sqrt(f * f * var_f + k * k * var_v - 2 * f * k * cov)
    assert b.carry_error_per_l(active_l, price) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(b.carry_error_per_l(0.0, price))  # no active liquidity: no fee rate


def test_the_batch_error_matches_the_spread_of_the_estimate_where_rounds_come_in_runs():
    """200 histories of 6 h of 30 s rounds whose fee flow follows its own past (an AR(1) of
    0.5 a round: runs of busy rounds) and moves with the squared return (correlation through
    an arbitrage part); each history's estimate of fee rate − LVR and the error it claims.
    From the batches the claim is the spread across histories (0.92 of it); from the rounds
    taken as independent it reads well under it (0.56)."""
    rng = np.random.default_rng(11)
    rounds, dt, active_l, price = 720, 30.0, 1.0, 4.0
    sigma_per_s = 0.8 / math.sqrt(365 * 86400)
    k = math.sqrt(price) / 4.0
    estimates, claims, naive = [], [], []
    for _ in range(200):
        r = rng.normal(0.0, sigma_per_s * math.sqrt(dt), rounds)
        noise = np.empty(rounds)
        noise[0] = rng.normal()
        for i in range(1, rounds):
            noise[i] = 0.5 * noise[i - 1] + rng.normal()
        flow = 1e-6 * (1.0 + 0.3 * noise) + 4.0 * k * r * r / dt  # uninformed runs + arbitrage
        b = CarryBatches.of(EQUAL_WEIGHTS)  # the estimate is the plain mean
        for fl, ret in zip(flow, r, strict=True):
            b.add(float(fl), float(ret), dt)
        estimates.append(flow.mean() / active_l - k * (r * r).sum() / (rounds * dt))
        claims.append(b.carry_error_per_l(active_l, price))
        var_rate = r * r / dt
        naive.append(math.hypot(flow.std(ddof=1), k * var_rate.std(ddof=1)) / math.sqrt(rounds))
    spread = float(np.std(estimates, ddof=1))
    assert np.mean(claims) / spread == pytest.approx(1.0, abs=0.15)
    assert np.mean(naive) / spread < 0.8


def test_a_watching_meter_measures_the_error_the_entry_gate_judges_with():
    """Ours watching a 0.05 % pool at σ 60 % for 3 h of 30 s rounds: 18 batches, the error known
    and in every view; the entry's fee rate is the measured one less two of it."""
    costs = HedgeCosts()
    job = Job(Scenario(0.6, 500, 0.01, warmup_h=3.0), 2, OURS_HEDGED, 0.0, 30.0)
    m = market_for(job, costs)
    runner = _runner(job, m.pool, m.fair, m.clock, costs)
    asyncio.run(_warm_up(runner, m, RoundSchedule.starting(30 * NS_PER_S, 1.0, m.fair())))  # type: ignore[arg-type]
    manager = runner.manager  # type: ignore[attr-defined]
    batches = manager.meter.carry_batches
    assert batches.moments.effective_samples() > MIN_EFFECTIVE_BATCHES
    seen: list[Decision] = []

    def judge(view: PoolView, rules: Rules) -> Decision:
        seen.append(decide(view, rules))
        assert view.carry_error_per_l == batches.carry_error_per_l(view.pool_liquidity, view.price)
        assert 0.0 < view.carry_error_per_l < 0.5 * view.fee_rate
        assert seen[0].numbers["fee_rate_entry"] == pytest.approx(
            view.fee_rate - rules.entry_carry_errors * view.carry_error_per_l, rel=1e-12
        )
        return Decision(Action.HOLD, "watching", False)

    asyncio.run(manager.step(judge))
    assert len(seen) == 1 and seen[0].numbers["carry_error_measured"] == 1.0
    assert batches.moments.correlation() > 0.0  # the arbitrageurs' fees come with the moves
