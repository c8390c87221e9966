"""The Venue contract, streams: books, our order updates, fills and balances, in ticks and lots."""

from __future__ import annotations

import asyncio

from bot.core.domain import ALLOWED_TRANSITIONS, OrderState, Side
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, VenueEvent
from tests.contract import expect
from tests.contract.expect import BEST_ASK, DEEP_BID, INSIDE_BID, TOUCH_LOTS
from tests.contract.venues import ASKS, BIDS, SYMBOL, Contestant, VenueUnderTest
from tests.kit.recorder import Recorder


def _on_the_grid(event: VenueEvent) -> bool:
    """Prices and sizes are plain ints (not floats, Decimals or numpy integers)."""
    if isinstance(event, BookSnapshot):
        numbers = [n for level in event.bids + event.asks for n in level]
    elif isinstance(event, OrderUpdate):
        numbers = [event.price_ticks, event.size_lots, event.filled_lots]
    elif isinstance(event, FillEvent):
        numbers = [event.fill.price_ticks, event.fill.size_lots]
    else:
        return True
    return all(type(n) is int for n in numbers)


def test_book_snapshots_carry_the_book_in_ticks_and_lots(contestant: Contestant) -> None:
    async def scenario(t: VenueUnderTest) -> None:
        rec = Recorder()
        await t.venue.start_streams([SYMBOL], rec)
        book = await rec.wait_for(lambda: rec.last_book(SYMBOL), what="a first book")
        assert (book.venue, book.symbol, book.bids, book.asks) == (contestant.kind, SYMBOL, BIDS, ASKS)
        assert _on_the_grid(book)
        assert book.local_ts_ns >= book.exchange_ts_ns - t.clock_slack_ns
        assert [(s.venue, s.connected) for s in rec.statuses] == [(contestant.kind, True)]

    contestant.run(scenario)


def test_our_resting_order_shows_in_the_book_until_cancelled(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        rec = Recorder()
        await t.venue.start_streams([SYMBOL], rec)

        def book_shows(bids: tuple[tuple[int, int], ...]) -> bool:
            book = rec.last_book(SYMBOL)
            return book is not None and (book.bids, book.asks) == (bids, ASKS)

        await rec.wait_for(lambda: book_shows(BIDS), what="a first book")
        placed = await t.venue.place_order(expect.request(1, Side.BUY, INSIDE_BID, 3, v))
        await rec.wait_for(lambda: book_shows(((INSIDE_BID, 3), *BIDS)), what="our bid on top of the book")
        await t.venue.cancel_order(SYMBOL, placed.client_order_id)
        await rec.wait_for(lambda: book_shows(BIDS), what="the book without our bid")

    contestant.run(scenario)


async def _rest_cancel_then_take(t: VenueUnderTest, v: str) -> tuple[OrderUpdate, OrderUpdate]:
    """A bid rests and is cancelled, then an IOC takes the best ask's 20 lots and expires."""
    resting = await t.venue.place_order(expect.request(1, Side.BUY, DEEP_BID, 3, v))
    await t.venue.cancel_order(SYMBOL, resting.client_order_id)
    taker = await t.venue.place_order(expect.request(2, Side.BUY, BEST_ASK, 25, v, ioc=True))
    return resting, taker


def test_the_stream_settles_on_what_the_venue_then_answers(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        rec = Recorder()
        await t.venue.start_streams([SYMBOL], rec)
        resting, taker = await _rest_cancel_then_take(t, v)
        final = expect.after_trades(
            (Side.BUY, BEST_ASK, TOUCH_LOTS, expect.fee(BEST_ASK, TOUCH_LOTS, is_maker=False))
        )

        def last_states() -> dict[str, OrderState]:
            return {cid: rec.updates(cid)[-1].state for cid in ("t1-1", "t1-2") if rec.updates(cid)}

        ends = {"t1-1": OrderState.CANCELLED, "t1-2": OrderState.EXPIRED}
        await rec.wait_for(lambda: last_states() == ends, what=f"last streamed states {ends}")
        await rec.wait_for(lambda: rec.balances() == final, what=f"last streamed balances {final}")
        await rec.wait_for(lambda: rec.fills, what="the fill")

        streamed = [e.fill for e in rec.fills]
        assert streamed == await t.venue.fetch_fills(SYMBOL)
        assert [expect.fill_shape(f) for f in streamed] == [
            expect.expected_fill(v, 2, taker.venue_order_id, Side.BUY, BEST_ASK, TOUCH_LOTS, is_maker=False)
        ]
        assert all(e.local_ts_ns >= e.fill.exchange_ts_ns - t.clock_slack_ns for e in rec.fills)
        for ack in (resting, taker):
            assert expect.shape(rec.updates(ack.client_order_id)[-1]) == expect.shape(
                await t.venue.fetch_order(SYMBOL, ack.client_order_id)
            )
        assert await t.venue.fetch_balances() == final
        assert all(_on_the_grid(e) for e in rec.events)
        assert {e.fill.venue if isinstance(e, FillEvent) else e.venue for e in rec.events} == {v}

    contestant.run(scenario)


def test_each_order_streams_its_states_in_the_order_they_happened(contestant: Contestant) -> None:
    """Every streamed state follows from the one before (a repeat is fine: streams may resend)."""
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        rec = Recorder()
        await t.venue.start_streams([SYMBOL], rec)
        await _rest_cancel_then_take(t, v)

        def streamed_ends() -> bool:
            return OrderState.CANCELLED in [u.state for u in rec.updates("t1-1")] and OrderState.EXPIRED in [
                u.state for u in rec.updates("t1-2")
            ]

        await rec.wait_for(streamed_ends, what="the cancel and the expiry")
        await asyncio.sleep(t.quiet_s)
        for cid in ("t1-1", "t1-2"):
            path = [u.state for u in rec.updates(cid)]
            steps = zip([OrderState.PENDING_NEW, *path], path, strict=False)
            assert all(b is a or b in ALLOWED_TRANSITIONS[a] for a, b in steps), f"{cid} streamed {path}"

    contestant.run(scenario)
