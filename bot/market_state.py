"""Per-market engine state as numpy arrays, one slot per traded market (struct of arrays)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from bot.domain import Market


class MarketState:
    def __init__(
        self, markets: Sequence[Market], order_size_lots: Sequence[int], max_position_lots: Sequence[int]
    ):
        n = len(markets)
        self.markets = list(markets)
        self.slot_of: dict[tuple[str, str], int] = {(m.venue, m.symbol): i for i, m in enumerate(markets)}
        self.tick_size = np.array([float(m.tick_size) for m in markets], dtype=np.float64)
        self.lot_size = np.array([float(m.lot_size) for m in markets], dtype=np.float64)
        self.best_bid_ticks = np.zeros(n, dtype=np.int64)  # 0 = no bid
        self.best_ask_ticks = np.zeros(n, dtype=np.int64)  # 0 = no ask
        self.mid_price = np.full(n, np.nan)
        self.last_book_ns = np.zeros(n, dtype=np.int64)
        self.position_lots = np.zeros(n, dtype=np.int64)  # signed, relative to the market's target
        self.order_size_lots = np.array(order_size_lots, dtype=np.int64)
        self.max_position_lots = np.array(max_position_lots, dtype=np.int64)
        self.last_quote_ns = np.zeros(n, dtype=np.int64)
        self.dirty = np.zeros(n, dtype=bool)
        self.quoting_enabled = np.ones(n, dtype=bool)

    def __len__(self) -> int:
        return len(self.markets)

    def slot(self, venue: str, symbol: str) -> int | None:
        return self.slot_of.get((venue, symbol))

    def update_top(self, slot: int, bid_ticks: int, ask_ticks: int, ts_ns: int) -> None:
        self.best_bid_ticks[slot] = bid_ticks
        self.best_ask_ticks[slot] = ask_ticks
        if bid_ticks > 0 and ask_ticks > 0 and bid_ticks < ask_ticks:
            self.mid_price[slot] = (bid_ticks + ask_ticks) * 0.5 * self.tick_size[slot]
        else:
            self.mid_price[slot] = np.nan  # one-sided or crossed: no fair price from this book
        self.last_book_ns[slot] = ts_ns
        self.dirty[slot] = True

    def mid_decimal(self, slot: int) -> Decimal | None:
        """The mid on the tick grid, exact (half a tick when the spread is odd)."""
        bid, ask = int(self.best_bid_ticks[slot]), int(self.best_ask_ticks[slot])
        if bid <= 0 or ask <= 0 or bid >= ask:
            return None
        return Decimal(bid + ask) * self.markets[slot].tick_size / 2

    def inventory_fraction(self) -> np.ndarray:
        return self.position_lots / np.maximum(self.max_position_lots, 1)
