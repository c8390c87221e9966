"""The replay venue through the Venue port on hand-built books: queue position, latency, no
look-ahead, post-only and IOC, fees and balances, throttled snapshots with our orders in them."""

import asyncio
from decimal import Decimal

import pytest

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderState, Side
from bot.core.events import BookSnapshot, FillEvent, PublicTrade
from connectors.base import PostOnlyWouldCross
from connectors.replay.params import ReplayVenueParams
from connectors.replay.venue import ReplayVenue
from tests.kit.replay_rows import ASK, BID, T0, book, depth, snapshot, trade
from tests.kit.stubs import request

LAT = 1_000_000  # 1 ms order latency
FEED = 1_000  # 1 µs feed latency (helpers.book)


def params(**kw):
    base = {
        "data": "unused.npz",
        "order_latency_ms": LAT / 1e6,
        "maker_fee_bps": "-1",
        "taker_fee_bps": "10",
        "initial_balances": {"USDT": "1000", "BTC": "1"},
        "book_depth": 2,
    }
    base.update(kw)
    return ReplayVenueParams.model_validate(base)


def opening(t=0):
    return [depth(t, BID, 100, 10), depth(t, ASK, 102, 10)]


def run(rows, script, **kw):
    """Run `script(venue, events)` on a replay of `rows` from T0; returns what it returns."""

    async def main():
        clock = LoopClock(epoch_ns=T0)
        venue = ReplayVenue("rp", params(**kw), clock, data=book(rows))
        events = []
        await venue.connect()
        await venue.start_streams(["BTC/USDT"], events.append)
        try:
            return await script(venue, events, clock)
        finally:
            await venue.close()

    return run_simulated(main)


def bid(cid, price, lots, **kw):
    return request(cid, side=Side.BUY, price_ticks=price, size_lots=lots, venue="rp", **kw)


def fills(events):
    out = []
    for e in events:
        if isinstance(e, FillEvent):
            out.append((e.fill.exchange_ts_ns - T0, e.local_ts_ns - T0, e.fill.price_ticks, e.fill.size_lots))
    return out


def test_resting_bid_fills_after_the_volume_ahead_and_reports_with_the_feed():
    rows = [
        *opening(),
        trade(2 * LAT, ASK, 100, 6),  # 10 ahead -> 4
        trade(3 * LAT, ASK, 100, 4),  # -> 0
        trade(4 * LAT, ASK, 100, 1),  # 1 of our 3
        trade(5 * LAT, ASK, 100, 5),  # the other 2
        trade(6 * LAT, ASK, 100, 5),  # done
    ]

    async def script(venue, events, clock):
        ack = await venue.place_order(bid("a1", 100, 3))
        assert (ack.state, clock.now_ns() - T0) == (OrderState.OPEN, 2 * LAT)  # round trip
        await venue.finished.wait()
        await asyncio.sleep(0.01)
        return events, await venue.fetch_balances(), await venue.fetch_order("BTC/USDT", "a1")

    events, balances, order = run(rows, script)
    # exchange time of the trade, then one feed latency to us (the trade row's local time)
    assert fills(events) == [(4 * LAT, 4 * LAT + FEED, 100, 1), (5 * LAT, 5 * LAT + FEED, 100, 2)]
    assert order.state is OrderState.FILLED and order.filled_lots == 3
    # 3 lots of 0.001 BTC at 1.00 USDT, a 1 bps maker rebate on 0.003 USDT
    assert balances["BTC"].total == Decimal("1.003")
    assert balances["USDT"].total == Decimal("1000") - Decimal("0.003") + Decimal("0.0000003")
    assert balances["USDT"].locked == 0
    assert sum(isinstance(e, PublicTrade) for e in events) == 5


def test_no_look_ahead_rows_made_before_or_at_arrival_do_not_reach_the_order():
    rows = [
        *opening(),
        trade(LAT - 1, ASK, 99, 50),  # through our price, before we arrive
        trade(LAT, ASK, 99, 50),  # at the very time we arrive: applied before our request
        trade(LAT + 1, ASK, 99, 3),  # after: a print of 3 through our price fills all of us
    ]

    async def script(venue, events, clock):
        await venue.place_order(bid("a1", 100, 3))
        await venue.finished.wait()
        await asyncio.sleep(0.01)
        return events

    assert fills(run(rows, script)) == [(LAT + 1, LAT + 1 + FEED, 100, 3)]


