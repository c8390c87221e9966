"""The kit's FakeVenue beyond the venue contract (tests/contract): the controls tests drive it by."""

import asyncio
from decimal import Decimal

import pytest

from bot.core.clock import FixedClock
from bot.core.domain import OrderState, Side
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate
from connectors.base import PostOnlyWouldCross, VenueUnavailable
from tests.kit import stubs
from tests.kit.fake_venue import FakeVenue
from tests.kit.recorder import Recorder


def test_calls_are_logged_and_refused_before_connect():
    async def main():
        venue = FakeVenue()
        with pytest.raises(VenueUnavailable):
            await venue.fetch_balances()
        await venue.connect()
        await venue.fetch_open_orders()
        return venue.calls

    assert asyncio.run(main()) == ["fetch_balances", "connect", "fetch_open_orders"]


def test_the_book_the_test_sets_is_streamed_with_our_orders_and_refuses_crossing_post_only():
    async def main():
        clock = FixedClock(5)
        venue = FakeVenue(clock=clock)
        venue.set_book("BTC/USDT", [(599_990, 4)], [(600_010, 4)])
        await venue.connect()
        rec = Recorder()
        await venue.start_streams(["BTC/USDT"], rec)
        await venue.place_order(stubs.request(side=Side.BUY, price_ticks=600_000, size_lots=2))
        with pytest.raises(PostOnlyWouldCross):  # through our own bid too
            await venue.place_order(stubs.request("t1-2", side=Side.SELL, price_ticks=600_000))
        assert rec.events == []  # delivered on the loop's next turn, after the answer
        await asyncio.sleep(0)
        return rec

    rec = asyncio.run(main())
    books = [(e.bids, e.asks, e.exchange_ts_ns) for e in rec.of(BookSnapshot)]
    assert books == [
        (((599_990, 4),), ((600_010, 4),), 5),
        (((600_000, 2), (599_990, 4)), ((600_010, 4),), 5),
    ]
    assert [u.state for u in rec.of(OrderUpdate)] == [OrderState.OPEN]


def test_fill_trades_with_a_resting_order_at_its_price_as_maker():
    async def main():
        venue = FakeVenue(markets=[stubs.market(maker_fee_bps=-1)])
        await venue.connect()
        rec = Recorder()
        await venue.start_streams(["BTC/USDT"], rec)
        await venue.place_order(stubs.request(side=Side.SELL, price_ticks=600_000, size_lots=3))
        fill = venue.fill(stubs.cid(1), 1)
        with pytest.raises(ValueError, match="cannot fill 3 lots"):
            venue.fill(stubs.cid(1), 3)
        venue.fill(stubs.cid(1))
        await asyncio.sleep(0)
        return fill, rec, await venue.fetch_balances()

    fill, rec, balances = asyncio.run(main())
    assert (fill.price_ticks, fill.size_lots, fill.is_maker, fill.fee) == (
        600_000,
        1,
        True,
        Decimal("-0.006"),
    )
    assert [e.fill.size_lots for e in rec.of(FillEvent)] == [1, 2]
    assert [u.state for u in rec.of(OrderUpdate)] == [
        OrderState.OPEN,
        OrderState.PARTIALLY_FILLED,
        OrderState.FILLED,
    ]
    assert balances == {"BTC": stubs.balance("BTC", "1.997"), "USDT": stubs.balance("USDT", "100180.018")}
