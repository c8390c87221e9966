"""The LP manager refuses to act while the pool is pushed off the CEX mid, and acts once it is back."""

import asyncio
import logging

from amm.math.conversions import price_to_sqrt_price_x96
from amm.math.full_math import MAX_INT256
from amm.sim.pool import SimulatedPool
from bot.core.clock import NS_PER_S, FixedClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.pool import PoolLpManager
from tests.lp.test_lp_manager_run import PARAMS, POOL

FAIR = 3000.0


def push_pool_to(pool: SimulatedPool, price: float) -> None:
    """Someone else's swap that moves the pool exactly to `price`."""
    target = price_to_sqrt_price_x96(price, 18, 6)
    pool.external_swap(target < pool.core.sqrt_price_x96, MAX_INT256, target)


def test_no_action_while_the_pool_is_manipulated(tmp_path, caplog):
    clock = FixedClock(0)
    pool = SimulatedPool.from_params(POOL, clock)
    store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    # One fee interval is all this test measures: entry on the rate as measured (not less its error).
    params = PARAMS.model_copy(update={"entry_carry_errors": 0.0, "entry_max_sigma_error": 1.0})
    manager = PoolLpManager("lp", "uni", pool, lambda: FAIR, params, clock, store)

    async def rounds():
        await manager.step()  # first fee-growth mark
        for _ in range(20):  # two-way volume earns the fees that make entering worth its gas
            push_pool_to(pool, FAIR * 1.004)
            push_pool_to(pool, FAIR * 0.996)
        clock.advance_ns(60 * NS_PER_S)
        push_pool_to(pool, FAIR * 1.03)  # a sandwich's front-run: 300 bp above the CEX mid
        with caplog.at_level(logging.INFO, logger="mmbot.lp"):
            refused = await manager.step()
        clock.advance_ns(30 * NS_PER_S)
        push_pool_to(pool, FAIR * 1.0002)  # arbitrage closed the gap
        acted = await manager.step()
        return refused, acted

    refused, acted = asyncio.run(rounds())
    assert (refused.action.value, refused.executed_gate) == ("open", False)
    assert refused.reason == "flat: enter; refused: pool price off fair"
    assert refused.numbers["pool_deviation_bps"] > 290
    assert "refused: pool price off fair" in caplog.text
    first, row = store.actions("lp", executed=False)
    assert first.reason == "flat: enter; refused: expected carry below entry"  # no fees seen yet
    assert row.reason == refused.reason and '"pool_deviation_bps": 3' in row.numbers
    assert (acted.action.value, acted.executed_gate) == ("open", True)
    assert acted.numbers["pool_deviation_bps"] < 5
    assert manager.position is not None and [r.opened_ns for r in store.positions("lp")] == [90 * NS_PER_S]
