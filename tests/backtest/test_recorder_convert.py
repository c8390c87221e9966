"""Recording the bot's streams into the event format, and converting Tardis-style CSVs."""

import asyncio
from decimal import Decimal

import pytest

from bot.backtest.convert import convert_tardis
from bot.backtest.paper_recorder import PaperRecorder
from bot.backtest.recorder import BookRecorder
from bot.core.clock import FixedClock, LoopClock, run_simulated
from bot.core.domain import OrderState, Side
from bot.core.events import BookSnapshot, PublicTrade
from connectors.mock.orders import OrderType
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from connectors.replay.events import (
    ASK,
    BID,
    DEPTH,
    RESYNC,
    SNAPSHOT,
    TRADE,
    DataMeta,
    EventFileError,
    load_events,
)
from tests.kit import MOCK_VENUE, stubs

META = DataMeta("va", "ETH/USDT", Decimal("0.01"), Decimal("0.01"))


def snap(ts, bids, asks):
    return stubs.book_snapshot(bids, asks, venue="va", symbol="ETH/USDT", ts_ns=ts - 5, local_ts_ns=ts)


def own(cid, state, side, price, size, filled=0):
    return stubs.order_update(
        cid,
        state,
        side=side,
        price_ticks=price,
        size_lots=size,
        filled_lots=filled,
        venue="va",
        symbol="ETH/USDT",
    )


def rows(data):
    return list(
        zip(
            data.kind.tolist(),
            data.side.tolist(),
            data.local_ts_ns.tolist(),
            data.price_ticks.tolist(),
            data.size_lots.tolist(),
            strict=True,
        )
    )


def test_snapshots_become_level_changes_without_our_own_orders(tmp_path):
    rec = BookRecorder(META, chunk_rows=2)  # tiny chunks: rows cross chunk boundaries
    rec(snap(100, [(500, 3), (499, 4)], [(502, 5)]))
    rec(own("t1-1", OrderState.OPEN, Side.BUY, 500, 2))
    rec(snap(200, [(500, 5), (499, 4)], [(502, 5)]))  # our 2 lots joined 500: nothing new for others
    rec(PublicTrade("va", "ETH/USDT", Side.SELL, 500, 3, 290, 300))
    rec(own("t1-1", OrderState.PARTIALLY_FILLED, Side.BUY, 500, 2, filled=1))
    rec(snap(400, [(500, 1), (498, 7)], [(502, 6)]))  # only our 1 lot left at 500; 499 gone
    rec(own("t1-2", OrderState.OPEN, Side.SELL, 501, 1))
    rec(snap(500, [(498, 7)], [(501, 1), (502, 6)]))  # our ask alone at 501: not a level of others
    rec(BookSnapshot("vb", "ETH/USDT", ((1, 1),), (), 0, 600))  # another venue: ignored
    assert rows(rec.data()) == [
        (DEPTH, BID, 100, 500, 3),
        (DEPTH, BID, 100, 499, 4),
        (DEPTH, ASK, 100, 502, 5),
        (TRADE, ASK, 300, 500, 3),
        (DEPTH, BID, 400, 499, 0),
        (DEPTH, BID, 400, 500, 0),
        (DEPTH, BID, 400, 498, 7),
        (DEPTH, ASK, 400, 502, 6),
    ]
    back = load_events(rec.save(tmp_path / "rec.npz"))
    assert rows(back) == rows(rec.data()) and back.exch_ts_ns[0] == 95


def test_recording_a_mock_venue_stream_replays_to_its_book():
    params = MockVenueParams.model_validate(MOCK_VENUE)

    async def main():
        clock = LoopClock(epoch_ns=1_700_000_000_000_000_000)
        venue = MockVenue("va", params, clock)
        rec = BookRecorder(META)
        last: list[BookSnapshot] = []

        def sink(event):
            rec(event)
            if isinstance(event, BookSnapshot) and event.symbol == "ETH/USDT":
                last[:] = [event]

        await venue.connect()
        await venue.start_streams(["ETH/USDT"], sink)
        await asyncio.sleep(30)
        await venue.close()
        return rec, last[0]

    rec, final = run_simulated(main)
    data = rec.data()
    assert len(data) > 100 and (data.kind == TRADE).sum() > 5
    book = {BID: {}, ASK: {}}
    for kind, side, _, price, lots in rows(data):
        if kind == DEPTH:
            if lots:
                book[side][price] = lots
            else:
                book[side].pop(price)
    assert sorted(book[BID].items(), reverse=True) == list(final.bids)
    assert sorted(book[ASK].items()) == list(final.asks)


