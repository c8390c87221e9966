"""XEMM's maker quotes, as a quoting strategy the engine drives (`XemmStrategy.run` attaches it).

Each maker market quotes one level per side at the taker venue's executable VWAP for the order
size, pushed out by the cost of the round trip: a maker bid at VWAP_bid(size)·(1 − cost), a maker
ask at VWAP_ask(size)·(1 + cost), cost = min_profitability + maker fee + taker fee. The side that
would push the maker market past its position limit is not quoted, and neither is a market whose
hedge is pending or failed, nor any market while the taker book is missing, stale or its venue
disconnected. The engine requotes, throttles and refreshes them like every quoting strategy's.

The maker markets form one self-trade group (`stp_groups`, `bot.kernel.self_trade`): each
requotes on its own, so when the taker book jumps, a maker's new quote that would cross our order
still resting on another maker venue waits until that order is gone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from bot.core.domain import Market, Side
from bot.core.events import BookSnapshot
from bot.kernel.market_state import MarketState
from bot.kernel.targets import QuoteTargets
from strategies.xvenue.book_vwap import sweep


@dataclass(slots=True)
class MakerMarket:
    slot: int
    market: Market
    pending_hedges: int = 0
    paused: bool = False
    residual_base: Decimal = Decimal(0)  # filled but below one taker lot: joins the next hedge
    unhedged_base: Decimal = Decimal(0)  # signed (+ = we are long): hedges that failed

    @property
    def quotable(self) -> bool:
        """Not while a hedge of it is pending (its fills would pile up unhedged) or failed."""
        return not self.paused and self.pending_hedges == 0


class XemmQuotes:
    """The engine's view of XEMM: one row per maker market, in `makers` order."""

    def __init__(
        self,
        name: str,
        state: MarketState,
        makers: dict[int, MakerMarket],
        taker_slot: int,
        min_profitability_bps: float,
        taker_stale_after_ms: float,
    ) -> None:
        self.name = name
        self.state = state
        self.makers = makers
        self.taker_slot = taker_slot
        self.taker = state.markets[taker_slot]
        self.min_profitability_bps = min_profitability_bps
        self.taker_stale_after_ms = taker_stale_after_ms
        self.slots = np.array(list(makers), dtype=np.int64)
        self.stp_groups = [list(makers)]
        self.taker_book: BookSnapshot | None = None  # the last one (XemmStrategy.on_event)
        self.draining = False  # a hot reload stops it: pull every quote

    def taker_vwap(self, taker_side: Side, size_base: Decimal) -> float | None:
        """Price per base unit of taking `size_base` on the taker book now (None: not enough depth)."""
        book = self.taker_book
        lots = self.taker.size_to_lots(size_base)
        if book is None or lots <= 0:
            return None
        levels = book.asks if taker_side is Side.BUY else book.bids
        swept = sweep(levels, lots)
        if swept.filled_lots < lots:
            return None
        return swept.vwap_ticks * float(self.taker.tick_size)

    def taker_usable(self, now_ns: int) -> bool:
        st = self.state
        if self.taker_book is None or not st.quoting_enabled[self.taker_slot]:
            return False
        return (now_ns - int(st.last_book_ns[self.taker_slot])) / 1e6 <= self.taker_stale_after_ms

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        out = QuoteTargets.empty(len(self.makers), 1)
        if self.draining or not self.taker_usable(now_ns):
            return out
        for row, m in enumerate(self.makers.values()):
            if not m.quotable:
                continue
            bid, ask = self.maker_quote(m)
            size_lots = int(state.order_size_lots[m.slot])
            if bid is not None:
                out.bid_price_ticks[row, 0], out.bid_size_lots[row, 0] = bid, size_lots
            if ask is not None:
                out.ask_price_ticks[row, 0], out.ask_size_lots[row, 0] = ask, size_lots
        return out

    def maker_quote(self, m: MakerMarket) -> tuple[int | None, int | None]:
        """(bid, ask) price ticks of one maker market; None: that side is not quoted."""
        st = self.state
        size_lots = int(st.order_size_lots[m.slot])
        size_base = m.market.size(size_lots)
        cost = (
            self.min_profitability_bps + float(m.market.maker_fee_bps) + float(self.taker.taker_fee_bps)
        ) / 1e4
        tick = float(m.market.tick_size)
        position, limit = int(st.position_lots[m.slot]), int(st.max_position_lots[m.slot])
        bid = ask = None
        hedge_sell = self.taker_vwap(Side.SELL, size_base)  # our maker bid is hedged by a taker sell
        if hedge_sell is not None and position + size_lots <= limit:
            bid = math.floor(hedge_sell * (1 - cost) / tick + 1e-9)
            best_ask = int(st.best_ask_ticks[m.slot])
            if best_ask > 0:
                bid = min(bid, best_ask - 1)
            if bid <= 0:
                bid = None
        hedge_buy = self.taker_vwap(Side.BUY, size_base)
        if hedge_buy is not None and position - size_lots >= -limit:
            ask = math.ceil(hedge_buy * (1 + cost) / tick - 1e-9)
            ask = max(ask, int(st.best_bid_ticks[m.slot]) + 1)
        return bid, ask
