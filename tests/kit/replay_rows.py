"""Hand-built L2 event files for the replay venue and the fast backtest (connectors/replay/events.py).

A row is (exchange time offset from `t0`, kind, side, price_ticks, size_lots); `book` turns rows
into `EventData` received one feed latency after the exchange made them.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from connectors.replay.events import ASK, BID, DEPTH, SNAPSHOT, TRADE, DataMeta, EventData, make_event_data

META = DataMeta("sim", "BTC/USDT", Decimal("0.01"), Decimal("0.001"))
T0 = 1_000_000_000_000

Row = tuple[int, int, int, int, int]


def book(rows: list[Row], feed_latency_ns: int = 1_000, *, meta: DataMeta = META, t0: int = T0) -> EventData:
    """`rows` as an event file of `meta`'s market; local time = exchange time + `feed_latency_ns`."""
    arr = np.array(rows, dtype=np.int64).reshape(-1, 5)
    exch = t0 + arr[:, 0]
    return make_event_data(
        meta,
        kind=arr[:, 1],
        side=arr[:, 2],
        exch_ts_ns=exch,
        local_ts_ns=exch + feed_latency_ns,
        price_ticks=arr[:, 3],
        size_lots=arr[:, 4],
    )


def depth(t: int, side: int, price: int, lots: int) -> Row:
    """The level at `price` holds `lots` from t on (0 deletes it)."""
    return (t, DEPTH, side, price, lots)


def trade(t: int, aggressor: int, price: int, lots: int) -> Row:
    return (t, TRADE, aggressor, price, lots)


def snapshot(t: int, best_price: int) -> Row:
    """The venue published its book at t (its best price: the row's price)."""
    return (t, SNAPSHOT, BID, best_price, 0)


__all__ = ["ASK", "BID", "META", "T0", "book", "depth", "snapshot", "trade"]
