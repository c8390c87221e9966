"""`mmbot data record` with real ccxt against the Binance-compatible facade: two symbols, one
dropped connection; the file has a RESYNC marker and replays in the replay venue. And a replay of
data finer than the trading lot: queue position in data lots, fills in whole trading lots."""

import asyncio
from decimal import Decimal

import numpy as np

from bot.backtest.data.record import RecordParams, record
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Side
from bot.core.events import BookSnapshot, FillEvent, PublicTrade
from connectors.mock.facade import serve_facade
from connectors.mock.params import MockVenueParams
from connectors.replay.events import (
    ASK,
    BID,
    DEPTH,
    RESYNC,
    TRADE,
    DataMeta,
    EventData,
    load_events,
    make_event_data,
)
from connectors.replay.params import ReplayVenueParams
from connectors.replay.venue import ReplayVenue
from tests.ccxt.conftest import API_KEY, API_SECRET, BINANCE_LOCAL_OPTIONS
from tests.kit.replay_rows import T0
from tests.kit.stubs import request
from tests.reliability.procs import facade_config


def replay(data: EventData, script=None):
    """Replay the whole file; returns what reached the bot (and what `script` returned)."""

    async def main():
        clock = LoopClock(epoch_ns=int(data.exch_ts_ns.min()) - 1_000)  # every row is on the stream
        venue = ReplayVenue("rp", ReplayVenueParams.model_validate({
            "data": "unused.npz", "order_latency_ms": 1, "initial_balances": {"USDT": "1000000", "BTC": "100"},  # noqa: E501
        }), clock, data=data)  # fmt: skip
        events = []
        await venue.connect()
        await venue.start_streams([data.meta.symbol], events.append)
        try:
            out = await script(venue) if script else None
            await venue.finished.wait()
            await asyncio.sleep(0.01)
            return events, out
        finally:
            await venue.close()

    return run_simulated(main)


async def test_a_recording_survives_a_dropped_connection_and_replays(tmp_path):
    params = MockVenueParams.model_validate(facade_config(taker_rate_per_s=20.0)["venues"]["fx"])
    facade = await serve_facade("127.0.0.1", 0, params, API_KEY, API_SECRET)
    stop = asyncio.Event()
    rp = RecordParams("binance", ("BTC/USDT", "ETH/USDT"), tmp_path, depth=20, urls=facade.url,
                      options=BINANCE_LOCAL_OPTIONS)  # fmt: skip
    try:
        task = asyncio.create_task(record(rp, stop))
        await asyncio.sleep(2.0)
        assert await facade.drop_streams() > 0
        await asyncio.sleep(2.5)
        stop.set()
        recorders = await asyncio.wait_for(task, 20)
    finally:
        await facade.stop()
    for rec in recorders:
        [summary] = rec.files
        data = load_events(summary.path)
        counts = {k: int(np.count_nonzero(data.kind == k)) for k in (DEPTH, TRADE, RESYNC)}
        assert counts[RESYNC] == 1 and summary.notes["resyncs"] == 1, (rec.symbol, counts)
        assert counts[DEPTH] > 0 and counts[TRADE] > 0
        assert (data.meta.venue, data.meta.symbol) == ("binance", rec.symbol)
        assert data.meta.tick_size == {"BTC/USDT": Decimal("0.1"), "ETH/USDT": Decimal("0.01")}[rec.symbol]
        events, _ = await asyncio.to_thread(replay, data)  # a simulated clock needs a loop of its own
        assert sum(isinstance(e, BookSnapshot) for e in events) > 0
        assert sum(isinstance(e, PublicTrade) for e in events) == counts[TRADE]


def test_a_replay_queues_in_data_lots_and_fills_whole_trading_lots():
    meta = DataMeta("sim", "BTC/USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.000001"))
    t = T0
    rows = [  # (dt, kind, side, price, data lots)
        (0, DEPTH, BID, 100, 25_426_189),
        (0, DEPTH, ASK, 102, 7),  # 25.426189 ahead of us; a 7e-6 ask
        (5_000_000, TRADE, ASK, 100, 25_426_189),  # everything ahead of us trades
        (6_000_000, TRADE, ASK, 100, 13),  # 1.3 trading lots of ours: 1 lot filled
        (7_000_000, TRADE, ASK, 100, 7),  # 2.0 lots in all: our order is complete
        (8_000_000, DEPTH, BID, 100, 1),
    ]
    arr = np.array(rows, dtype=np.int64)
    data = make_event_data(meta, kind=arr[:, 1], side=arr[:, 2], exch_ts_ns=t + arr[:, 0],
                           local_ts_ns=t + arr[:, 0] + 1_000, price_ticks=arr[:, 3], size_lots=arr[:, 4])  # fmt: skip  # noqa: E501

    async def script(venue):
        await asyncio.sleep(0.002)
        return await venue.place_order(request("b1", side=Side.BUY, price_ticks=100, size_lots=2, venue="rp"))

    events, placed = replay(data, script)
    assert placed.size_lots == 2
    fills = [e.fill.size_lots for e in events if isinstance(e, FillEvent)]
    assert fills == [1, 1]
    first_book = next(e for e in events if isinstance(e, BookSnapshot))
    assert first_book.asks == ((102, 1),)  # 7e-6 shows as one lot, rounded up: the level is there
    assert first_book.bids[0] == (100, 2_542_619)
