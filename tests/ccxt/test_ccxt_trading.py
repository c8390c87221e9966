"""CcxtVenue over real ccxt.pro binance, against the facade: markets, books, orders, fills."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.core.domain import OrderState, Side
from connectors.base import OrderNotFound, PostOnlyWouldCross, Venue
from tests.kit.recorder import Recorder
from tests.kit.stubs import request

BTC = "BTC/USDT"
ACCOUNT = "main"


async def test_load_markets_converts_precision_exactly(facade, venue):
    assert isinstance(venue, Venue)
    markets = await venue.load_markets()
    assert sorted(markets) == ["BTC/USDT", "ETH/BTC"]
    btc, eth = markets["BTC/USDT"], markets["ETH/BTC"]
    assert (btc.venue, btc.base, btc.quote) == ("bn", "BTC", "USDT")
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (Decimal("0.1"), Decimal("0.001"), Decimal("5"))
    assert (eth.tick_size, eth.lot_size, eth.min_notional) == (
        Decimal("0.00001"),
        Decimal("0.0001"),
        Decimal("0"),
    )
    # Same grid as the engine behind the facade, to the last digit.
    engine = facade.exchange.markets
    for symbol, market in markets.items():
        assert str(market.tick_size) == str(engine[symbol].tick_size.normalize())
        assert str(market.lot_size) == str(engine[symbol].lot_size.normalize())
    # One exchangeInfo call and one signed account call (the credential check) to connect.
    assert facade.rest.gate.counts[("GET", "/api/v3/exchangeInfo")] == 1
    assert facade.rest.gate.counts[("GET", "/api/v3/account")] == 1


async def test_book_snapshot_plus_streamed_deltas_equal_the_engine_book(facade, venue):
    rec = Recorder()
    await venue.start_streams([BTC, "ETH/BTC"], rec)
    assert [(s.connected, s.detail) for s in rec.statuses] == [(True, "streaming 2 markets")]
    engine = facade.exchange
    first = await rec.wait_for(lambda: rec.last_book(BTC), what="first BTC book")
    assert (first.bids, first.asks) == engine.depth(BTC, 20)
    eth = await rec.wait_for(lambda: rec.last_book("ETH/BTC"), what="first ETH book")
    assert (eth.bids, eth.asks) == engine.depth("ETH/BTC", 20)

    book = engine.book(BTC)
    best_bid, best_ask = book.best_bid(), book.best_ask()
    now = facade.core.now_ns()
    engine.background_place(BTC, Side.BUY, best_bid + 3, 7, now)  # a new best bid
    engine.background_place(BTC, Side.SELL, best_ask + 1000, 4, now)  # a new deep level
    engine.background_take(BTC, Side.SELL, 7 + 5, now)  # eats the new bid and 5 lots of the old one
    target = engine.depth(BTC, 20)
    assert target[0][0] == (best_bid, 20 - 5)

    def matches():
        snap = rec.last_book(BTC)
        return snap is not None and (snap.bids, snap.asks) == target

    await rec.wait_for(matches, what="the streamed book to equal the engine's")
    # The changes came as depthUpdate deltas: the REST snapshot was fetched once per market.
    assert facade.rest.gate.counts[("GET", "/api/v3/depth")] == 2
    assert venue.session.exchange.orderbooks[BTC]["nonce"] == facade.core.books[BTC].last_update_id
    assert not venue.stale_symbols


async def test_post_only_order_is_placed_listed_streamed_and_cancelled(facade, venue):
    rec = Recorder()
    await venue.start_streams([BTC], rec)
    engine = facade.exchange
    bid = engine.book(BTC).best_bid()

    ack = await venue.place_order(
        request("mm1-1", side=Side.BUY, price_ticks=bid - 5, size_lots=3, venue="bn")
    )
    assert (ack.state, ack.client_order_id, ack.price_ticks, ack.size_lots) == (
        OrderState.OPEN,
        "mm1-1",
        bid - 5,
        3,
    )
    [on_engine] = engine.open_orders(ACCOUNT)
    assert (on_engine.client_order_id, on_engine.venue_order_id) == ("mm1-1", ack.venue_order_id)
    [listed] = await venue.fetch_open_orders(BTC)
    assert (listed.client_order_id, listed.price_ticks, listed.size_lots, listed.state) == (
        "mm1-1",
        bid - 5,
        3,
        OrderState.OPEN,
    )
    await rec.wait_for(lambda: rec.updates("mm1-1"), what="the NEW report on the user stream")
    balances = await venue.fetch_balances()
    assert balances["USDT"] == engine.balances(ACCOUNT)["USDT"]
    assert balances["USDT"].locked > 0

    cancelled = await venue.cancel_order(BTC, "mm1-1")
    assert (cancelled.state, cancelled.client_order_id) == (OrderState.CANCELLED, "mm1-1")
    await rec.wait_for(
        lambda: [u for u in rec.updates("mm1-1") if u.state is OrderState.CANCELLED],
        what="the CANCELED report (our id from field C)",
    )
    assert await venue.fetch_open_orders(BTC) == []
    assert engine.open_orders(ACCOUNT) == []
    with pytest.raises(OrderNotFound, match="Unknown order sent"):
        await venue.cancel_order(BTC, "mm1-1")
    assert (await venue.fetch_order(BTC, "mm1-1")).state is OrderState.CANCELLED
    with pytest.raises(OrderNotFound, match="Order does not exist"):
        await venue.fetch_order(BTC, "mm1-never")


async def test_crossing_post_only_is_rejected_and_leaves_nothing(facade, venue):
    engine = facade.exchange
    before = engine.balances(ACCOUNT)
    ask = engine.book(BTC).best_ask()
    with pytest.raises(PostOnlyWouldCross, match="Order would immediately match and take"):
        await venue.place_order(request("mm1-2", side=Side.BUY, price_ticks=ask, size_lots=3, venue="bn"))
    assert engine.open_orders(ACCOUNT) == []
    assert engine.fills(ACCOUNT) == []
    assert engine.balances(ACCOUNT) == before
    assert "mm1-2" not in venue.session.tracker.live


async def test_fills_arrive_on_the_user_stream_exactly_once(facade, venue):
    rec = Recorder()
    await venue.start_streams([BTC], rec)
    engine = facade.exchange
    market = (await venue.load_markets())[BTC]
    ask = engine.book(BTC).best_ask()
    await venue.place_order(request("mm1-7", side=Side.SELL, price_ticks=ask - 1, size_lots=5, venue="bn"))
    await rec.wait_for(lambda: rec.updates("mm1-7"), what="NEW")

    engine.background_take(BTC, Side.BUY, 2, facade.core.now_ns())
    await rec.wait_for(lambda: len(rec.fills) == 1, what="first fill")
    engine.background_take(BTC, Side.BUY, 3, facade.core.now_ns())
    await rec.wait_for(lambda: len(rec.fills) == 2, what="second fill")
    await rec.wait_for(
        lambda: [u for u in rec.updates("mm1-7") if u.state is OrderState.FILLED], what="FILLED report"
    )

    fills = [e.fill for e in rec.fills]
    engine_fills = engine.fills(ACCOUNT)
    assert [f.size_lots for f in fills] == [2, 3]
    assert {f.price_ticks for f in fills} == {ask - 1}
    assert all(f.is_maker and f.client_order_id == "mm1-7" and f.side is Side.SELL for f in fills)
    assert [f.venue_trade_id for f in fills] == [f.venue_trade_id for f in engine_fills]
    assert [f.fee for f in fills] == [f.fee for f in engine_fills]
    assert fills[0].fee == market.notional(ask - 1, 2) * Decimal(1) / Decimal(10_000)
    assert fills[0].fee_asset == "USDT"

    # A REST catch-up sees the same trades again: none reaches the sink twice.
    await venue.streams.catch_up()
    assert len(rec.fills) == 2
    fetched = await venue.fetch_fills(BTC)
    assert [(f.venue_trade_id, f.size_lots, f.price_ticks, f.fee) for f in fetched] == [
        (f.venue_trade_id, f.size_lots, f.price_ticks, f.fee) for f in fills
    ]
    balances = await venue.fetch_balances()
    assert balances["BTC"] == engine.balances(ACCOUNT)["BTC"]
    assert balances["BTC"].free == Decimal("2") - market.size(5)


async def test_batch_calls_fall_back_to_single_calls_on_binance_spot(facade, venue):
    engine = facade.exchange
    bid = engine.book(BTC).best_bid()
    results = await venue.place_orders(
        [
            request("mm1-a", side=Side.BUY, price_ticks=bid - 1, size_lots=2, venue="bn"),
            request("mm1-b", side=Side.BUY, price_ticks=bid - 2, size_lots=2, venue="bn"),
        ]
    )
    assert [r.state for r in results] == [OrderState.OPEN, OrderState.OPEN]  # type: ignore[union-attr]
    assert venue.supports_batch is False  # ccxt: createOrders is contract-only on binance
    assert sorted(o.client_order_id for o in engine.open_orders(ACCOUNT)) == ["mm1-a", "mm1-b"]

    results = await venue.cancel_orders([(BTC, "mm1-a"), (BTC, "mm1-b"), (BTC, "mm1-zz")])
    assert [getattr(r, "state", None) for r in results[:2]] == [OrderState.CANCELLED, OrderState.CANCELLED]
    assert isinstance(results[2], OrderNotFound)
    assert engine.open_orders(ACCOUNT) == []
    assert await venue.cancel_all_orders_after(30) is False  # binance spot has no dead-man's switch


async def test_rest_polling_fallback_books_orders_and_fills(facade, make_venue):
    venue = await make_venue(facade, use_websockets=False, poll_interval_s=0.05)
    rec = Recorder()
    await venue.start_streams([BTC], rec)
    engine = facade.exchange
    first = await rec.wait_for(lambda: rec.last_book(BTC), what="a polled book")
    assert (first.bids, first.asks) == engine.depth(BTC, 20)
    assert facade.ws.connections_opened == 0

    ask = engine.book(BTC).best_ask()
    await venue.place_order(request("mm1-p", side=Side.SELL, price_ticks=ask - 1, size_lots=4, venue="bn"))
    engine.background_take(BTC, Side.BUY, 4, facade.core.now_ns())
    await rec.wait_for(lambda: rec.fills, what="a polled fill")
    await rec.wait_for(
        lambda: [u for u in rec.updates("mm1-p") if u.state is OrderState.FILLED], what="polled FILLED"
    )
    target = engine.depth(BTC, 20)
    await rec.wait_for(lambda: (rec.last_book(BTC).bids, rec.last_book(BTC).asks) == target, what="book")
    polls = facade.rest.gate.counts[("GET", "/api/v3/myTrades")]
    await rec.wait_for(
        lambda: facade.rest.gate.counts[("GET", "/api/v3/myTrades")] >= polls + 3, what="more polls"
    )
    [fill] = [e.fill for e in rec.fills]  # polled again and again, pushed once
    assert (fill.client_order_id, fill.size_lots, fill.price_ticks) == ("mm1-p", 4, ask - 1)
    assert len([u for u in rec.updates("mm1-p") if u.state is OrderState.FILLED]) == 1
