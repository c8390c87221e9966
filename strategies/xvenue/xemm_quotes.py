"""XEMM's maker quotes, as a quoting strategy the engine drives (`XemmStrategy.run` attaches it).

Each maker market quotes one level per side at the taker venue's executable VWAP for the order
size, pushed out by the cost of the round trip: a maker bid at VWAP_bid(size)·(1 − cost), a maker
ask at VWAP_ask(size)·(1 + cost), cost = min_profitability + maker fee + taker fee. The side that
would push the maker market past its position limit is not quoted, and neither is a market whose
hedge is pending or failed, nor any market while the taker book is missing, stale or its venue
disconnected. The engine requotes, throttles and refreshes them like every quoting strategy's.

Each quoted price remembers the hedge price it was computed from (the taker VWAP of that moment):
the assumption a maker fill at that price is later measured against (`strategies.xvenue.edge`).
A market with a hedge pending computes no quotes, so its fill's assumption is still there when
the round trip closes.

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
from strategies.xvenue.edge import AssumedHedge, derived_hedge_price

ASSUMPTIONS_KEPT = 64  # remembered quoted prices per maker market and side (the live ones are recent)


@dataclass(slots=True)
class MakerMarket:
    slot: int
    market: Market
    pending_hedges: int = 0
    paused: bool = False
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
        # (maker slot, maker side) -> {quoted price ticks: the taker VWAP it was computed from}
        self._assumed: dict[tuple[int, Side], dict[int, float]] = {}

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

    def cost_fraction(self, m: MakerMarket) -> float:
        """What a round trip costs and must keep: min profitability + maker fee + taker fee."""
        bps = self.min_profitability_bps + float(m.market.maker_fee_bps) + float(self.taker.taker_fee_bps)
        return bps / 1e4

    def assumed_hedge(self, slot: int, maker_side: Side, price_ticks: int) -> AssumedHedge:
        """The hedge price the quote of `slot` at `price_ticks` was computed from (derived from the
        price and costs when it was not quoted by this run: a restart)."""
        remembered = self._assumed.get((slot, maker_side), {}).get(price_ticks)
        if remembered is not None:
            return AssumedHedge(Decimal(f"{remembered:.10g}"), "quote")  # VWAP: float noise off
        m = self.makers[slot]
        cost = Decimal(repr(self.cost_fraction(m)))
        return AssumedHedge(derived_hedge_price(maker_side, m.market.price(price_ticks), cost), "derived")

    def _remember(self, slot: int, maker_side: Side, price_ticks: int, hedge_price: float) -> None:
        prices = self._assumed.setdefault((slot, maker_side), {})
        prices.pop(price_ticks, None)  # re-inserted: the newest last
        prices[price_ticks] = hedge_price
        if len(prices) > ASSUMPTIONS_KEPT:
            del prices[next(iter(prices))]

    def maker_quote(self, m: MakerMarket) -> tuple[int | None, int | None]:
        """(bid, ask) price ticks of one maker market; None: that side is not quoted."""
        st = self.state
        size_lots = int(st.order_size_lots[m.slot])
        size_base = m.market.size(size_lots)
        cost = self.cost_fraction(m)
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
            else:
                self._remember(m.slot, Side.BUY, bid, hedge_sell)
        hedge_buy = self.taker_vwap(Side.BUY, size_base)
        if hedge_buy is not None and position - size_lots >= -limit:
            ask = math.ceil(hedge_buy * (1 + cost) / tick - 1e-9)
            ask = max(ask, int(st.best_bid_ticks[m.slot]) + 1)
            self._remember(m.slot, Side.SELL, ask, hedge_buy)
        return bid, ask
