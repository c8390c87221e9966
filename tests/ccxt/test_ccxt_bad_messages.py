"""Malformed websocket messages from the venue: each logged once and skipped, nothing corrupted.

The facade injects raw frames (`FacadeCore.send_raw`): text that is not JSON, events without
their fields, and depth updates *in sequence* (the next update ids, so ccxt applies them) with a
negative, NaN, 1e300 or book-crossing level. Real ccxt.pro parses them; the connector must keep
streaming, emit no absurd event, and end with the book, the fills and the order states the venue
really has, as if the bad frames had never been sent.
"""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from bot.core.domain import OrderState, Side
from bot.core.events import BalanceUpdate, BookSnapshot
from tests.kit.recorder import Recorder
from tests.kit.stubs import request

BTC = "BTC/USDT"
DEPTH = "btcusdt@depth"


def depth_update(bids: list[list[str]], asks: list[list[str]]) -> dict:
    return {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": "next", "b": bids, "a": asks}


BAD_DEPTH_FRAMES = [
    ("not JSON", "{not json", "malformed stream message skipped (JSONDecodeError"),
    ("negative price", depth_update([["-5", "1"]], []), "price -5.0 is not a positive number"),
    ("NaN price", depth_update([["NaN", "1"]], []), "price nan is not a positive number"),
    ("price 1e300", depth_update([], [["1e300", "1"]]), "price 1e+300 is out of range"),
    ("crossing bid", depth_update([["90000", "1"]], []), "crossed: best bid 90000.0 >= best ask"),
    ("zero price", depth_update([["0", "1"]], []), "price 0.0 is not a positive number"),
]


def sane(book: BookSnapshot) -> bool:
    levels = book.bids + book.asks
    ordered = not (book.bids and book.asks) or book.bids[0][0] < book.asks[0][0]
    return ordered and all(0 < p < 2**53 and 0 < q < 2**53 for p, q in levels)


def warnings_with(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


async def logged(caplog: pytest.LogCaptureFixture, text: str, timeout_s: float = 5.0) -> None:
    """Until a WARNING containing `text` was logged (log records do not wake the Recorder)."""
    async with asyncio.timeout(timeout_s):
        while not warnings_with(caplog, text):
            await asyncio.sleep(0.01)


async def test_bad_depth_frames_are_skipped_and_the_book_ends_equal_to_the_venues(
    facade, venue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rec = Recorder()
    await venue.start_streams([BTC], rec)
    engine = facade.exchange
    await rec.wait_for(lambda: rec.last_book(BTC), what="first book")
    for what, frame, warning in BAD_DEPTH_FRAMES:
        sent_before = facade.faults.raw_frames_sent
        assert facade.core.send_raw(DEPTH, frame) == 1, what
        # A real change after each bad frame: the stream must still (or again) deliver the truth.
        book = engine.book(BTC)
        engine.background_place(BTC, Side.BUY, book.best_bid() + 1, 3, facade.core.now_ns())
        target = engine.depth(BTC, 20)
        await rec.wait_for(
            lambda t=target: (b := rec.last_book(BTC)) is not None and (b.bids, b.asks) == t,
            what=f"the book after a {what} frame",
        )
        assert facade.faults.raw_frames_sent == sent_before + 1
        assert len(warnings_with(caplog, warning)) == 1, (what, warnings_with(caplog, "malformed"))
    books = rec.of(BookSnapshot)
    assert all(sane(b) for b in books), [b for b in books if not sane(b)][:1]
    # Each in-sequence bad level forced exactly one resnapshot; the bad JSON frame needed none.
    assert venue.session.skipped_messages == 5 and venue.message_guard.skipped == 1
    assert venue.streams.resyncs == 5
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_bad_user_frames_are_skipped_and_fills_orders_balances_stay_true(
    facade, venue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rec = Recorder()
    await venue.start_streams([BTC], rec)
    engine = facade.exchange
    ask = engine.book(BTC).best_ask()
    await venue.place_order(request("mm1-9", side=Side.SELL, price_ticks=ask - 1, size_lots=5, venue="bn"))
    placed = await rec.wait_for(lambda: rec.updates("mm1-9"), what="NEW")
    order_id = placed[0].venue_order_id
    report = {
        "e": "executionReport",
        "E": 1,
        "s": "BTCUSDT",
        "c": "mm1-9",
        "S": "SELL",
        "o": "LIMIT",
        "f": "GTC",
        "q": "0.005",
        "p": f"{(ask - 1) / 10:.1f}",
        "X": "PARTIALLY_FILLED",
        "x": "TRADE",
        "i": int(order_id),
        "T": 1,
        "O": 1,
        "t": 424242,
        "l": "0.002",
        "z": "0.002",
        "n": "0",
        "N": "USDT",
        "m": True,
    }
    frames = [
        ("{bad json", "malformed stream message skipped (JSONDecodeError"),
        ({"e": "executionReport", "s": "BTCUSDT"}, "order update skipped (side None is not buy or sell)"),
        # A trade report whose prices are absurd: both its order update and its fill are refused.
        ({**report, "p": "-60000", "L": "-60000"}, "fill 424242 skipped (price -60000.0 is not a positive"),
        (
            {**report, "p": "1e300", "L": "1e300", "t": 424243},
            "fill 424243 skipped (price 1e+300 is out of range)",
        ),
        ({**report, "q": "-1", "x": "NEW", "X": "NEW"}, "order update skipped (amount -1.0 is not"),
        (
            {"e": "outboundAccountPosition", "E": 1, "u": 1, "B": [{"a": "BTC", "f": "-3", "l": "0"}]},
            "balance update skipped (BTC free -3.0 is not a non-negative number)",
        ),
    ]
    for frame, warning in frames:
        assert facade.core.send_raw("user", frame) == 1
        await logged(caplog, warning)
    # The stream still works: a real fill arrives, exactly once, with the venue's values.
    engine.background_take(BTC, Side.BUY, 2, facade.core.now_ns())
    await rec.wait_for(lambda: rec.fills, what="the real fill")
    await venue.streams.catch_up()  # the REST view cannot resurrect a skipped frame either
    fills = [e.fill for e in rec.fills]
    truth = engine.fills("main")
    assert [(f.venue_trade_id, f.price_ticks, f.size_lots, f.fee) for f in fills] == [
        (f.venue_trade_id, f.price_ticks, f.size_lots, f.fee) for f in truth
    ]
    assert "424242" not in {f.venue_trade_id for f in fills}
    updates = rec.updates("mm1-9")
    assert all(u.size_lots == 5 and u.price_ticks == ask - 1 for u in updates)
    assert updates[-1].state is OrderState.PARTIALLY_FILLED and updates[-1].filled_lots == 2
    for event in rec.of(BalanceUpdate):
        assert all(b.free >= 0 and math.isfinite(b.free) for b in event.balances.values())
    assert rec.of(BalanceUpdate)[-1].balances["BTC"] == engine.balances("main")["BTC"]
    assert len(warnings_with(caplog, "order update skipped")) == 4
    assert venue.session.skipped_messages == 7 and venue.message_guard.skipped == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
