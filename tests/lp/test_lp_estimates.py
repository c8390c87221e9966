"""A restarted or reloaded LP manager resumes its pool's stored estimates (σ̂, the fee flow, the
band-trading meter: `strategies.lp.estimates`) instead of measuring the pool again for hours:
exactly as they were, aged by the time since they were stored, or not at all when too old or
unreadable."""

import asyncio
import logging
import math

import pytest

from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import Scenario
from benchmarks.lp.run import OURS_HEDGED, Job, RoundSchedule, _runner, _warm_up, market_for
from bot.core.clock import NS_PER_S, FixedClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.estimates import MeterEstimates
from strategies.lp.manager import LpManager
from strategies.lp.pool import PoolLpManager

HOUR_NS = 3600 * NS_PER_S


def watched_manager(tmp_path, hours: float = 0.5) -> tuple[PoolLpManager, FixedClock]:
    """Ours after `hours` of rounds on a trading pool (σ 60 %, 0.3 %), having acted on nothing."""
    costs = HedgeCosts()
    job = Job(Scenario(0.6, 3000, 0.01, warmup_h=hours), 3, OURS_HEDGED, 0.0, 30.0)
    m = market_for(job, costs)
    runner = _runner(job, m.pool, m.fair, m.clock, costs)
    runner.manager.store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))  # type: ignore[attr-defined]
    rounds = RoundSchedule.starting(30 * NS_PER_S, 1.0, m.fair())
    asyncio.run(_warm_up(runner, m, rounds))  # type: ignore[arg-type]
    return runner.manager, m.clock  # type: ignore[attr-defined]


def successor(first: PoolLpManager, clock: FixedClock) -> PoolLpManager:
    """A new manager of the same pool on the same store (a restart, or the reload's new instance)."""
    return PoolLpManager(first.strategy, first.pool_name, first.pool, first.fair_price, first.params, clock,
                         first.store)  # fmt: skip


def figures(m: PoolLpManager) -> tuple[float, ...]:
    meter = m.meter
    return (
        meter.sigma_annual(), meter.sigma_rel_error(), meter.pool_vol.sigma_annual(math.nan),
        meter.fee_window_vol.sigma_annual(math.nan), meter.fee_window_vol.rel_error(),
        meter.fee_flow_token1_per_s, meter.fee_rel_error(), *meter.band_trading.ratios(0.6)[1],
        meter.switch.short.sigma_annual(math.nan), meter.switch.short.rel_error(),
        meter.carry_batches.moments.weight, meter.carry_batches.moments.mean_flow,
        meter.carry_batches.moments.cross,
    )  # fmt: skip


def test_a_restart_resumes_the_stored_estimates_exactly(tmp_path):
    first, clock = watched_manager(tmp_path)
    assert first.meter.vol.samples == 49 and first.meter.fee_flow_token1_per_s > 0  # 50 rounds, 36 s apart
    first.save_estimates(clock.now_ns())
    fresh, resumed = successor(first, clock), successor(first, clock)
    assert resumed.resume_estimates()
    assert figures(resumed) == figures(first)
    assert len(figures(first)) == 20 and all(math.isfinite(x) for x in figures(first))
    assert fresh.meter.sigma_annual() == first.params.initial_sigma != first.meter.sigma_annual()
    assert fresh.meter.fee_rel_error() == 1.0 and fresh.meter.fee_flow_token1_per_s == 0.0
    # the last prices and the fee mark are not carried over: the next round starts new returns
    assert math.isnan(resumed.meter.vol.last_price) and resumed.meter._fee_mark is None


def test_resumed_estimates_are_aged_by_the_time_since_they_were_stored(tmp_path):
    first, clock = watched_manager(tmp_path)
    first.save_estimates(clock.now_ns())
    fee_half_life_ns = int(first.params.fee_half_life_s * NS_PER_S)
    clock.advance_ns(fee_half_life_ns)
    resumed = successor(first, clock)
    assert resumed.resume_estimates()
    m, r = first.meter, resumed.meter
    assert r.fee_flow_token1_per_s == m.fee_flow_token1_per_s and r.sigma_annual() == m.sigma_annual()
    assert r._fee_weight == pytest.approx(m._fee_weight / 2, rel=1e-12)  # one fee half-life
    assert r.vol.weight == pytest.approx(m.vol.weight / 2**4, rel=1e-12)  # four of σ̂'s (30 min)
    assert r.vol.weight_sq == pytest.approx(m.vol.weight_sq / 2**8, rel=1e-12)
    assert r.carry_batches.moments.weight == pytest.approx(m.carry_batches.moments.weight / 2, rel=1e-12)
    assert r.carry_batches.moments.cross == m.carry_batches.moments.cross
    clock.advance_ns(9 * fee_half_life_ns + 1)  # more than 10 fee half-lives in all: not resumed
    stale = successor(first, clock)
    assert not stale.resume_estimates() and stale.meter.sigma_annual() == first.params.initial_sigma


def test_unreadable_estimates_are_logged_and_the_pool_measured_afresh(tmp_path, caplog):
    first, clock = watched_manager(tmp_path, hours=0.1)
    first.store.save_estimates(first.strategy, first.pool_name, clock.now_ns(), '{"version": 1, "ts_ns": 5}')
    restarted = successor(first, clock)
    with caplog.at_level(logging.WARNING, logger="mmbot.lp"):
        assert not restarted.resume_estimates()
    assert "stored estimates unreadable" in caplog.text and "vol" in caplog.text  # names the missing field
    assert restarted.meter.sigma_annual() == first.params.initial_sigma


def test_a_reload_drain_stores_the_estimates_the_new_instance_resumes(tmp_path):
    first, clock = watched_manager(tmp_path, hours=0.2)
    clock.advance_ns(60 * NS_PER_S)
    old = LpManager("lp", first.params)
    old.managers = {first.pool_name: first}
    asyncio.run(old.drain())
    row = first.store.estimates(first.strategy, first.pool_name)
    assert row is not None and row.ts_ns == clock.now_ns()
    resumed = successor(first, clock)
    assert resumed.resume_estimates() and figures(resumed) == figures(first)


def test_a_snapshot_from_before_the_regime_switch_resumes_without_its_short_sigma(tmp_path):
    first, clock = watched_manager(tmp_path)
    stored = first.meter.estimates(clock.now_ns())
    older = MeterEstimates.model_validate_json(stored.model_dump_json(exclude={"switch_vol"}))
    assert older.switch_vol is None
    resumed = successor(first, clock)
    resumed.meter.resume(older, clock.now_ns())
    assert figures(resumed)[:15] == figures(first)[:15]  # everything else as stored
    short = resumed.meter.switch.short
    assert math.isnan(short.var_per_s) and short.effective_samples() == 0.0  # measured afresh
