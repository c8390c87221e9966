import asyncio
import itertools
import math
from fractions import Fraction

import pytest

from amm.math.conversions import price_to_sqrt_price_x96
from amm.sim.flow import FlowTrade, SimPoolFlow
from amm.sim.params import NoiseParams, SimPoolParams
from amm.sim.pool import SimulatedPool
from bot.core.clock import LoopClock, run_simulated

FEE = 500 / 1e6


def params(**overrides) -> SimPoolParams:
    base = dict(
        initial_price=3000.0, gas_price_gwei=1.0, noise=NoiseParams(rate_per_s=0.1, mean_size_token1=20_000)
    )
    base.update(overrides)
    return SimPoolParams(**base)


def test_arbitrage_tracks_a_moving_fair_price_on_virtual_time():
    p = params()
    gaps: list[float] = []
    trades: list[FlowTrade] = []

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        clock = LoopClock(epoch_ns=0)
        pool = SimulatedPool.from_params(p, clock)
        seen: list[float] = []

        def fair() -> float:  # drifts 10 % over the run, with a wiggle
            t = loop.time() - t0
            value = 3000.0 * math.exp(0.1 * t / 7200 + 0.02 * math.sin(t / 300))
            seen.append(value)
            return value

        flow = SimPoolFlow(pool, fair, p, clock, on_trade=trades.append)
        task = asyncio.create_task(flow.run())
        await asyncio.sleep(1.0)  # sample one second after each block
        for _ in range(600):  # two hours of blocks, sampled right after each block
            await asyncio.sleep(p.block_time_s)
            gaps.append(pool.price() / seen[-1] - 1.0)
        flow.stop()
        await task
        return flow.stats, pool.price(), seen[-1]

    stats, final_price, final_fair = run_simulated(main)
    assert stats.blocks == 600
    assert stats.arbitrage_swaps > 100 and stats.noise_swaps > 100
    assert stats.arbitrage_profit_token1 > 0
    # After every block the pool sits within the fee band around fair, widened by the gas hurdle:
    # with 10M full-range liquidity, closing a gap 5 bp beyond the band earns about the gas (~0.4 USDC).
    abs_gaps = [abs(g) for g in gaps]
    assert max(abs_gaps) < 2.5 * FEE
    assert sum(abs_gaps) / len(abs_gaps) < 1.1 * FEE  # mostly parked on the band edge it was pushed to
    assert final_price == pytest.approx(final_fair, rel=2.5 * FEE)
    assert final_fair > 3000 * 1.08
    kinds = {t.kind for t in trades}
    assert kinds == {"arbitrage", "noise"}
    assert all(b.ts_ns >= a.ts_ns for a, b in itertools.pairwise(trades))


def test_arbitrage_stops_exactly_at_the_fee_band_edge():
    p = params()
    pool = SimulatedPool.from_params(p, _clock())
    flow = SimPoolFlow(pool, lambda: 2900.0, p, _clock())
    trade = flow.arbitrage()
    assert trade is not None and trade.amount0 > 0  # sold token0 into the pool
    keep = 1 - Fraction(500, 10**6)
    assert pool.core.sqrt_price_x96 == price_to_sqrt_price_x96(Fraction(2900.0) / keep, 18, 6)
    assert flow.arbitrage() is None  # nothing left to take
    flow.fair_price = lambda: 3100.0
    trade = flow.arbitrage()
    assert trade is not None and trade.amount1 > 0
    assert pool.core.sqrt_price_x96 == price_to_sqrt_price_x96(Fraction(3100.0) * keep, 18, 6)


def test_no_trade_inside_the_fee_band_or_below_the_gas_hurdle():
    p = params()
    pool = SimulatedPool.from_params(p, _clock())
    flow = SimPoolFlow(pool, lambda: 3000.0 * (1 + FEE / 2), p, _clock())
    assert flow.arbitrage() is None and flow.stats.skipped_unprofitable == 0
    # 0.1 % gap on 10M of full-range liquidity earns ~ tens of USDC; 10k gwei gas costs ~3.9k USDC.
    costly = params(gas_price_gwei=10_000.0)
    pool = SimulatedPool.from_params(costly, _clock())
    flow = SimPoolFlow(pool, lambda: 3000.0 * 1.002, costly, _clock())
    assert flow.arbitrage() is None and flow.stats.skipped_unprofitable == 1
    assert pool.price() == pytest.approx(3000.0, rel=1e-12)


def test_runs_are_reproducible_per_seed():
    def final_sqrt(seed: int) -> int:
        p = params(seed=seed, arbitrage={"enabled": False})
        pool = SimulatedPool.from_params(p, _clock())
        flow = SimPoolFlow(pool, lambda: 3000.0, p, _clock())
        for _ in range(200):
            flow.on_block(p.block_time_s)
        assert flow.stats.noise_swaps > 0 and flow.stats.arbitrage_swaps == 0
        return pool.core.sqrt_price_x96

    assert final_sqrt(1) == final_sqrt(1)
    assert final_sqrt(1) != final_sqrt(2)


def _clock():
    from bot.core.clock import FixedClock

    return FixedClock(0)


@pytest.mark.parametrize("bad", [float("nan"), 0.0, -1.0, float("inf")])
def test_unusable_fair_price_means_no_arbitrage(bad):
    p = params()
    pool = SimulatedPool.from_params(p, _clock())
    flow = SimPoolFlow(pool, lambda: bad, p, _clock())
    assert flow.arbitrage() is None
    assert pool.price() == pytest.approx(3000.0, rel=1e-12)
