"""CcxtVenue when things go wrong: bad keys, 429s, unknown outcomes, dropped and stale streams."""

from __future__ import annotations

import pytest

from bot.core.domain import OrderState, Side
from bot.core.events import BookSnapshot, BookStatus, VenueStatus
from connectors.base import AuthError, RateLimited
from tests.ccxt.conftest import KEY_ENV, SECRET_ENV
from tests.kit.recorder import Recorder
from tests.kit.stubs import request

BTC = "BTC/USDT"
ETH_BTC = "ETH/BTC"
ACCOUNT = "main"
POST_ORDER = ("POST", "/api/v3/order")


async def test_bad_signature_is_an_auth_error_at_connect(facade, make_venue, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    venue = await make_venue(facade, connect=False)
    with pytest.raises(AuthError, match="Signature for this request is not valid"):
        await venue.connect()
    assert venue.session.exchange is None  # closed again, nothing left open


async def test_unknown_api_key_and_missing_env_var(facade, make_venue, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "someone-else")
    venue = await make_venue(facade, connect=False)
    with pytest.raises(AuthError, match="Invalid API-key"):
        await venue.connect()
    monkeypatch.delenv(SECRET_ENV)
    venue = await make_venue(facade, connect=False)
    with pytest.raises(AuthError, match=f"{SECRET_ENV} \\(venues.bn.secret_env\\) is not set"):
        await venue.connect()


async def test_429_backs_off_for_retry_after_then_succeeds(facade, venue):
    facade.faults.reject_next, facade.faults.retry_after_s = 2, 0.2
    balances = await venue.fetch_balances()
    assert balances["USDT"].free == 100000
    assert facade.faults.rejected == 2
    assert venue.session.rest.retries == 2
    assert venue.session.rest.last_delay_s >= 0.2  # the venue's Retry-After, above our own backoff

    # A create refused with 429 was not executed: it is re-sent, and lands once.
    facade.faults.reject_next = 1
    bid = facade.exchange.book(BTC).best_bid()
    ack = await venue.place_order(
        request("mm1-r", side=Side.BUY, price_ticks=bid - 1, size_lots=2, venue="bn")
    )
    assert ack.state is OrderState.OPEN
    assert [o.client_order_id for o in facade.exchange.open_orders(ACCOUNT)] == ["mm1-r"]
    assert facade.rest.gate.counts[POST_ORDER] == 2


async def test_429_beyond_max_retries_raises_rate_limited(facade, make_venue):
    venue = await make_venue(facade, max_retries=1)
    facade.faults.reject_next, facade.faults.retry_after_s = 5, 0.05
    with pytest.raises(RateLimited) as info:
        await venue.fetch_balances()
    assert info.value.retry_after_s == 0.05
    assert facade.faults.rejected == 2  # first try + one retry


async def test_create_with_unknown_outcome_is_found_by_client_id_not_resent(facade, venue):
    facade.faults.fail_after_next = 1  # executed, then answered 503
    bid = facade.exchange.book(BTC).best_bid()
    ack = await venue.place_order(
        request("mm1-u", side=Side.BUY, price_ticks=bid - 1, size_lots=2, venue="bn")
    )
    assert (ack.state, ack.client_order_id) == (OrderState.OPEN, "mm1-u")
    assert facade.rest.gate.counts[POST_ORDER] == 1  # never sent twice
    assert facade.rest.gate.counts[("GET", "/api/v3/order")] == 1  # looked up by origClientOrderId
    assert [o.client_order_id for o in facade.exchange.open_orders(ACCOUNT)] == ["mm1-u"]


async def test_create_that_never_reached_the_venue_is_checked_then_resent(facade, venue):
    facade.faults.fail_before_next = 1  # answered 503 without being executed
    bid = facade.exchange.book(BTC).best_bid()
    ack = await venue.place_order(
        request("mm1-v", side=Side.BUY, price_ticks=bid - 1, size_lots=2, venue="bn")
    )
    assert ack.state is OrderState.OPEN
    assert facade.rest.gate.counts[POST_ORDER] == 2
    assert facade.rest.gate.counts[("GET", "/api/v3/order")] == 1  # checked before the re-send
    assert [o.client_order_id for o in facade.exchange.open_orders(ACCOUNT)] == ["mm1-v"]


async def test_dropped_websockets_reconnect_resync_and_never_duplicate_fills(facade, venue):
    rec = Recorder()
    await venue.start_streams([BTC], rec)
    engine = facade.exchange
    ask = engine.book(BTC).best_ask()
    await venue.place_order(request("mm1-d", side=Side.SELL, price_ticks=ask - 1, size_lots=6, venue="bn"))
    await rec.wait_for(lambda: rec.updates("mm1-d"), what="NEW")
    engine.background_take(BTC, Side.BUY, 2, facade.core.now_ns())
    await rec.wait_for(lambda: len(rec.fills) == 1, what="fill before the drop")

    dropped = await facade.drop_streams()
    assert dropped >= 2  # the depth/trade stream and the WS-API user stream
    # Trades while the user stream is down: only the REST catch-up can deliver this one.
    engine.background_take(BTC, Side.BUY, 3, facade.core.now_ns())
    now = facade.core.now_ns()
    engine.background_place(BTC, Side.BUY, engine.book(BTC).best_bid() + 2, 9, now)

    await rec.wait_for(lambda: [s for s in rec.statuses if not s.connected], what="VenueStatus down")
    await rec.wait_for(
        lambda: rec.statuses and rec.statuses[-1].connected, timeout_s=10, what="VenueStatus up"
    )
    await rec.wait_for(lambda: len(rec.fills) >= 2, what="the fill made during the outage")
    target = engine.depth(BTC, 20)

    def resynced() -> bool:
        snap = rec.last_book(BTC)
        return snap is not None and (snap.bids, snap.asks) == target

    await rec.wait_for(resynced, what="the book resynced after reconnect")
    assert facade.ws.connections_opened >= 4  # both sockets came back
    await venue.streams.catch_up()
    engine.background_take(BTC, Side.BUY, 1, facade.core.now_ns())
    await rec.wait_for(lambda: len(rec.fills) >= 3, what="a fill on the new stream")

    trade_ids = [e.fill.venue_trade_id for e in rec.fills]
    assert len(trade_ids) == len(set(trade_ids)) == 3
    assert [e.fill.size_lots for e in rec.fills] == [2, 3, 1]
    assert trade_ids == [f.venue_trade_id for f in engine.fills(ACCOUNT)]


async def test_quiet_book_stays_live_and_a_stalled_book_is_pulled_alone(facade, make_venue):
    """Silent for stale_book_s: the REST book decides. Unchanged = quiet (live, no pull); moved =
    stalled: only that market's book goes down (BookStatus), never the venue (VenueStatus)."""
    venue = await make_venue(facade, stale_book_s=0.4)
    rec = Recorder()
    await venue.start_streams([BTC, ETH_BTC], rec)
    engine = facade.exchange
    await rec.wait_for(lambda: rec.last_book(BTC) and rec.last_book(ETH_BTC), what="first books")

    # Both books quiet (no flow on this venue) for 5 x stale_book_s: checked, confirmed, kept live.
    quiet_from = len(rec.events)
    confirmed = venue.streams.watch.confirmed_quiet
    await rec.wait_for(lambda: min(confirmed[BTC], confirmed[ETH_BTC]) >= 3, 10, "confirmations")
    quiet = rec.events[quiet_from:]
    assert [e for e in quiet if isinstance(e, BookStatus | VenueStatus)] == []
    assert venue.stale_symbols == frozenset() and venue.streams.books.pulls == 0
    # each confirmation re-sent the unchanged book as fresh
    assert {(b.bids, b.asks) for b in quiet if isinstance(b, BookSnapshot) and b.symbol == BTC} == {
        engine.depth(BTC, 20)
    }

    facade.faults.freeze_depth = True  # connected, frames lost while BTC's book moves on
    engine.background_place(BTC, Side.BUY, engine.book(BTC).best_bid() - 50, 1, facade.core.now_ns())
    down = await rec.wait_for(
        lambda: [s for s in rec.of(BookStatus) if not s.live], timeout_s=5, what="BookStatus down"
    )
    assert [(s.symbol, "moved" in s.detail) for s in down] == [(BTC, True)]
    assert venue.stale_symbols == {BTC}
    assert not [s for s in rec.statuses[1:] if not s.connected]  # the venue itself stays up
    await rec.wait_for(lambda: venue.streams.resyncs >= 1, what="a forced resync")

    facade.faults.freeze_depth = False
    # Keep the market moving so a fresh stream has something to say.
    n_books = len(rec.of(BookSnapshot))
    for i in range(1, 30):
        engine.background_place(BTC, Side.BUY, engine.book(BTC).best_bid() - 50 - i, 1, facade.core.now_ns())
        try:
            await rec.wait_for(
                lambda: rec.of(BookStatus)[-1].live and len(rec.of(BookSnapshot)) > n_books, 0.1
            )
            break
        except AssertionError:
            continue
    assert [(s.symbol, s.live) for s in rec.of(BookStatus)] == [(BTC, False), (BTC, True)]
    assert "resynced" in rec.of(BookStatus)[-1].detail
    assert venue.stale_symbols == frozenset()
    # The last bid placed above may still be on its way (books publish every 100 ms): the resynced
    # stream must converge to the engine's book, not match it at one arbitrary instant.
    await rec.wait_for(
        lambda: (b := rec.last_book(BTC)) is not None and (b.bids, b.asks) == engine.depth(BTC, 20),
        timeout_s=3,
        what="streamed book equal to the engine's after resync",
    )
