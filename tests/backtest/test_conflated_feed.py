"""`book_feed = "top_moves"` against the default feed on the same synthetic file and the same
orders: the exchange side is untouched (the same fills, at the same exchange and delivery times,
the same order updates), every print still reaches the bot in order, and the bot sees far fewer
books, each within `max_book_delay_ms` of the changes it shows, every best price move at once."""

import asyncio

from bot.backtest.synthetic import SyntheticParams, generate
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Side
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, PublicTrade
from connectors.replay.params import ReplayVenueParams
from connectors.replay.venue import ReplayVenue
from tests.kit.stubs import request

DATA = generate(SyntheticParams(rows=12_000, seed=4, symbol="BTC/USDT"))


def replay(**kw):
    balances = {"USDT": "100000", "BTC": "100"}
    params = ReplayVenueParams.model_validate(
        {"data": "unused.npz", "order_latency_ms": 1, "initial_balances": balances, **kw}
    )

    async def main():
        clock = LoopClock(epoch_ns=DATA.start_ns // 10**9 * 10**9)
        venue = ReplayVenue("rp", params, clock, data=DATA)
        events = []
        await venue.connect()
        await venue.start_streams(["BTC/USDT"], events.append)
        await asyncio.sleep(1.5)
        book = next(e for e in reversed(events) if isinstance(e, BookSnapshot))
        bid, ask = book.bids[0][0], book.asks[0][0]
        # a ladder each side, every 3 s, 1-8 ticks behind the touch seen at 1.5 s: they fill as
        # the mid wanders; cancels of the previous ladder go out with each new one
        for k in range(6):
            cids = [f"{k}b{d}" for d in range(1, 9)] + [f"{k}a{d}" for d in range(1, 9)]
            await venue.place_orders(
                [request(c, side=Side.BUY, price_ticks=bid - d, size_lots=2, venue="rp") for c, d in
                 zip(cids[:8], range(1, 9), strict=True)]
                + [request(c, side=Side.SELL, price_ticks=ask + d, size_lots=2, venue="rp") for c, d in
                   zip(cids[8:], range(1, 9), strict=True)]
            )  # fmt: skip
            await asyncio.sleep(3)
            open_now = await venue.fetch_open_orders("BTC/USDT")
            await venue.cancel_orders([("BTC/USDT", o.client_order_id) for o in open_now])
        await venue.finished.wait()
        await asyncio.sleep(0.1)
        await venue.close()
        return venue, events

    return run_simulated(main)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_top_moves_keeps_fills_and_prints_and_shows_every_best_price_move():
    _, exact = replay()
    fast_venue, fast = replay(book_feed="top_moves", max_book_delay_ms=100)

    fills = of(exact, FillEvent)
    assert len(fills) > 20
    assert [(f.fill, f.local_ts_ns) for f in of(fast, FillEvent)] == [(f.fill, f.local_ts_ns) for f in fills]
    assert of(fast, OrderUpdate) == of(exact, OrderUpdate)
    # the same prints in the same order, each with its own timestamps, at most 100 ms late
    assert of(fast, PublicTrade) == of(exact, PublicTrade)
    books = of(fast, BookSnapshot)
    assert 0 < len(books) < len(of(exact, BookSnapshot)) / 3
    assert fast_venue.feed is not None and fast_venue.feed.wakes < len(DATA) / 3
    # every book shown is the default feed's book of the same instant
    exact_at = {b.local_ts_ns: b for b in of(exact, BookSnapshot)}
    assert all(exact_at[b.local_ts_ns] == b for b in books if b.local_ts_ns in exact_at)
    assert sum(b.local_ts_ns in exact_at for b in books) > len(books) / 2
    assert books[-1].bids == of(exact, BookSnapshot)[-1].bids
