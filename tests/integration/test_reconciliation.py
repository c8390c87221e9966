"""Restart reconciliation: the store and the venue disagree in each of the three ways, then agree."""

import asyncio
import json
from decimal import Decimal

from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest, OrderState, Side
from bot.core.ids import make_client_order_id
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from tests.kit import record_order, small_config
from tests.kit.stubs import request


def test_restart_closes_vanished_orders_cancels_unknown_ones_and_stores_missed_fills_once(tmp_path):
    config = small_config(tmp_path, venues=("va",))
    store = Store(config.bot.database_url, config.bot.instance_id)  # the bot's own rows
    prefix_id = config.bot.instance_id

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        await venue.connect()
        markets = await venue.load_markets()
        btc = markets["BTC/USDT"]
        await asyncio.sleep(5)  # let the book build
        fair = venue.fair_price("BTC/USDT")
        below = btc.price_to_ticks(Decimal(str(fair)) * Decimal("0.98"))
        above = btc.price_to_ticks(Decimal(str(fair)) * Decimal("1.02"))

        def remember(cid, side, price, lots, state):
            of = request(cid, side=side, price_ticks=price, size_lots=lots, venue="va", symbol="BTC/USDT")
            states = [] if state is OrderState.PENDING_NEW else [state]
            record_order(store, btc, of, states, clock.now_ns())

        # (1) the store thinks this order is open; it was cancelled on the venue while we were down
        vanished = make_client_order_id(prefix_id, 1)
        await venue.place_order(OrderRequest(vanished, "va", "BTC/USDT", Side.BUY, below, 2))
        remember(vanished, Side.BUY, below, 2, OrderState.OPEN)
        await venue.cancel_order("BTC/USDT", vanished)
        # (2) ours by prefix, resting on the venue, unknown to the store (crash before the row)
        unknown = make_client_order_id(prefix_id, 2)
        await venue.place_order(OrderRequest(unknown, "va", "BTC/USDT", Side.SELL, above, 3))
        # (3) sent just before the crash, filled while we were down: its fills are missing
        filled = make_client_order_id(prefix_id, 3)
        remember(filled, Side.BUY, above, 4, OrderState.PENDING_NEW)
        ack = await venue.place_order(
            OrderRequest(filled, "va", "BTC/USDT", Side.BUY, above, 4, post_only=False)
        )
        assert ack.state is OrderState.FILLED
        venue_fills = await venue.fetch_fills("BTC/USDT")

        bot = Bot(config, tmp_path, venues={"va": venue})
        await bot.start()
        after_first = [u.client_order_id for u in await venue.fetch_open_orders()]
        await bot.shutdown()
        bot2 = Bot(config, tmp_path, venues={"va": venue})  # a second restart must change nothing
        await bot2.start()
        await bot2.shutdown()
        await venue.close()
        return venue_fills, after_first

    venue_fills, open_after_start = run_simulated(main)
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert store.get_order(make_client_order_id(prefix_id, 1)).state == "cancelled"
    assert make_client_order_id(prefix_id, 2) not in open_after_start
    assert store.get_order(make_client_order_id(prefix_id, 2)) is None  # cancelled, never adopted
    row = store.get_order(make_client_order_id(prefix_id, 3))
    assert (row.state, row.filled_lots) == ("filled", 4)
    stored = [
        (f.venue_trade_id, f.size_lots)
        for f in store.fills("va")
        if f.client_order_id == make_client_order_id(prefix_id, 3)
    ]
    expected = [
        (f.venue_trade_id, f.size_lots) for f in venue_fills if f.client_order_id == row.client_order_id
    ]
    assert stored == expected and sum(lots for _, lots in stored) == 4
    reports = [json.loads(e.detail) for e in store.events("reconcile")]
    assert (reports[0]["fills_inserted"], reports[0]["cancelled_unknown"], reports[0]["closed_in_store"]) == (
        len(expected),
        1,
        2,
    )
    assert (reports[1]["fills_inserted"], reports[1]["cancelled_unknown"], reports[1]["closed_in_store"]) == (
        0,
        0,
        0,
    )
