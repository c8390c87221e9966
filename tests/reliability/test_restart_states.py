"""Orders caught mid-transition by a crash: the restart must finish what the dead process started.

Found by the SIGKILL crash test: an order whose cancel was in flight when the process died came
back as `pending_cancel`, was never cancelled again (neither by the quoting diff nor by the stop),
and stayed on the venue after a clean stop.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest, OrderState, Side
from bot.core.events import OrderUpdate
from bot.core.ids import make_client_order_id
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from tests.kit import record_order, small_config
from tests.kit.stubs import request


def _stored(store, market, cid, side, price, lots, states, clock):
    of = request(cid, side=side, price_ticks=price, size_lots=lots, venue="va", symbol="BTC/USDT")
    return record_order(store, market, of, states, clock.now_ns())


def test_order_killed_mid_cancel_is_cancelled_after_restart_and_none_left_at_stop(tmp_path):
    config = small_config(tmp_path, venues=("va",))
    store = Store(config.bot.database_url, config.bot.instance_id)
    cid = make_client_order_id(config.bot.instance_id, 1)

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        await venue.connect()
        btc = (await venue.load_markets())["BTC/USDT"]
        await asyncio.sleep(5)
        below = btc.price_to_ticks(Decimal(str(venue.fair_price("BTC/USDT"))) * Decimal("0.97"))
        # The dead process: placed, acknowledged, cancel sent (row says pending_cancel), SIGKILL.
        await venue.place_order(OrderRequest(cid, "va", "BTC/USDT", Side.BUY, below, 2))
        _stored(store, btc, cid, Side.BUY, below, 2, [OrderState.OPEN, OrderState.PENDING_CANCEL], clock)

        bot = Bot(config, tmp_path, venues={"va": venue})
        await bot.start()
        adopted = bot.runtime.orders.live[cid].state
        await bot.shutdown()
        left = [u.client_order_id for u in await venue.fetch_open_orders()]
        await venue.close()
        return adopted, left

    adopted, left = run_simulated(main)
    assert adopted is OrderState.OPEN  # the lost cancel request is forgotten, the order managed again
    assert left == []
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert store.get_order(cid).state == "cancelled"
    assert json.loads(store.events("stop")[-1].detail)["open_orders_left"] == 0


def test_stop_settles_tracked_orders_the_venue_no_longer_lists(tmp_path):
    """A pending order the venue never had (its create was lost) must not hold the stop for its timeout."""
    config = small_config(tmp_path, venues=("va",))
    store = Store(config.bot.database_url, config.bot.instance_id)
    ghost = make_client_order_id(config.bot.instance_id, 7)

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        await venue.connect()
        bot = Bot(config, tmp_path, venues={"va": venue})
        await bot.start()
        btc = bot.runtime.orders.state.markets[bot.runtime.orders.state.slot("va", "BTC/USDT")]
        order = _stored(bot.store, btc, ghost, Side.SELL, 10**9, 1, [OrderState.OPEN], clock)
        order.transition(OrderState.PENDING_CANCEL, clock.now_ns())
        bot.runtime.orders.adopt(order)  # tracked, pending cancel, unknown to the venue
        t0 = asyncio.get_running_loop().time()
        await bot.shutdown()
        took = asyncio.get_running_loop().time() - t0
        await venue.close()
        return took

    took = run_simulated(main)
    assert took < config.bot.stop_timeout_s
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert store.get_order(ghost).state == "cancelled"
    assert store.open_orders() == []
    assert json.loads(store.events("stop")[-1].detail)["open_orders_left"] == 0


def test_cancel_of_an_order_that_filled_after_the_diff_is_a_no_op(tmp_path):
    """Found by the fault tests: cancel_all / a market sync builds its cancel jobs, then a fill
    delivered before a job's first step closes the order; the job used to raise IllegalTransition
    (filled -> pending_cancel), which aborted the stop before the venues were closed."""
    config = small_config(tmp_path, venues=("va",))
    cid = make_client_order_id(config.bot.instance_id, 5)

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        await venue.connect()
        bot = Bot(config, tmp_path, venues={"va": venue})
        await bot.start()
        slot = bot.runtime.orders.state.slot("va", "BTC/USDT")
        btc = bot.runtime.orders.state.markets[slot]
        order = _stored(bot.store, btc, cid, Side.BUY, 1000, 1, [OrderState.OPEN], clock)
        bot.runtime.orders.adopt(order)
        bot.runtime.orders.apply_update(OrderUpdate("va", "BTC/USDT", cid, "9", OrderState.FILLED, Side.BUY,
                                                    1000, 1, 1, clock.now_ns()))  # fmt: skip
        cancels_before = bot.runtime.orders.counters.cancelled
        await bot.runtime.orders._cancel(btc, order)  # the job that was already scheduled
        await bot.shutdown()
        await venue.close()
        return order.state, bot.runtime.orders.counters.cancelled - cancels_before

    state, cancels = run_simulated(main)
    assert (state, cancels) == (OrderState.FILLED, 0)
    assert Store(config.bot.database_url, config.bot.instance_id).get_order(cid).state == "filled"