def test_paper_recorder_keeps_every_change_of_others_their_prints_and_the_publications():
    venue = MockVenue("va", MockVenueParams.model_validate(dict(MOCK_VENUE, feed_latency_ms=1)), FixedClock())
    rec = PaperRecorder(venue, "ETH/USDT")
    ex, t, lat = venue.exchange, 1_000_000_000, 1_000_000
    first = ex.background_place("ETH/USDT", Side.BUY, 500, 20, t)
    ex.place_order("main", "ETH/USDT", "o1", Side.BUY, 2, t + 1, price_ticks=500)  # ours: no row
    ex.background_cancel("ETH/USDT", first.order_id, t + 2)  # re-posted, now behind ours
    ex.background_place("ETH/USDT", Side.BUY, 500, 20, t + 2)
    ex.publish_books(t + 3, 20)
    ex.background_take("ETH/USDT", Side.SELL, 3, t + 4)  # 2 against us (first now), 1 against them
    ex.place_order("main", "ETH/USDT", "o2", Side.SELL, 1, t + 5, order_type=OrderType.MARKET)
    data = rec.data()
    assert (data.local_ts_ns - data.exch_ts_ns == lat).all()
    exch = [e - t for e in data.exch_ts_ns.tolist()]
    assert [(k, s, e, p, n) for (k, s, _, p, n), e in zip(rows(data), exch, strict=True)] == [
        (DEPTH, BID, 0, 500, 20),
        (DEPTH, BID, 2, 500, 0),  # a cancel and a re-post within one publication: two rows
        (DEPTH, BID, 2, 500, 20),
        (SNAPSHOT, BID, 3, 500, 0),
        (TRADE, ASK, 4, 500, 2),  # the print against our order is on the tape
        (TRADE, ASK, 4, 500, 1),
        (DEPTH, BID, 4, 500, 19),
        (DEPTH, BID, 5, 500, 18),  # our own market sell: its depth change, but no print
    ]


def test_tardis_csvs_convert_with_snapshot_resets_and_refuse_off_grid_prices(tmp_path):
    book_csv = tmp_path / "book.csv"
    book_csv.write_text(
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
        "x,ETHUSDT,10,12,true,bid,100.00,1.5\n"
        "x,ETHUSDT,10,12,true,ask,100.02,0.3\n"
        "x,ETHUSDT,20,23,false,bid,100.01,0.2\n"
        "x,ETHUSDT,30,31,true,bid,99.99,1\n"
    )
    trades_csv = tmp_path / "trades.csv"
    trades_csv.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nx,ETHUSDT,25,26,7,sell,100.01,0.05\n"
    )
    data = convert_tardis(book_csv, trades_csv, META)
    assert rows(data) == [
        (DEPTH, BID, 12_000, 10000, 150),
        (DEPTH, ASK, 12_000, 10002, 30),
        (DEPTH, BID, 23_000, 10001, 20),
        (TRADE, ASK, 26_000, 10001, 5),
        (RESYNC, BID, 31_000, 9999, 0),  # a snapshot after a book: the feed had a gap
        (DEPTH, BID, 31_000, 10000, 0),  # the new snapshot replaces the book
        (DEPTH, BID, 31_000, 10001, 0),
        (DEPTH, ASK, 31_000, 10002, 0),
        (DEPTH, BID, 31_000, 9999, 100),
    ]
    assert data.exch_ts_ns.tolist()[:2] == [10_000, 10_000]
    book_csv.write_text(
        "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\nx,E,1,1,false,bid,100.005,1\n"
    )
    with pytest.raises(EventFileError, match=r"row 1 price: 100.005 is not a multiple of 0.01"):
        convert_tardis(book_csv, None, META)
