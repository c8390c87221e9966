"""The fair LP benchmark's pieces that could quietly bias it (benchmarks/lp): the shared hedge's
cost accounting, the Charm rebalancer's orders, the arbitrageur's fee-band hurdle, the latency
price, the verdict."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest

from amm.attribution import SECONDS_PER_YEAR
from amm.math.conversions import price_to_sqrt_price_x96
from amm.sim.flow import SimPoolFlow
from amm.sim.pool import SimulatedPool
from benchmarks.lp import gate_errors
from benchmarks.lp import seeded_sigma as bench
from benchmarks.lp.charm import CharmParams, CharmVault, charm_ranges
from benchmarks.lp.hedge import HedgeCosts, SimHedge
from benchmarks.lp.market import BLOCK_S, fair_path, pool_params
from benchmarks.lp.report import verdict
from bot.core.clock import NS_PER_S, FixedClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from tests.lp.test_lp_seeding import PARAMS
from tests.lp.test_lp_seeding import manager as seeding_manager


def test_hedge_costs_fee_spread_latency_and_funding_exactly() -> None:
    costs = HedgeCosts(taker_fee_bps=5.0, half_spread_bps=1.0, funding_per_year=0.10, band_token0=0.25)
    hedge = SimHedge(costs)
    # Block 1: the LP holds 5 ETH, flat hedge: sell 5 at the fair 3 s later (3,003) less half spread.
    assert hedge.check(5.0, mid=3000.0, fill_mid=3003.0, dt_s=BLOCK_S) == -5000
    fill = 3003.0 * (1 - 1e-4)
    fee = 5 * fill * 5e-4
    b = hedge.book
    assert (b.position, b.trades) == (pytest.approx(-5.0), 1)
    assert b.cash == pytest.approx(5 * fill)
    assert b.fees == pytest.approx(fee)
    # Sold above the decision mid: the latency move counts for us here, the spread against us.
    assert b.cost == pytest.approx(fee - 5 * (fill - 3000.0))
    assert b.carry == 0.0  # no position during the first block
    # Block 2: LP at 5.2 ETH, net +0.2 inside the band: no trade, one block of funding on 5 ETH.
    assert hedge.check(5.2, mid=3010.0, fill_mid=3011.0, dt_s=BLOCK_S) == 0
    funding = 5 * 3010.0 * 0.10 * BLOCK_S / SECONDS_PER_YEAR
    assert b.carry == pytest.approx(funding)
    # Block 3: LP at 5.4, net +0.4 beyond the band: sell 0.4.
    assert hedge.check(5.4, mid=3020.0, fill_mid=3015.0, dt_s=BLOCK_S) == -400
    fill2 = 3015.0 * (1 - 1e-4)
    fee2 = 0.4 * fill2 * 5e-4
    funding += 5 * 3020.0 * 0.10 * BLOCK_S / SECONDS_PER_YEAR
    assert b.position == pytest.approx(-5.4)
    assert b.carry == pytest.approx(funding)
    assert b.total_cost == pytest.approx(fee - 5 * (fill - 3000.0) + fee2 - 0.4 * (fill2 - 3020.0) + funding)
    assert b.pnl(3100.0) == pytest.approx(5 * fill + 0.4 * fill2 - 5.4 * 3100.0 - fee - fee2 - funding)


def test_charm_ranges_follow_the_published_rule() -> None:
    r = charm_ranges(201_234, 60, 3600, 1200)  # X = 201,180 (floored), X + TS = 201,240
    assert (r.base, r.bid, r.ask) == ((197_580, 204_840), (199_980, 201_180), (201_240, 202_440))
    r = charm_ranges(-201_234, 60, 3600, 1200)  # floored toward −∞: X = −201,240
    assert (r.base, r.bid, r.ask) == ((-204_840, -197_580), (-202_440, -201_240), (-201_180, -199_980))
    with pytest.raises(ValueError, match="limit_threshold_ticks"):
        charm_ranges(0, 60, 3600, 1210)


def test_charm_vault_places_base_and_sells_its_surplus_on_schedule() -> None:
    params = pool_params(3000).model_copy(update={"wallet_token0": 8.0, "wallet_token1": 15_000.0})
    clock = FixedClock(0)
    pool = SimulatedPool.from_params(params, clock)
    store = LpStore(Store("sqlite://"))
    vault = CharmVault("charm-test", pool, lambda: 3000.0, clock, store, CharmParams(period_s=3600.0))

    async def run() -> None:
        tick = (await pool.read_state()).tick
        await vault.round()
        expected = charm_ranges(tick, pool.tick_spacing, 3600, 1200)
        # More ETH than the base can take at 50:50: the surplus goes into the ask, above the price.
        assert [o.ticks for o in vault.orders] == [expected.base, expected.ask]
        assert vault.totals.gas_token1 > 0 and vault.totals.actions == {"rebalance": 1}
        # Everything is deployed but dust (the mint keeps 1e-6 of the wallet back: 0.015 USDC).
        assert pool.wallet0 < 10**13 and pool.wallet1 < 10**5
        ask = vault.orders[1]
        position = await pool.position(ask.token_id)
        assert (position.tick_lower, position.tick_upper) == expected.ask
        clock.advance_ns(1800 * NS_PER_S)
        await vault.round()  # half a period: nothing moves
        assert vault.rebalances == 1
        clock.advance_ns(1800 * NS_PER_S)
        await vault.round()
        assert vault.rebalances == 2 and len(vault.orders) == 2

    asyncio.run(run())


@pytest.mark.parametrize("fee_pips", [500, 3000])
def test_arbitrage_only_outside_the_fee_band(fee_pips: int) -> None:
    params = pool_params(fee_pips)
    keep = 1 - fee_pips / 1e6
    for ratio, outside, trades in [
        (1.0, False, False),
        (keep * (1 + 1e-7), False, False),  # pool just inside the lower edge: P/fair > 1 − γ
        (keep * (1 - 1e-4), True, False),  # 1 bp beyond: 50M deep, it pays less than the gas
        (keep * (1 - 2e-3), True, True),  # 20 bp beyond: the arbitrageur buys token0
        (1 / keep * (1 - 1e-7), False, False),
        (1 / keep * (1 + 2e-3), True, True),
    ]:
        pool = SimulatedPool.from_params(params, FixedClock(0))
        fair = 3000.0 / ratio  # the pool sits at 3,000
        flow = SimPoolFlow(pool, lambda f=fair: f, params, FixedClock(0), rng=np.random.default_rng(1))
        assert (flow.arbitrage_target(fair) is not None) == outside, ratio
        before = pool.core.sqrt_price_x96
        flow.arbitrage()
        assert (pool.core.sqrt_price_x96 != before) == trades, ratio
        if trades:  # it stops at the edge of the band, not at fair
            exact_keep = 1 - Fraction(fee_pips, 1_000_000)
            edge = Fraction(fair) * (exact_keep if ratio < 1 else 1 / exact_keep)
            assert abs(pool.core.sqrt_price_x96 - price_to_sqrt_price_x96(edge, 18, 6)) <= 1


def test_latency_price_is_the_bridge_point() -> None:
    no_latency = fair_path(0.6, 100, seed=3, latency_s=0.0)
    assert np.array_equal(no_latency.hedge_prices, no_latency.prices)
    with_latency = fair_path(0.6, 100, seed=3, latency_s=3.0)
    assert np.array_equal(with_latency.prices, no_latency.prices)  # the same path, seeds paired
    moves = np.log(with_latency.hedge_prices / with_latency.prices)
    assert 0 < np.std(moves) < np.std(np.diff(np.log(no_latency.prices)))


def test_the_fixed_grid_option_takes_percents_and_names_a_bad_one() -> None:
    import argparse

    from benchmarks.lp.run import fixed_name
    from benchmarks.lp_strategies import half_widths

    assert half_widths("10,1,3,1,0.5") == (0.005, 0.01, 0.03, 0.10)
    assert [fixed_name(w) for w in half_widths("0.5,0.7,5")] == ["fixed ±0.5%", "fixed ±0.7%", "fixed ±5%"]
    for bad in ("1,x", "0", "0.05", "100", ""):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad)):
            half_widths(bad)


def test_the_hindsight_grid_refines_around_its_best_and_steps_past_its_ends() -> None:
    from benchmarks.lp.grid import refined_widths

    grid = (0.01, 0.02, 0.03, 0.05, 0.10, 0.20, 0.30)
    assert refined_widths(grid, 0.05) == (0.039, 0.071)  # √(3·5) %, √(5·10) % to two digits
    assert refined_widths(grid, 0.01) == (0.005, 0.014)  # the narrowest: one step (×½) below
    assert refined_widths(grid, 0.30) == (0.24, 0.45)  # the widest: one step (×1.5) above
    assert refined_widths((*grid, 0.005, 0.014), 0.014) == (0.012, 0.017)
    assert refined_widths((0.001, 0.002), 0.001) == (0.0014,)  # ±0.1 % is the floor, already run
    assert refined_widths((0.5, 0.9), 0.9) == (0.67, 0.99)  # capped below 100 %
    assert refined_widths((0.05,), 0.05) == (0.025, 0.1)
    assert refined_widths((0.01, 0.0141, 0.02), 0.0141) == (0.012, 0.017)


def test_each_refining_round_adds_the_widths_around_each_cells_best_on_every_path() -> None:
    from amm.attribution import PnlAttribution
    from benchmarks.lp.market import Scenario
    from benchmarks.lp.report import group
    from benchmarks.lp.run import CHARM, Job, Outcome, fixed_name
    from benchmarks.lp_strategies import refining_jobs

    calm, stormy = Scenario(0.3, 500, 1.0, 0.0), Scenario(1.2, 500, 1.0, 0.0)
    nets = {calm: {0.01: 50.0, 0.02: 70.0, 0.05: 60.0}, stormy: {0.01: -90.0, 0.02: -40.0, 0.05: -10.0}}

    def outcome(sc: Scenario, path: int, name: str, w: float, net: float) -> Outcome:
        pnl = PnlAttribution(net + path, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return Outcome(Job(sc, path, name, w), pnl, pnl, 1, 0)

    runs = [outcome(sc, p, fixed_name(w), w, net) for sc, by_w in nets.items() for w, net in by_w.items()
            for p in range(3)]  # fmt: skip
    runs += [outcome(sc, p, CHARM, 0.0, 500.0) for sc in nets for p in range(3)]  # not a fixed width
    jobs = refining_jobs(group(runs), range(3))
    added = {(j.scenario, j.strategy, j.half_width) for j in jobs}
    assert added == {
        (calm, "fixed ±1.4%", 0.014), (calm, "fixed ±3.2%", 0.032),  # around ±2 %: √2, √10
        (stormy, "fixed ±3.2%", 0.032), (stormy, "fixed ±13%", 0.13),  # ±5 %, the widest: ×2.5
    }  # fmt: skip
    assert sorted(j.path for j in jobs) == sorted([0, 1, 2] * 4)


def test_paired_settings_are_validated_like_the_config_and_pair_by_path() -> None:
    from benchmarks.lp.market import Scenario
    from benchmarks.lp.paired import candidate, cells, jobs_for, setting, table
    from benchmarks.lp.run import ours_hedged_params, simulate

    defaults = ours_hedged_params(HedgeCosts())
    assert cells("0.6:500,0.3~1.2:3000") == [(0.6, 500, 0.0), (0.3, 3000, 1.2)]
    with pytest.raises(argparse.ArgumentTypeError, match="calm~storm:fee_pips"):
        cells("0.6-500")
    assert setting("entry_carry_errors=1.5") == ("entry_carry_errors", 1.5)
    assert candidate(defaults, [setting("entry_carry_errors=1.5")]).entry_carry_errors == 1.5
    assert candidate(defaults, []).hedge_band_token0 == defaults.hedge_band_token0  # the hedge stays told
    with pytest.raises(ValueError, match="entry_fee_errors is gone"):
        candidate(defaults, [("entry_fee_errors", 1.0)])
    # The defaults against themselves: the same runs path by path, so every difference is 0.
    jobs = jobs_for([Scenario(0.6, 500, 0.02, 0.5)], 2, candidate(defaults, []), cold=False)
    assert [(j.path, j.params is None) for j in jobs] == [(0, True), (0, False), (1, True), (1, False)]
    # simulate, not run_job: run_job is a worker's entry and disables logging process-wide.
    outcomes = [asyncio.run(simulate(j, HedgeCosts())) for j in jobs]
    nets = [o.hedged.net_token1 for o in outcomes]
    assert nets[0] == nets[1] and nets[2] == nets[3]
    fields = table(outcomes).splitlines()[1].split()
    at = fields.index("±")
    assert fields[at - 1 : at + 3] == ["+0.0", "±", "0.0", "tie"]
    assert fields[-3] == fields[-1] and fields[-2] == "→"  # the same actions a path


def test_verdict_needs_two_standard_errors() -> None:
    assert [verdict(2.1, 1.0), verdict(-2.1, 1.0), verdict(1.9, 1.0), verdict(-1.9, 1.0)] == [
        "win", "lose", "tie", "tie"
    ]  # fmt: skip


def test_the_diagnostic_probe_watches_without_changing_the_run() -> None:
    from benchmarks.lp.diagnose import Decomposition
    from benchmarks.lp.market import Scenario
    from benchmarks.lp.run import Job, fixed_name, ours_hedged_params, simulate

    costs = HedgeCosts()
    job = Job(Scenario(1.2, 3000, 0.05), 0, fixed_name(0.01), 0.01)  # 360 blocks of ±1 % at σ 120 %
    plain = asyncio.run(simulate(job, costs))
    probe = Decomposition(ours_hedged_params(costs).rules())
    watched = asyncio.run(simulate(job, costs, probe))
    assert watched == plain
    f = probe.fig
    assert f.entry_h == pytest.approx(BLOCK_S / 3600)  # the first round, at the first block, opens
    assert f.held_s == 0.05 * 86_400  # opened in the first block's round, before its hedge check
    assert f.held_s / 2 < f.in_range_s < f.held_s  # left, and recentred at a later round
    assert f.width_s == pytest.approx(0.01 * f.held_s, rel=1e-3)
    assert f.hedge_in_range + f.hedge_else == pytest.approx(plain.hedged.hedge_cost_token1)
    assert f.model.fees > 0 and f.model.lvr > 0 and f.model.hedge > 0


def test_a_warm_up_adds_history_before_the_same_scored_path() -> None:
    cold = fair_path(0.6, 100, seed=7, latency_s=3.0)
    warm = fair_path(0.6, 100, seed=7, latency_s=3.0, warmup_blocks=30)
    np.testing.assert_array_equal(warm.prices, cold.prices)  # the scored span is the same path
    np.testing.assert_array_equal(warm.hedge_prices, cold.hedge_prices)
    assert (len(cold.warmup_prices), len(warm.warmup_prices)) == (0, 30)
    # one block's GBM step (σ 60 %: 0.037 % a block) from the last warm-up price to the start
    step = np.log(warm.prices[0] / warm.warmup_prices[-1])
    assert 0 < abs(step) < 6 * 0.6 * np.sqrt(BLOCK_S / SECONDS_PER_YEAR)


def test_a_regime_cell_switches_sigma_between_calm_and_storm_on_its_own_paths() -> None:
    from benchmarks.lp.market import REGIME_H, Scenario, path_seed, regime_sigmas

    sc = Scenario(0.3, 3000, 4.0, warmup_h=6.0, storm_sigma_annual=1.2)
    calm = Scenario(0.3, 3000, 4.0, warmup_h=6.0)
    assert path_seed(sc, 5) != path_seed(calm, 5) and path_seed(calm, 5) == 300_005
    seed = path_seed(sc, 5)
    warm, scored = regime_sigmas(sc, seed)
    assert (len(warm), len(scored)) == (sc.warmup_blocks, sc.n_blocks + 1)
    assert set(np.unique(np.concatenate([warm, scored]))) == {0.3, 1.2}
    # Switches at the chain's rate: a state lasts REGIME_H on average (4 days: ~16 switches).
    switches = np.count_nonzero(np.diff(scored))
    expected = sc.n_blocks * BLOCK_S / (REGIME_H * 3600)
    assert abs(switches - expected) < 4 * np.sqrt(expected)
    # The scored span's states do not depend on the warm-up's length.
    np.testing.assert_array_equal(regime_sigmas(dataclasses.replace(sc, warmup_h=0.0), seed)[1], scored)
    # Each state's log returns have that state's σ (within 5 %: thousands of blocks in each).
    path = fair_path(0.3, sc.n_blocks, seed, 3.0, sc.warmup_blocks, (warm, scored))
    returns, step_sigma = np.diff(np.log(path.prices)), scored[: sc.n_blocks]
    per_year = np.sqrt(SECONDS_PER_YEAR / BLOCK_S)
    for level in (0.3, 1.2):
        assert np.std(returns[step_sigma == level]) * per_year == pytest.approx(level, rel=0.05)


def test_ours_watches_the_warm_up_without_acting_and_the_cold_run_does_not() -> None:
    from benchmarks.lp.market import Scenario
    from benchmarks.lp.run import OURS_COLD, OURS_HEDGED, Job, RoundSchedule, _runner, _warm_up, market_for

    costs = HedgeCosts()
    sc = Scenario(0.6, 3000, 0.01, warmup_h=0.1)  # 30 warm-up blocks: 6 minutes
    samples = {}
    for strategy in (OURS_HEDGED, OURS_COLD):
        job = Job(sc, 0, strategy, 0.0, 30.0)
        m = market_for(job, costs)
        runner = _runner(job, m.pool, m.fair, m.clock, costs)
        wallet = (m.pool.wallet0, m.pool.wallet1)
        watcher = runner if strategy == OURS_HEDGED else None
        rounds = RoundSchedule.starting(30 * NS_PER_S, 1.0, m.fair())
        asyncio.run(_warm_up(watcher, m, rounds))  # type: ignore[arg-type]
        assert m.fair.block == sc.warmup_blocks == 30 and m.clock.now_ns() == 360 * NS_PER_S
        manager = runner.manager  # type: ignore[attr-defined]
        assert manager.position is None and (m.pool.wallet0, m.pool.wallet1) == wallet  # acted on nothing
        samples[strategy] = (manager.meter.vol.samples, rounds.last_ns)
    # rounds every 30 s from the first block: 12 s, 48 s, ..., 336 s (10 rounds, 9 returns)
    assert samples == {OURS_HEDGED: (9, 336 * NS_PER_S), OURS_COLD: (0, -30 * NS_PER_S)}


def test_the_seeded_start_reads_the_warm_ups_closes_and_the_pools_swaps() -> None:
    from benchmarks.lp.market import Scenario
    from benchmarks.lp.run import (
        OURS_SEEDED,
        Job,
        RoundSchedule,
        _runner,
        _warm_up,
        market_for,
        warmup_closes,
    )

    costs = HedgeCosts()
    sc = Scenario(0.6, 3000, 0.01, warmup_h=0.1)  # 30 warm-up blocks: 6 minutes
    job = Job(sc, 0, OURS_SEEDED, 0.0, 30.0)
    m = market_for(job, costs)
    runner = _runner(job, m.pool, m.fair, m.clock, costs)
    asyncio.run(_warm_up(None, m, RoundSchedule.starting(30 * NS_PER_S, 1.0, m.fair())))
    closes = warmup_closes(m)
    assert closes.ts_ns == tuple(b * BLOCK_S * NS_PER_S for b in (5, 10, 15, 20, 25, 30))  # one a minute
    assert closes.price == tuple(float(m.fair.prices[b]) for b in (5, 10, 15, 20, 25, 30))
    # traded at the bid or the ask: each close 5 bp off the fair, both sides, the same times
    traded = warmup_closes(m, half_spread=5e-4, seed=3)
    offsets = [round(math.log(t / c) * 1e4, 9) for t, c in zip(traded.price, closes.price, strict=True)]
    assert set(offsets) == {-5.0, 5.0} and traded.ts_ns == closes.ts_ns
    assert warmup_closes(m, half_spread=5e-4, seed=3) == traded  # its own seeded stream
    swaps = asyncio.run(m.pool.swap_history(0))
    assert (swaps.start_ns, swaps.end_ns) == (0, 360 * NS_PER_S) and len(swaps) > 0
    seeded = runner.manager.seed_estimates(closes, swaps)  # type: ignore[attr-defined]
    assert seeded.closes == 6 and seeded.fee_intervals == 5 and seeded.fee_span_s == 300.0
    assert runner.manager.meter.vol.samples == 5  # type: ignore[attr-defined]


def test_the_seeded_sigma_benchmark_seeds_and_reads_plainly_the_same_closes() -> None:
    params, manager = PARAMS, seeding_manager()
    history = bench.closes(np.random.default_rng(3), 0.6, 5e-4, 361, 60)
    assert len(history) == 361 and set(np.diff(history.ts_ns)) == {60 * NS_PER_S}
    seeded, from_closes = bench.seeded_sigma(manager, history)
    plain = bench.plain_sigma(history, params)
    assert from_closes and plain > 1.15 * seeded  # the bounce (a third of the variance) left out
    quiet = bench.closes(np.random.default_rng(3), 0.6, 0.0, 361, 60)
    assert bench.seeded_sigma(manager, quiet)[0] == pytest.approx(bench.plain_sigma(quiet, params), rel=1e-12)


def test_the_gate_error_benchmark_reads_the_gate_and_counts_paths_without_a_batch_error() -> None:
    from benchmarks.lp.market import Scenario
    from benchmarks.lp.run import OURS_HEDGED, Job

    job = Job(Scenario(0.6, 500, 1.0, warmup_h=2.5), 1, OURS_HEDGED, 0.0, 30.0)
    estimate, by_rounds, by_batches, fee = asyncio.run(gate_errors.reading(job))
    assert 0.0 < estimate < fee and 0.0 < by_rounds < 0.5 * fee and 0.5 < by_batches / by_rounds < 2.0
    readings = np.array([(estimate, by_rounds, by_batches, fee), (0.5 * fee, by_rounds, math.nan, fee)] * 2)
    line = gate_errors.row(0.6, 500, readings).split()
    assert line[:3] == ["60%", "0.05", "%"] and line[-1] == "2"  # two paths had no batch error
