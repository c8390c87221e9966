"""A restarted LP manager (a new process, or a hot reload) keeps the minimum interval between
actions, for the position it adopts and for a pool it finds flat: the last action's time comes
from the store, not from nothing."""

import asyncio

from amm.sim.flow import SimPoolFlow
from amm.sim.pool import SimulatedPool
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.manager import LpManager
from strategies.lp.pool import PoolLpManager
from strategies.lp.rules import Action, Decision, PoolView, Rules
from tests.lp.test_lp_manager_run import PARAMS, POOL

S = 1_000_000_000
# The TWAP guard off: the price jump below would hold every action on it, hiding the interval.
RESTART_PARAMS = PARAMS.model_copy(update={"twap_window_s": 0})


def test_a_position_adopted_just_after_its_open_waits_out_the_minimum_interval(tmp_path):
    lp_store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    interval_s = RESTART_PARAMS.min_action_interval_s
    check_s = RESTART_PARAMS.check_interval_s

    async def main():
        clock = LoopClock(epoch_ns=0)
        price = [3000.0]
        pool = SimulatedPool.from_params(POOL, clock)
        flow = SimPoolFlow(pool, lambda: price[0], POOL, clock)
        task = asyncio.create_task(flow.run())
        first = PoolLpManager("lp", "uni", pool, lambda: price[0], RESTART_PARAMS, clock, lp_store)
        while first.position is None:  # enters once it has seen enough fees (default errors)
            await first.step()
            await asyncio.sleep(check_s)
        opened = first.position
        price[0] = opened.choice.price_upper * 1.03  # out of range: the move rule fires from now
        await asyncio.sleep(interval_s / 2)
        restart_ns = clock.now_ns()
        restarted = PoolLpManager("lp", "uni", pool, lambda: price[0], RESTART_PARAMS, clock, lp_store)
        (row,) = lp_store.positions("lp", open_only=True)
        await restarted.adopt(row)
        adopted_last_action_ns = restarted.last_action_ns
        while restarted.position is None or restarted.position.token_id == opened.token_id:
            await restarted.step()
            await asyncio.sleep(check_s)
        flow.stop()
        await task
        return opened, adopted_last_action_ns, restart_ns

    opened, adopted_last_action_ns, restart_ns = run_simulated(main)
    assert adopted_last_action_ns == opened.opened_ns
    executed = lp_store.actions("lp", executed=True)
    assert [a.action for a in executed][:1] == ["open"] and executed[0].ts_ns == opened.opened_ns
    moved = executed[1]  # the next action on the jumped price: not before the interval is over
    assert moved.action in {"recentre", "widen", "shrink", "exit"}
    assert opened.opened_ns + interval_s * S <= moved.ts_ns < opened.opened_ns + (interval_s + check_s) * S
    held = [a for a in lp_store.actions("lp", executed=False) if restart_ns <= a.ts_ns < moved.ts_ns]
    assert held and all("min interval" in a.reason for a in held)  # the rule fired, the interval held it


def test_a_pool_restarted_flat_just_after_an_exit_waits_out_the_minimum_interval(tmp_path):
    # Entry on the measured estimates (no error margins): the restarted manager would re-enter at
    # its first rounds, so only the restored time of the exit holds it.
    params = RESTART_PARAMS.model_copy(update={"entry_carry_errors": 0.0, "entry_max_sigma_error": 1.0})
    lp_store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    interval_s, check_s = params.min_action_interval_s, params.check_interval_s

    def exit_now(view: PoolView, rules: Rules) -> Decision:
        return Decision(Action.WITHDRAW, "test: exit", True)

    async def main():
        clock = LoopClock(epoch_ns=0)
        pool = SimulatedPool.from_params(POOL, clock)
        flow = SimPoolFlow(pool, lambda: 3000.0, POOL, clock)
        task = asyncio.create_task(flow.run())
        first = PoolLpManager("lp", "uni", pool, lambda: 3000.0, params, clock, lp_store)
        while first.position is None:
            await first.step()
            await asyncio.sleep(check_s)
        await first.step(exit_now)  # an executed exit, stored like any decision
        exit_ns = clock.now_ns()
        restarted = PoolLpManager("lp", "uni", pool, lambda: 3000.0, params, clock, lp_store)
        strategy = LpManager("lp", params)
        strategy.managers = {"uni": restarted}
        await strategy._adopt_stored_positions()  # what `LpManager.run` does first: no open rows
        restored = restarted.last_action_ns
        while restarted.position is None:
            await restarted.step()
            await asyncio.sleep(check_s)
        flow.stop()
        await task
        return exit_ns, restored

    exit_ns, restored = run_simulated(main)
    assert restored == exit_ns
    executed = lp_store.actions("lp", executed=True)
    assert [a.action for a in executed] == ["open", "withdraw", "open"]
    reopened = executed[2].ts_ns
    assert exit_ns + interval_s * S <= reopened < exit_ns + (interval_s + check_s) * S
    held = [a for a in lp_store.actions("lp", executed=False) if exit_ns <= a.ts_ns < reopened]
    assert held and all("min interval" in a.reason for a in held)  # the entry fired, the interval held it
