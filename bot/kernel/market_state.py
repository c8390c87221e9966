"""Per-market engine state as numpy arrays, one slot per traded market (struct of arrays).

Every array is declared below with its one writer; everyone else only reads it. The engine is
the event path (`Engine._dispatch` calls `update_top` and the order manager's `apply_*`), so
every write happens on it or on the engine's own requote round.

Fair value without ourselves: besides the venue's top of book, `update_top` keeps the top of the
OTHER participants (the book minus our own resting orders, `others_level`) and two fair prices
from it, the others' mid and their microprice. While we quote inside the spread the venue's mid
is our own quote centre; a fair price (and a volatility) read from it follows us, not the market.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from bot.core.domain import Market, Order, Side

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Where a strategy's fair price comes from: the venue's mid (our own quotes included, the old
# behaviour), the other participants' mid, or their microprice.
FairSource = Literal["mid_ex_own", "microprice", "mid"]

# Per-slot arrays whose value does not come from the market itself: (dtype, value of a new slot).
# One table, so that construction and `add_market` (hot reload) can never disagree.
_SLOT_FIELDS: dict[str, tuple[type, object]] = {
    "best_bid_ticks": (np.int64, 0),
    "best_ask_ticks": (np.int64, 0),
    "best_bid_lots": (np.int64, 0),
    "best_ask_lots": (np.int64, 0),
    "mid_price": (np.float64, np.nan),
    "others_bid_ticks": (np.int64, 0),
    "others_ask_ticks": (np.int64, 0),
    "others_bid_lots": (np.int64, 0),
    "others_ask_lots": (np.int64, 0),
    "mid_ex_own": (np.float64, np.nan),
    "microprice_ex_own": (np.float64, np.nan),
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
    # The others' top (the book minus our resting orders) and the fair prices made of it: written
    # by `update_top` only, from what the engine worked out with `others_level`. 0 = no level of
    # theirs in the levels the venue sent; the prices are NaN when their book is one-sided/crossed.
    others_bid_ticks: IntArray
    others_ask_ticks: IntArray
    others_bid_lots: IntArray
    others_ask_lots: IntArray
    mid_ex_own: FloatArray  # the others' mid: the default fair price of the quoting strategies
    microprice_ex_own: FloatArray  # (bid·ask_lots + ask·bid_lots) / (bid_lots + ask_lots), theirs
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
        self,
        slot: int,
        bid_ticks: int,
        ask_ticks: int,
        ts_ns: int,
        bid_lots: int = 0,
        ask_lots: int = 0,
        *,
        others_bid: tuple[int, int] | None = None,
        others_ask: tuple[int, int] | None = None,
    ) -> None:
        """A new top of book; `others_bid`/`others_ask`: (price_ticks, size_lots) of the other
        participants' best levels (`others_level`), None = the venue's top (no order of ours)."""
        # Python scalars throughout: this runs on every book event, numpy scalar maths is slower
        tick = float(self.tick_size[slot])
        self.best_bid_ticks[slot] = bid_ticks
        self.best_ask_ticks[slot] = ask_ticks
        self.best_bid_lots[slot] = bid_lots
        self.best_ask_lots[slot] = ask_lots
        mid = (bid_ticks + ask_ticks) * 0.5 * tick if 0 < bid_ticks < ask_ticks else math.nan
        self.mid_price[slot] = mid  # NaN: one-sided or crossed, no fair price from this book
        ob, ob_lots = (bid_ticks, bid_lots) if others_bid is None else others_bid
        oa, oa_lots = (ask_ticks, ask_lots) if others_ask is None else others_ask
        self.others_bid_ticks[slot] = ob
        self.others_ask_ticks[slot] = oa
        self.others_bid_lots[slot] = ob_lots
        self.others_ask_lots[slot] = oa_lots
        if others_bid is not None or others_ask is not None:
            mid = (ob + oa) * 0.5 * tick if 0 < ob < oa else math.nan
        depth = ob_lots + oa_lots
        self.mid_ex_own[slot] = mid
        # sizes unknown (a feed without them): the microprice is the mid
        self.microprice_ex_own[slot] = (
            (ob * oa_lots + oa * ob_lots) * tick / depth if depth > 0 and mid == mid else mid
        )
        self.last_book_ns[slot] = ts_ns
        self.dirty[slot] = True

    def fair_prices(self, source: FairSource) -> FloatArray:
        """The per-slot fair price array of a source (read at call time: hot reload reallocates)."""
        if source == "mid":
            return self.mid_price
        return self.microprice_ex_own if source == "microprice" else self.mid_ex_own

    def mark_dirty(self, slots: int | IntArray | slice) -> None:
        """Requote these markets on the engine's next round: an input of their quotes changed."""
        self.dirty[slots] = True

    def mid_decimal(self, slot: int) -> Decimal | None:
        """The mid on the tick grid, exact (half a tick when the spread is odd)."""
        bid, ask = int(self.best_bid_ticks[slot]), int(self.best_ask_ticks[slot])
        if bid <= 0 or ask <= 0 or bid >= ask:
            return None
        return Decimal(bid + ask) * self.markets[slot].tick_size / 2


def others_level(levels: Sequence[tuple[int, int]], orders: Sequence[Order], side: Side) -> tuple[int, int]:
    """The other participants' best level on one side: (price_ticks, size_lots), (0, 0) if none.

    `levels`: the venue's levels of that side, best first (ours included); `orders`: our live
    orders of the market. Our remaining size is subtracted at each of our prices; a level left
    with nothing is ours alone and skipped. Immediate-or-cancel orders never rest and are left
    out. Our orders not yet acknowledged count as resting (the book may show them before the
    ack arrives); a book older than our last change can leave a level short of our size, which
    costs the others that much of their size there, never a level of ours counted as theirs.
    """
    for price, lots in levels:
        ours = 0
        for order in orders:
            request = order.request
            if request.price_ticks == price and request.side is side and not request.immediate_or_cancel:
                ours += order.remaining_lots
        if lots > ours:
            return price, lots - ours
    return 0, 0