def test_post_only_cross_is_refused_and_ioc_takes_visible_levels_then_expires():
    rows = [*opening(), depth(0, ASK, 103, 2), trade(10 * LAT, ASK, 100, 1)]

    async def script(venue, events, clock):
        with pytest.raises(PostOnlyWouldCross):
            await venue.place_order(bid("p1", 102, 1))
        ioc = await venue.place_order(bid("i1", 103, 15, ioc=True))
        await venue.finished.wait()
        await asyncio.sleep(0.01)
        return ioc, events, await venue.fetch_balances(), await venue.fetch_open_orders()

    ioc, events, balances, open_orders = run(rows, script)
    assert (ioc.state, ioc.filled_lots) == (OrderState.EXPIRED, 12)
    assert [f[2:] for f in fills(events)] == [(102, 10), (103, 2)]
    notional = Decimal("0.010") * Decimal("1.02") + Decimal("0.002") * Decimal("1.03")
    assert balances["USDT"].total == Decimal("1000") - notional * Decimal("1.001")  # 10 bps taker fee
    assert balances["USDT"].locked == 0 and balances["BTC"].total == Decimal("1.012")
    assert open_orders == []


def test_snapshots_only_when_the_top_levels_change_and_show_our_resting_order():
    rows = [
        *opening(),
        depth(0, BID, 99, 5),
        depth(LAT, BID, 98, 7),  # third level: outside book_depth = 2, no snapshot
        depth(2 * LAT, BID, 99, 6),  # second level: a snapshot
        depth(20 * LAT, ASK, 102, 9),
    ]

    async def script(venue, events, clock):
        await asyncio.sleep(5 * LAT / 1e9)
        await venue.place_order(bid("a1", 101, 4))  # rests at 101 from T0 + 6 ms
        await venue.finished.wait()
        await asyncio.sleep(0.01)
        return events

    snaps = [(e.local_ts_ns - T0, e.bids, e.asks) for e in run(rows, script) if isinstance(e, BookSnapshot)]
    assert snaps == [
        (FEED, ((100, 10), (99, 5)), ((102, 10),)),
        (2 * LAT + FEED, ((100, 10), (99, 6)), ((102, 10),)),
        # our order (resting from 6 ms) shows with the next depth update, as in a recorded feed
        (20 * LAT + FEED, ((101, 4), (100, 10)), ((102, 9),)),
    ]


def test_with_snapshot_rows_the_book_is_published_there_with_our_orders_as_they_rested_then():
    rows = [
        *opening(),
        snapshot(0, 100),
        depth(LAT, BID, 99, 5),  # no publication of its own: shows with the next one
        snapshot(3 * LAT, 100),
        snapshot(6 * LAT, 100),  # our bid at 101 rests from 4.5 ms
        snapshot(7 * LAT - 500, 100),  # the same book again: published all the same
        trade(7 * LAT, ASK, 101, 4),  # fills our bid, before that publication reaches us
        snapshot(8 * LAT, 100),
    ]

    async def script(venue, events, clock):
        await asyncio.sleep(3.5 * LAT / 1e9)
        await venue.place_order(bid("a1", 101, 4))
        await venue.finished.wait()
        await asyncio.sleep(0.01)
        return events

    events = run(rows, script)
    books = [e for e in events if isinstance(e, BookSnapshot)]
    snaps = [(e.local_ts_ns - T0, e.exchange_ts_ns - T0, e.bids) for e in books]
    assert snaps == [
        (FEED, 0, ((100, 10),)),
        (3 * LAT + FEED, 3 * LAT, ((100, 10), (99, 5))),
        (6 * LAT + FEED, 6 * LAT, ((101, 4), (100, 10))),
        (7 * LAT - 500 + FEED, 7 * LAT - 500, ((101, 4), (100, 10))),
        (8 * LAT + FEED, 8 * LAT, ((100, 10), (99, 5))),
    ]
    assert fills(events) == [(7 * LAT, 7 * LAT + FEED, 101, 4)]
