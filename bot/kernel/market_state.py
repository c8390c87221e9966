"""Per-market engine state as numpy arrays, one slot per traded market (struct of arrays)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from bot.core.domain import Market

# Per-slot arrays whose value does not come from the market itself: (dtype, value of a new slot).
# One table, so that construction and `add_market` (hot reload) can never disagree.
_SLOT_FIELDS: dict[str, tuple[type, object]] = {
    "best_bid_ticks": (np.int64, 0),  # 0 = no bid
    "best_ask_ticks": (np.int64, 0),  # 0 = no ask
    "best_bid_lots": (np.int64, 0),  # size at the best levels (microprice)
    "best_ask_lots": (np.int64, 0),
    "mid_price": (np.float64, np.nan),
    "last_book_ns": (np.int64, 0),
    "position_lots": (np.int64, 0),  # signed, relative to the market's target
    "last_quote_ns": (np.int64, 0),
    "dirty": (np.bool_, True),
    "quoting_enabled": (np.bool_, True),
    # Total (free + locked) balances of each market's base and quote on its venue, in units.
    "base_balance": (np.float64, np.nan),
    "quote_balance": (np.float64, np.nan),
}


class MarketState:
    def __init__(
        self, markets: Sequence[Market], order_size_lots: Sequence[int], max_position_lots: Sequence[int]
    ):
        n = len(markets)
        self.markets = list(markets)
        self.slot_of: dict[tuple[str, str], int] = {(m.venue, m.symbol): i for i, m in enumerate(markets)}
        self.tick_size = np.array([float(m.tick_size) for m in markets], dtype=np.float64)
        self.lot_size = np.array([float(m.lot_size) for m in markets], dtype=np.float64)
        self.order_size_lots = np.array(order_size_lots, dtype=np.int64)
        self.max_position_lots = np.array(max_position_lots, dtype=np.int64)
        for name, (dtype, value) in _SLOT_FIELDS.items():
            setattr(self, name, np.full(n, value, dtype=dtype))
        self.dirty[:] = False  # nothing to requote before the first book arrives

    def add_market(self, market: Market, order_size_lots: int, max_position_lots: int) -> int:
        """Append a slot (hot reload); every array grows by one, existing slots keep their index."""
        slot = len(self.markets)
        self.markets.append(market)
        self.slot_of[(market.venue, market.symbol)] = slot
        appended: dict[str, tuple[type, object]] = {
            "tick_size": (np.float64, float(market.tick_size)),
            "lot_size": (np.float64, float(market.lot_size)),
            "order_size_lots": (np.int64, order_size_lots),
            "max_position_lots": (np.int64, max_position_lots),
            **_SLOT_FIELDS,
        }
        for name, (dtype, value) in appended.items():
            setattr(self, name, np.append(getattr(self, name), np.array([value], dtype=dtype)))
        return slot

    def __len__(self) -> int:
        return len(self.markets)

    def slot(self, venue: str, symbol: str) -> int | None:
        return self.slot_of.get((venue, symbol))

    def update_top(
        self, slot: int, bid_ticks: int, ask_ticks: int, ts_ns: int, bid_lots: int = 0, ask_lots: int = 0
    ) -> None:
        self.best_bid_ticks[slot] = bid_ticks
        self.best_ask_ticks[slot] = ask_ticks
        self.best_bid_lots[slot] = bid_lots
        self.best_ask_lots[slot] = ask_lots
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
