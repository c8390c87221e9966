import asyncio
from decimal import Decimal as D

import pytest

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest, OrderState, Side
from bot.core.events import BalanceUpdate, BookSnapshot, FillEvent, OrderUpdate, PublicTrade, VenueStatus
from connectors.base import (
    InsufficientBalance,
    OrderNotFound,
    OrderRejected,
    PostOnlyWouldCross,
    Venue,
    VenueError,
    VenueUnavailable,
)
from connectors.mock.params import MockMarketParams, MockVenueParams
from connectors.mock.venue import MockVenue
from tests.kit.stubs import request

EPOCH_NS = 1_700_000_000 * 10**9
MS = 1_000_000
SYM = "BTC/USDT"
# float loop time can put a timestamp one nanosecond off the exact latency
NS_SLACK = 1_000

LOW_VOL = MockMarketParams(
    symbol=SYM, tick_size="0.01", lot_size="0.001", initial_price="60000", volatility_annual=0.2
)
PARAMS = MockVenueParams(
    seed=42,
    order_latency_ms=20,
    feed_latency_ms=10,
    initial_balances={"USDT": D("100000"), "BTC": D("2")},
    markets=[
        LOW_VOL,
        MockMarketParams(symbol="ETH/USDT", tick_size="0.01", lot_size="0.01", initial_price="3000"),
    ],
)


def test_resting_bid_is_filled_by_the_flow_and_events_and_balances_agree():
    async def main():
        clock = LoopClock(epoch_ns=EPOCH_NS)
        venue = MockVenue("mock", PARAMS, clock)
        assert isinstance(venue, Venue)
        await venue.connect()
        received: list[tuple[int, object]] = []
        await venue.start_streams([SYM], lambda e: received.append((clock.now_ns(), e)))
        await asyncio.sleep(1)

        # 1 bp under the fair price: inside the background spread (5 bps), first in line for sellers
        bid_ticks = int(venue.fair_price(SYM) * (1 - 1e-4) / 0.01)
        sent_ns = clock.now_ns()
        ack = await venue.place_order(
            request("bid-1", side=Side.BUY, price_ticks=bid_ticks, size_lots=3, venue="mock")
        )
        assert abs(clock.now_ns() - sent_ns - 40 * MS) <= NS_SLACK
        assert abs(ack.exchange_ts_ns - sent_ns - 20 * MS) <= NS_SLACK
        assert ack.state is OrderState.OPEN

        for _ in range(60):
            await asyncio.sleep(1)
            if (await venue.fetch_order(SYM, "bid-1")).state is OrderState.FILLED:
                break
        order = await venue.fetch_order(SYM, "bid-1")
        assert order.state is OrderState.FILLED
        await asyncio.sleep(0.1)
        fills = await venue.fetch_fills(SYM)
        balances = await venue.fetch_balances()
        await venue.close()
        return received, fills, balances, bid_ticks

    received, fills, balances, bid_ticks = run_simulated(main)

    assert sum(f.size_lots for f in fills) == 3
    assert all(f.is_maker and f.price_ticks == bid_ticks and f.side is Side.BUY for f in fills)
    cost = sum(f.price_ticks * D("0.01") * f.size_lots * D("0.001") for f in fills)
    fees = sum(f.fee for f in fills)
    assert fees == cost * D("0.0001")  # default maker fee 1 bp
    assert balances["BTC"].free == D("2.003") and balances["BTC"].locked == 0
    assert balances["USDT"].free == D("100000") - cost - fees and balances["USDT"].locked == 0

    ours = [(t, e) for t, e in received if isinstance(e, OrderUpdate | FillEvent | BalanceUpdate)]
    states = [e.state for _, e in ours if isinstance(e, OrderUpdate)]
    assert states[0] is OrderState.OPEN and states[-1] is OrderState.FILLED
    fill_events = [(t, e) for t, e in ours if isinstance(e, FillEvent)]
    assert [e.fill for _, e in fill_events] == fills
    for delivered_ns, event in fill_events:
        assert abs(delivered_ns - event.fill.exchange_ts_ns - 10 * MS) <= NS_SLACK
        assert event.local_ts_ns == delivered_ns
    for delivered_ns, event in ours:
        exchange_ns = event.fill.exchange_ts_ns if isinstance(event, FillEvent) else event.exchange_ts_ns
        assert abs(delivered_ns - exchange_ns - 10 * MS) <= NS_SLACK
    last_balance = [e for _, e in ours if isinstance(e, BalanceUpdate)][-1]
    assert last_balance.balances["USDT"] == balances["USDT"]
    assert last_balance.balances["BTC"] == balances["BTC"]

    books = [e for _, e in received if isinstance(e, BookSnapshot)]
    trades = [e for _, e in received if isinstance(e, PublicTrade)]
    assert books and trades
    assert {e.symbol for e in books} == {e.symbol for e in trades} == {SYM}  # only subscribed markets
    assert all(0 < len(b.bids) <= PARAMS.book_depth and b.bids[0][0] < b.asks[0][0] for b in books)
    book_times = [b.exchange_ts_ns - EPOCH_NS for b in books]
    assert all(abs(t % (100 * MS)) <= NS_SLACK or (100 * MS - t % (100 * MS)) <= NS_SLACK for t in book_times)


