"""Per-market engine state as numpy arrays, one slot per traded market (struct of arrays).

Every array is declared below with its one writer; everyone else only reads it. The engine is
the event path (`Engine._dispatch` calls `update_top` and the order manager's `apply_*`), so
every write happens on it or on the engine's own requote round.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from bot.core.domain import Market

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Per-slot arrays whose value does not come from the market itself: (dtype, value of a new slot).
# One table, so that construction and `add_market` (hot reload) can never disagree.
_SLOT_FIELDS: dict[str, tuple[type, object]] = {
    "best_bid_ticks": (np.int64, 0),
    "best_ask_ticks": (np.int64, 0),
    "best_bid_lots": (np.int64, 0),
    "best_ask_lots": (np.int64, 0),
    "mid_price": (np.float64, np.nan),
    "last_book_ns": (np.int64, 0),
    "position_lots": (np.int64, 0),
    "last_quote_ns": (np.int64, 0),
    "dirty": (np.bool_, True),
    "quoting_enabled": (np.bool_, True),
    "base_balance": (np.float64, np.nan),
    "quote_balance": (np.float64, np.nan),
}


class MarketState:
    # From the markets and the config; written at construction, `add_market` and, for the two
    # sizes, by hot reload (bot.app.reload) when a market's sizes change.
    tick_size: FloatArray
    lot_size: FloatArray
    order_size_lots: IntArray
    max_position_lots: IntArray
    # The top of each book: written by `update_top` only (the engine, on every book snapshot).
    best_bid_ticks: IntArray  # 0 = no bid
    best_ask_ticks: IntArray  # 0 = no ask
    best_bid_lots: IntArray  # size at the best levels (microprice)
    best_ask_lots: IntArray
    mid_price: FloatArray  # NaN: one-sided or crossed book
    last_book_ns: IntArray
    # Signed position relative to the market's target: the order manager (`apply_fill`); its
    # starting value is set once by the app from the balances (`init_position`).
    position_lots: IntArray
    # Total (free + locked) balances of the market's base and quote on its venue, in units: the
    # order manager (`apply_balances`).
    base_balance: FloatArray
    quote_balance: FloatArray
    # The engine's requote bookkeeping: `last_quote_ns` and `quoting_enabled` (venue connected)
    # are written by the engine; `dirty` (an input of the market's quotes changed) is set through
    # `mark_dirty` by whoever changed it and cleared by the engine when it requotes.
    last_quote_ns: IntArray
    quoting_enabled: BoolArray
    dirty: BoolArray

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

    def mark_dirty(self, slots: int | IntArray | slice) -> None:
        """Requote these markets on the engine's next round: an input of their quotes changed."""
        self.dirty[slots] = True

    def mid_decimal(self, slot: int) -> Decimal | None:
        """The mid on the tick grid, exact (half a tick when the spread is odd)."""
        bid, ask = int(self.best_bid_ticks[slot]), int(self.best_ask_ticks[slot])
        if bid <= 0 or ask <= 0 or bid >= ask:
            return None
        return Decimal(bid + ask) * self.markets[slot].tick_size / 2
