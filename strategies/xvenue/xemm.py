"""Cross-exchange market making (kind "xemm"): make on some venues, hedge on a taker venue.

Maker quotes sit at the taker venue's executable VWAP for our size, pushed out by a minimum
profitability plus both venues' fees: a maker bid at VWAP_bid(size)·(1 − cost), a maker ask at
VWAP_ask(size)·(1 + cost), cost = min_profitability + maker fee + taker fee. They follow the
taker book on every update (one requote worker per maker market, woken by events; updates that
arrive while a sync is in flight coalesce into the next one).

A maker fill is hedged from the fill handler itself: `on_event` writes a pending round trip
(unique on the maker fill, so a fill reported twice is hedged once) and starts the hedge task
at once. While a market has a hedge pending it quotes nothing. A hedge is an IOC on the taker
venue, retried within a slippage bound; if it cannot complete, the market is paused, an alert is
logged and stored (`events` kind "alert"), and the unhedged size stays on the books
(`unhedged_base`, and the round trip row). Rows still pending at start (a stop mid-hedge) are
hedged again. Every round trip's realised edge is stored (`xemm_round_trips`).

The maker markets form one self-trade group (`bot.kernel.self_trade`): each requotes on its own, so when
the taker book jumps, a maker's new quote that would cross our order still resting on another
maker venue waits until that order is gone. Hedges are immediate-or-cancel: never held back.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.domain import Fill, Market, Side
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, VenueEvent
from bot.kernel.market_state import MarketState
from bot.kernel.order_diff import LevelTarget, RefreshPolicy
from strategies.xvenue.book_vwap import sweep
from strategies.xvenue.hedging import HedgeExecutor, HedgeResult
from strategies.xvenue.store import XvenueLedger

if TYPE_CHECKING:
    from bot.kernel.context import BotContext

log = logging.getLogger("mmbot.xemm")


class XemmParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["xemm"]
    maker_markets: list[str] = Field(min_length=1, description='"venue:symbol" keys quoted as maker')
    taker_market: str = Field(description='"venue:symbol" where fills are hedged')
    min_profitability_bps: float = Field(5.0, ge=0, description="edge kept after both venues' fees")
    taker_stale_after_ms: float = Field(2_000.0, gt=0, description="no quotes on an older taker book")
    min_requote_interval_ms: float = Field(0.0, ge=0)
    refresh_tolerance_ticks: int = Field(0, ge=0)
    refresh_tolerance_bps: float = Field(0.5, ge=0)
    size_tolerance: float = Field(0.5, ge=0, le=1)
    max_order_age_s: float = Field(60.0, gt=0)
    hedge_max_slippage_bps: float = Field(10.0, ge=0, description="vs the taker VWAP at fill time")
    hedge_max_attempts: int = Field(3, ge=1, le=100)
    hedge_retry_delay_ms: float = Field(200.0, ge=0)

    @model_validator(mode="after")
    def _taker_not_maker(self) -> XemmParams:
        if self.taker_market in self.maker_markets:
            raise ValueError(f"taker_market: {self.taker_market!r} is also a maker market")
        return self

    @property
    def markets(self) -> list[str]:
        """Every market it trades (the config checks they exist)."""
        return [*self.maker_markets, self.taker_market]

    @property
    def quoted_markets(self) -> list[str]:
        """Markets whose resting orders it owns (no other quoting strategy may quote them)."""
        return list(self.maker_markets)


@dataclass(slots=True)
class MakerMarket:
    slot: int
    market: Market
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    pending_hedges: int = 0
    paused: bool = False
    residual_base: Decimal = Decimal(0)  # filled but below one taker lot: joins the next hedge
    unhedged_base: Decimal = Decimal(0)  # signed (+ = we are long): hedges that failed


def _slot(state: MarketState, key: str) -> int:
    venue, symbol = key.split(":", 1)
    slot = state.slot(venue, symbol)
    if slot is None:
        raise ValueError(f"{key} is not a traded market")
    return slot


class XemmStrategy:
    def __init__(self, name: str, params: XemmParams, state: MarketState) -> None:
        self.name = name
        self.params = params
        self.state = state
        self.taker_slot = _slot(state, params.taker_market)
        self.taker = state.markets[self.taker_slot]
        self.makers: dict[int, MakerMarket] = {}
        for key in params.maker_markets:
            slot = _slot(state, key)
            market = state.markets[slot]
            if (market.base, market.quote) != (self.taker.base, self.taker.quote):
                raise ValueError(
                    f"strategies.{name}.maker_markets: {key} trades {market.base}/{market.quote}, "
                    f"the taker market {self.taker.base}/{self.taker.quote}"
                )
            self.makers[slot] = MakerMarket(slot, market)
        self.taker_book: BookSnapshot | None = None
        self.ctx: BotContext | None = None
        self.ledger: XvenueLedger | None = None
        self.hedger: HedgeExecutor | None = None
        self._hedges: set[asyncio.Task[None]] = set()
        self._draining = False

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.ledger = XvenueLedger(ctx.store)
        self.hedger = HedgeExecutor(ctx.orders, self.ledger)
        self._resume_pending()
        # each maker market requotes on its own: when the taker book jumps, one maker's new bid could
        # go out while another's old ask is still resting, so the order manager keeps them apart
        ctx.orders.self_trade.register(self, [list(self.makers)], lambda slot: self.makers[slot].wake.set())
        workers = [
            asyncio.create_task(self._quote_loop(m), name=f"xemm-{m.slot}") for m in self.makers.values()
        ]
        for m in self.makers.values():
            m.wake.set()
        try:
            await asyncio.gather(*workers)
        finally:
            ctx.orders.self_trade.unregister(self)
            for task in workers:
                task.cancel()

    async def drain(self) -> None:
        """Before a hot-reload swap: pull every maker quote, then return once no maker order of
        ours is live and no hedge is in flight, so no fill can reach a strategy that is gone."""
        assert self.ctx is not None
        self._draining = True
        orders = self.ctx.orders
        while True:
            for m in self.makers.values():
                m.wake.set()
            live = any(orders.orders_of(slot) for slot in self.makers)
            if not live and not self._hedges:
                return
            if self._hedges:
                await asyncio.gather(*list(self._hedges), return_exceptions=True)
            else:
                await asyncio.sleep(0.05)

    def _resume_pending(self) -> None:
        assert self.ledger is not None
        for row in self.ledger.round_trips(self.name, status="pending"):
            m = next(
                (m for m in self.makers.values() if m.market.key == f"{row.maker_venue}:{row.maker_symbol}"),
                None,
            )
            if m is None:
                continue
            left = Decimal(row.size_base) - Decimal(row.hedged_base)
            log.warning(
                "xemm %s: resuming the hedge of %s %s from a previous run", self.name, left, m.market.base
            )
            self._start_hedge(
                m, Side(row.maker_side), left, float(row.expected_hedge_price), int(row.id or 0)
            )

    # ---- events ---------------------------------------------------------------------------------

    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, BookSnapshot):
            slot = self.state.slot(event.venue, event.symbol)
            if slot == self.taker_slot:
                self.taker_book = event
                for m in self.makers.values():
                    m.wake.set()
            elif slot in self.makers:
                self.makers[slot].wake.set()
        elif isinstance(event, FillEvent):
            fill = event.fill
            slot = self.state.slot(fill.venue, fill.symbol)
            if slot == self.taker_slot and self.hedger is not None:
                self.hedger.fill_arrived()
            elif slot in self.makers and self.ctx is not None:
                self._on_maker_fill(self.makers[slot], fill)
        elif isinstance(event, OrderUpdate):
            slot = self.state.slot(event.venue, event.symbol)
            if slot in self.makers:
                self.makers[slot].wake.set()

    def _on_maker_fill(self, m: MakerMarket, fill: Fill) -> None:
        assert self.ledger is not None and self.ctx is not None
        size_base = m.market.size(fill.size_lots)
        expected = self._taker_vwap(fill.side.opposite, size_base)
        expected_price = expected if expected is not None else float(m.market.price(fill.price_ticks))
        row_id = self.ledger.open_round_trip(
            strategy=self.name,
            maker_venue=fill.venue,
            maker_symbol=fill.symbol,
            maker_trade_id=fill.venue_trade_id,
            taker_market=self.taker.key,
            maker_side=fill.side.value,
            maker_price=str(m.market.price(fill.price_ticks)),
            size_base=str(size_base),
            maker_fee=str(fill.fee),
            expected_hedge_price=repr(expected_price),
            fill_ts_ns=self.ctx.clock.now_ns(),
        )
        if row_id is None:
            return  # this maker fill was reported before: already hedged or being hedged
        self._start_hedge(m, fill.side, size_base, expected_price, row_id)

    def _start_hedge(
        self, m: MakerMarket, maker_side: Side, size_base: Decimal, price: float, row_id: int
    ) -> None:
        m.pending_hedges += 1
        m.wake.set()  # pulls this market's quotes while the hedge is pending
        task = asyncio.create_task(
            self._hedge(m, maker_side, size_base, price, row_id), name=f"hedge-{row_id}"
        )
        self._hedges.add(task)
        task.add_done_callback(self._hedges.discard)

    # ---- hedging ----------------------------------------------------------------------------------

    async def _hedge(
        self, m: MakerMarket, maker_side: Side, size_base: Decimal, price: float, row_id: int
    ) -> None:
        assert self.hedger is not None and self.ledger is not None and self.ctx is not None
        p, taker = self.params, self.taker
        total = size_base + m.residual_base
        lots = taker.size_to_lots(total)
        m.residual_base = total - taker.size(lots)
        result = HedgeResult(lots, 0, Decimal(0), Decimal(0), 0)
        try:
            if lots > 0:
                result = await self.hedger.execute(
                    self.taker_slot,
                    maker_side.opposite,
                    lots,
                    price / float(taker.tick_size),
                    max_slippage_bps=p.hedge_max_slippage_bps,
                    max_attempts=p.hedge_max_attempts,
                    retry_delay_s=p.hedge_retry_delay_ms / 1000,
                )
        except asyncio.CancelledError:
            m.pending_hedges -= 1
            raise  # the row stays pending: the next start hedges it
        except Exception:
            log.exception("xemm %s: hedge %d crashed", self.name, row_id)
        self._close_round_trip(m, maker_side, size_base, result, row_id)
        m.pending_hedges -= 1
        m.wake.set()

    def _close_round_trip(
        self, m: MakerMarket, maker_side: Side, size_base: Decimal, result: HedgeResult, row_id: int
    ) -> None:
        assert self.ledger is not None and self.ctx is not None
        now = self.ctx.clock.now_ns()
        hedged = self.taker.size(result.filled_lots)
        row = self.ledger.round_trip(row_id)
        maker_price = Decimal(row.maker_price)
        edge = bps = None
        if hedged > 0:
            share = min(hedged / size_base, Decimal(1))
            sign = 1 if maker_side is Side.BUY else -1
            gross = sign * (result.notional - maker_price * hedged)
            edge = gross - Decimal(row.maker_fee) * share - result.fees
            bps = float(edge / (maker_price * hedged) * 10_000)
        status = "hedged" if result.complete else "failed"
        self.ledger.close_round_trip(
            row_id,
            hedged_base=str(hedged),
            hedge_notional=str(result.notional),
            hedge_fees=str(result.fees),
            attempts=result.attempts,
            status=status,
            realised_edge_quote=None if edge is None else str(edge),
            realised_edge_bps=bps,
            done_ts_ns=now,
        )
        if result.complete:
            return
        missing = self.taker.size(result.requested_lots - result.filled_lots)
        m.unhedged_base += missing if maker_side is Side.BUY else -missing
        m.paused = True
        log.error(
            "ALERT xemm %s: hedge of %s %s on %s incomplete after %d attempts (%s unhedged); %s paused",
            self.name, size_base, m.market.base, self.taker.key, result.attempts, missing, m.market.key,
        )  # fmt: skip
        self.ctx.store.record_event(
            "alert",
            now,
            strategy=self.name,
            reason="xemm_hedge_failed",
            maker_market=m.market.key,
            taker_market=self.taker.key,
            unhedged_base=str(m.unhedged_base),
            attempts=result.attempts,
            round_trip_id=row_id,
        )

    def paused_markets(self) -> dict[str, dict[str, str]]:
        """Maker markets paused by a failed hedge, with the size left unhedged (bot.market_pauses)."""
        return {
            m.market.key: {"unhedged_base": str(m.unhedged_base)} for m in self.makers.values() if m.paused
        }

    def resume(self, maker_key: str) -> bool:
        """Operator action after an unhedged position was dealt with; False if it was not paused."""
        for m in self.makers.values():
            if m.market.key == maker_key and m.paused:
                m.paused = False
                m.unhedged_base = Decimal(0)
                m.wake.set()
                return True
        return False

    # ---- quoting ----------------------------------------------------------------------------------

    def _taker_vwap(self, taker_side: Side, size_base: Decimal) -> float | None:
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

    def maker_targets(self, m: MakerMarket, now_ns: int) -> list[LevelTarget]:
        st, p = self.state, self.params
        if self.taker_book is None or not st.quoting_enabled[self.taker_slot]:
            return []
        if (now_ns - int(st.last_book_ns[self.taker_slot])) / 1e6 > p.taker_stale_after_ms:
            return []
        size_lots = int(st.order_size_lots[m.slot])
        size_base = m.market.size(size_lots)
        cost = (
            p.min_profitability_bps + float(m.market.maker_fee_bps) + float(self.taker.taker_fee_bps)
        ) / 1e4
        tick = float(m.market.tick_size)
        out: list[LevelTarget] = []
        # the side that would push the maker market past its position limit is not quoted
        position, limit = int(st.position_lots[m.slot]), int(st.max_position_lots[m.slot])
        hedge_sell = self._taker_vwap(Side.SELL, size_base)  # our maker bid is hedged by a taker sell
        if hedge_sell is not None and position + size_lots <= limit:
            bid = math.floor(hedge_sell * (1 - cost) / tick + 1e-9)
            best_ask = int(st.best_ask_ticks[m.slot])
            if best_ask > 0:
                bid = min(bid, best_ask - 1)
            if bid > 0:
                out.append(LevelTarget(Side.BUY, bid, size_lots))
        hedge_buy = self._taker_vwap(Side.BUY, size_base)
        if hedge_buy is not None and position - size_lots >= -limit:
            ask = math.ceil(hedge_buy * (1 + cost) / tick - 1e-9)
            ask = max(ask, int(st.best_bid_ticks[m.slot]) + 1)
            out.append(LevelTarget(Side.SELL, ask, size_lots))
        return out

    def _policy(self, m: MakerMarket) -> RefreshPolicy:
        p = self.params
        mid = self.state.mid_price[m.slot]
        tolerance = p.refresh_tolerance_ticks
        if p.refresh_tolerance_bps > 0 and mid == mid:
            tolerance = max(tolerance, int(p.refresh_tolerance_bps * mid / 1e4 / float(m.market.tick_size)))
        return RefreshPolicy(tolerance, p.size_tolerance, int(p.max_order_age_s * 1e9))

    def quoting_allowed(self, m: MakerMarket) -> bool:
        assert self.ctx is not None
        return not (m.paused or m.pending_hedges > 0 or self.ctx.engine.paused or self._draining) and bool(
            self.state.quoting_enabled[m.slot]
        )

    async def _quote_loop(self, m: MakerMarket) -> None:
        assert self.ctx is not None
        interval_s = self.params.min_requote_interval_ms / 1000
        while True:
            await m.wake.wait()
            m.wake.clear()
            now = self.ctx.clock.now_ns()
            wanted = self.maker_targets(m, now) if self.quoting_allowed(m) else []
            try:
                await self.ctx.orders.sync_market(m.slot, wanted, self._policy(m))
            except Exception:
                log.exception("xemm %s: sync of %s failed", self.name, m.market.key)
            if interval_s > 0:
                await asyncio.sleep(interval_s)
