"""Cross-exchange market making (kind "xemm"): make on some venues, hedge on a taker venue.

Maker quotes sit at the taker venue's executable VWAP for our size, pushed out by a minimum
profitability plus both venues' fees (`strategies.xvenue.xemm_quotes`). They are a quoting
strategy the engine drives while this one runs: requoted when the taker book, a maker book or
our orders change, throttled by `min_requote_interval_ms` and refreshed by the order diff like
every quoting strategy's quotes (`refresh_tolerance_*`, `size_tolerance`, `max_order_age_s`).

A maker fill is hedged from the fill handler itself: `on_event` writes a pending round trip
(unique on the maker fill, so a fill reported twice is hedged once) and starts the hedge task
at once. While a market has a hedge pending it quotes nothing. A hedge is an IOC on the taker
venue, retried within a slippage bound; if it cannot complete, the market is paused, an alert is
logged and stored (`events` kind "alert"), and the unhedged size stays on the books
(`unhedged_base`, and the round trip row). Rows still pending at start (a stop mid-hedge) are
hedged again. Every round trip's realised edge is stored (`xemm_round_trips`).

The maker markets form one self-trade group (`bot.kernel.self_trade`); hedges are
immediate-or-cancel: never held back.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.domain import Fill, MarketKey, Side
from bot.core.events import BookSnapshot, FillEvent, VenueEvent
from bot.kernel.controls import QuotingControls
from bot.kernel.market_pauses import PauseAnnouncer
from bot.kernel.market_state import MarketState
from strategies.xvenue.edge import EdgeAlertParams, EdgeMonitor, HedgedRoundTrip
from strategies.xvenue.hedging import HedgeExecutor, HedgeResult
from strategies.xvenue.store import XvenueLedger
from strategies.xvenue.xemm_quotes import MakerMarket, XemmQuotes

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
    edge_alert: EdgeAlertParams = EdgeAlertParams()  # realised edge vs the quotes' assumed hedge

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

    def controls(self) -> QuotingControls:
        """How the engine moves the maker quotes (the refresh policy of every quoting strategy)."""
        return QuotingControls(
            markets=self.maker_markets,
            min_requote_interval_ms=self.min_requote_interval_ms,
            refresh_tolerance_ticks=self.refresh_tolerance_ticks,
            refresh_tolerance_bps=self.refresh_tolerance_bps,
            size_tolerance=self.size_tolerance,
            max_order_age_s=self.max_order_age_s,
        )


def _slot(state: MarketState, key: str) -> int:
    venue, symbol = MarketKey.parse(key)
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
        self.quotes = XemmQuotes(
            name,
            state,
            self.makers,
            self.taker_slot,
            params.min_profitability_bps,
            params.taker_stale_after_ms,
        )
        self.ctx: BotContext | None = None
        self.ledger: XvenueLedger | None = None
        self.hedger: HedgeExecutor | None = None
        self._hedges: set[asyncio.Task[None]] = set()
        self.pause_announcer = PauseAnnouncer()
        self.edges = EdgeMonitor(name, params.edge_alert)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.ledger = XvenueLedger(ctx.store)
        self.hedger = HedgeExecutor(ctx.orders, self.ledger)
        self._resume_pending()
        ctx.engine.attach(self.quotes, self.params.controls())
        try:
            await asyncio.Event().wait()  # hedges start from fills (on_event) until cancelled
        finally:
            ctx.engine.detach(self.quotes)

    async def drain(self) -> None:
        """Before a hot-reload swap: pull every maker quote, then return once no maker order of
        ours is live and no hedge is in flight, so no fill can reach a strategy that is gone."""
        assert self.ctx is not None
        self.quotes.draining = True
        orders = self.ctx.orders
        while True:
            self._requote(*self.makers)
            live = any(orders.orders_of(slot) for slot in self.makers)
            if not live and not self._hedges:
                return
            if self._hedges:
                await asyncio.gather(*list(self._hedges), return_exceptions=True)
            else:
                await asyncio.sleep(0.05)

    def _requote(self, *slots: int) -> None:
        """Ask the engine for a requote of these maker markets (their quotes' inputs changed)."""
        if self.ctx is not None:
            for slot in slots:
                self.ctx.engine.requote_slot(slot)

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
            if self.state.slot(event.venue, event.symbol) == self.taker_slot:
                self.quotes.taker_book = event
                self._requote(*self.makers)  # the engine requotes a maker on its own book
        elif isinstance(event, FillEvent):
            fill = event.fill
            slot = self.state.slot(fill.venue, fill.symbol)
            if slot == self.taker_slot and self.hedger is not None:
                self.hedger.fill_arrived()
            elif slot in self.makers and self.ctx is not None:
                self._on_maker_fill(self.makers[slot], fill)

    def _on_maker_fill(self, m: MakerMarket, fill: Fill) -> None:
        assert self.ledger is not None and self.ctx is not None
        size_base = m.market.size(fill.size_lots)
        expected = self.quotes.taker_vwap(fill.side.opposite, size_base)
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
        self._requote(m.slot)  # pulls this market's quotes while the hedge is pending
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
                    reduces_exposure=True,  # closes the maker fill: no gross or shared limit refuses it
                )
        except asyncio.CancelledError:
            m.pending_hedges -= 1
            raise  # the row stays pending: the next start hedges it
        except Exception:
            log.exception("xemm %s: hedge %d crashed", self.name, row_id)
        self._close_round_trip(m, maker_side, size_base, result, row_id)
        m.pending_hedges -= 1
        self._requote(m.slot)

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
        if edge is not None:  # against the hedge price the filled quote assumed (xvenue.edge)
            trip = HedgedRoundTrip(row_id, m.market.key, maker_side, maker_price, hedged, result.notional,
                                   edge, row.expected_hedge_price, now)  # fmt: skip
            ticks = m.market.price_to_ticks(maker_price)
            self.edges.record(self.ctx.store, trip, self.quotes.assumed_hedge(m.slot, maker_side, ticks))
        if result.complete:
            return
        missing = self.taker.size(result.requested_lots - result.filled_lots)
        m.unhedged_base += missing if maker_side is Side.BUY else -missing
        m.paused = True
        self.pause_announcer.announce()  # stored before anything else (bot.kernel.market_pauses)
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

    def hold(self, maker_key: str, detail: dict[str, str]) -> bool:
        """A pause stored before a restart (bot.kernel.market_pauses.HeldMarketPauses)."""
        for m in self.makers.values():
            if m.market.key == maker_key:
                m.paused = True
                m.unhedged_base = Decimal(detail.get("unhedged_base", "0"))
                return True
        return False

    def resume(self, maker_key: str) -> bool:
        """Operator action after an unhedged position was dealt with; False if it was not paused."""
        for m in self.makers.values():
            if m.market.key == maker_key and m.paused:
                m.paused = False
                m.unhedged_base = Decimal(0)
                self._requote(m.slot)
                return True
        return False