def test_rejections_surface_as_venue_errors_after_the_round_trip():
    async def main():
        clock = LoopClock(epoch_ns=EPOCH_NS)
        venue = MockVenue("mock", PARAMS, clock)
        with pytest.raises(VenueUnavailable):
            await venue.place_order(request("early", side=Side.BUY, price_ticks=1, size_lots=1, venue="mock"))
        await venue.connect()
        book = venue.exchange.book(SYM)
        best_bid, best_ask = book.best_bid(), book.best_ask()
        started = clock.now_ns()
        with pytest.raises(PostOnlyWouldCross):
            await venue.place_order(
                request("x", side=Side.BUY, price_ticks=best_ask, size_lots=1, venue="mock")
            )
        assert abs(clock.now_ns() - started - 40 * MS) <= NS_SLACK
        with pytest.raises(InsufficientBalance):
            await venue.place_order(
                request("y", side=Side.SELL, price_ticks=best_ask + 100, size_lots=2001, venue="mock")
            )
        with pytest.raises(OrderRejected, match="unknown symbol"):
            await venue.place_order(OrderRequest("z", "mock", "DOGE/USDT", Side.BUY, 1, 1))
        with pytest.raises(OrderNotFound):
            await venue.cancel_order(SYM, "never-placed")
        with pytest.raises(VenueError, match="no such markets"):
            await venue.start_streams(["DOGE/USDT"], print)

        results = await venue.place_orders(
            [
                request("a", side=Side.BUY, price_ticks=best_bid - 10, size_lots=1, venue="mock"),
                request("b", side=Side.BUY, price_ticks=best_ask, size_lots=1, venue="mock"),
            ]
        )
        assert isinstance(results[0], OrderUpdate) and results[0].state is OrderState.OPEN
        assert isinstance(results[1], PostOnlyWouldCross)
        open_orders = await venue.fetch_open_orders()
        assert [o.client_order_id for o in open_orders] == ["a"]
        cancels = await venue.cancel_orders([(SYM, "a"), (SYM, "a")])
        assert cancels[0].state is OrderState.CANCELLED and isinstance(cancels[1], OrderNotFound)
        balances = await venue.fetch_balances()
        await venue.close()
        await venue.close()
        return balances

    balances = run_simulated(main)
    assert balances["USDT"].free == D("100000") and balances["USDT"].locked == 0


def test_same_seed_gives_the_same_simulated_session():
    async def session():
        clock = LoopClock(epoch_ns=EPOCH_NS)
        venue = MockVenue("mock", PARAMS, clock)
        await venue.connect()
        trades: list[PublicTrade] = []
        await venue.start_streams(
            [SYM, "ETH/USDT"], lambda e: trades.append(e) if isinstance(e, PublicTrade) else None
        )
        await asyncio.sleep(120)
        fair = venue.fair_price(SYM)
        await venue.close()
        return trades, fair

    first, second = run_simulated(session), run_simulated(session)
    assert len(first[0]) > 50
    assert first == second


async def test_runs_on_the_wall_clock_too():
    params = PARAMS.model_copy(
        update={"order_latency_ms": 1, "feed_latency_ms": 1, "book_publish_interval_ms": 20}
    )
    venue = MockVenue("mock", params, LoopClock())
    await venue.connect()
    received: list[object] = []
    await venue.start_streams([SYM], received.append)
    await asyncio.sleep(0.1)
    ack = await venue.place_order(
        request(
            "w", side=Side.BUY, price_ticks=venue.exchange.book(SYM).best_bid() - 5, size_lots=1, venue="mock"
        )
    )
    assert ack.state is OrderState.OPEN
    await venue.close()
    count = len(received)
    await asyncio.sleep(0.05)
    assert len(received) == count  # nothing delivered after close
    assert isinstance(received[0], VenueStatus) and received[0].connected
    assert any(isinstance(e, BookSnapshot) for e in received)
    assert any(isinstance(e, OrderUpdate) and e.client_order_id == "w" for e in received)
