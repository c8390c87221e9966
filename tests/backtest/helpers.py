"""Hand-built L2 streams for replay tests."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from connectors.replay.events import ASK, BID, DEPTH, SNAPSHOT, TRADE, DataMeta, EventData, make_event_data

META = DataMeta("sim", "BTC/USDT", Decimal("0.01"), Decimal("0.001"))
T0 = 1_000_000_000_000


def book(rows: list[tuple[int, int, int, int, int]], feed_latency_ns: int = 1_000) -> EventData:
    """rows of (exch_ts offset from T0, kind, side, price_ticks, size_lots); local = exch + latency."""
    arr = np.array(rows, dtype=np.int64).reshape(-1, 5)
    exch = T0 + arr[:, 0]
    return make_event_data(
        META,
        kind=arr[:, 1],
        side=arr[:, 2],
        exch_ts_ns=exch,
        local_ts_ns=exch + feed_latency_ns,
        price_ticks=arr[:, 3],
        size_lots=arr[:, 4],
    )


def depth(t: int, side: int, price: int, lots: int) -> tuple[int, int, int, int, int]:
    return (t, DEPTH, side, price, lots)


def trade(t: int, aggressor: int, price: int, lots: int) -> tuple[int, int, int, int, int]:
    return (t, TRADE, aggressor, price, lots)


def snapshot(t: int, best_price: int) -> tuple[int, int, int, int, int]:
    """The venue published its book at t (its best price: the row's price)."""
    return (t, SNAPSHOT, BID, best_price, 0)


class FixedOrders:
    """Wants the same orders at every wake-up; remembers what it saw."""

    def __init__(self, orders: list[tuple[int, int, int]]) -> None:
        self.orders = orders
        self.seen: list[tuple[int, int, int, int]] = []

    def quotes(self, now_ns: int, best_bid: int, best_ask: int, position: int, out: np.ndarray) -> int:
        self.seen.append((now_ns, best_bid, best_ask, position))
        for k, row in enumerate(self.orders):
            out[k] = row
        return len(self.orders)


__all__ = ["ASK", "BID", "META", "T0", "FixedOrders", "book", "depth", "snapshot", "trade"]
