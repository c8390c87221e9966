"""Cross-exchange market making (kind "xemm"): make on some venues, hedge on a taker venue.

Maker quotes sit at the taker venue's executable VWAP for our size, pushed out by a minimum
profitability plus both venues' fees (`strategies.xvenue.xemm_quotes`). They are a quoting
strategy the engine drives while this one runs: requoted when the taker book, a maker book or
our orders change, throttled by `min_requote_interval_ms` and refreshed by the order diff like
every quoting strategy's quotes (`refresh_tolerance_*`, `size_tolerance`, `max_order_age_s`).

Every maker fill becomes a hedge obligation in the store before anything else (one
`xemm_round_trips` row, unique on the maker fill), whichever path stored the fill: `on_event`
for the stream, the hedging loop's scan of the fills table for a REST catch-up or the start-up
reconciliation. One loop per strategy (`strategies.xvenue.hedge_worker`) hedges the signed net of
the open obligations on the taker venue with IOC orders, retried with widening limits, and
escalates (alert with size and age, maker markets paused) without ever writing a size off. While
it has a hedge to do the maker markets quote nothing. Obligations and hedge orders left by a
crash, a restart or a reload are taken up at start. Every round trip's realised edge is stored.

The maker markets form one self-trade group (`bot.kernel.self_trade`); hedges are
immediate-or-cancel: never held back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.domain import MarketKey, Order, Side
from bot.core.events import BookSnapshot, FillEvent, VenueEvent
from bot.kernel.controls import QuotingControls
from bot.kernel.market_pauses import PauseAnnouncer
from bot.kernel.market_state import MarketState
from strategies.xvenue.edge import EdgeAlertParams, EdgeMonitor, HedgedRoundTrip
from strategies.xvenue.hedge_worker import HedgeSchedule, HedgeWorker
from strategies.xvenue.obligations import Obligation
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
    hedge_max_slippage_bps: float = Field(10.0, ge=0, description="1st attempt, vs the taker VWAP")
    hedge_slippage_step_bps: float = Field(5.0, ge=0, description="the limit widens by this per retry")
    hedge_slippage_bound_bps: float = Field(
        50.0, ge=0, description="the widest a retry's limit goes (at least the first's)"
    )
    hedge_max_attempts: int = Field(3, ge=1, le=100, description="attempts before escalating")
    hedge_retry_delay_ms: float = Field(200.0, ge=0, description="first retry delay; doubles per retry")
    hedge_max_retry_delay_ms: float = Field(5_000.0, ge=0)
    hedge_escalate_after_s: float = Field(10.0, gt=0, description="a lot naked this long escalates")
    hedge_fill_wait_ms: float = Field(
        500.0, ge=0, description="a fill reported but not streamed is fetched by REST then"
    )
    edge_alert: EdgeAlertParams = EdgeAlertParams()  # realised edge vs the quotes' assumed hedge

    @model_validator(mode="after")
    def _taker_not_maker(self) -> XemmParams:
        if self.taker_market in self.maker_markets:
            raise ValueError(f"taker_market: {self.taker_market!r} is also a maker market")
        return self

    def schedule(self) -> HedgeSchedule:
        return HedgeSchedule(
            first_slippage_bps=self.hedge_max_slippage_bps,
            step_bps=self.hedge_slippage_step_bps,
            bound_bps=max(self.hedge_slippage_bound_bps, self.hedge_max_slippage_bps),
            max_attempts=self.hedge_max_attempts,
            retry_delay_s=self.hedge_retry_delay_ms / 1000,
            max_retry_delay_s=max(self.hedge_max_retry_delay_ms, self.hedge_retry_delay_ms) / 1000,
            escalate_after_s=self.hedge_escalate_after_s,
            fill_wait_s=self.hedge_fill_wait_ms / 1000,
        )

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
        self.hedger: HedgeWorker | None = None
        self._draining = False
        self.pause_announcer = PauseAnnouncer()
        self.edges = EdgeMonitor(name, params.edge_alert)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self, ctx: BotContext) -> None:
        self.ctx = ctx
        makers = {(m.market.venue, m.market.symbol): m.market for m in self.makers.values()}
        self.hedger = HedgeWorker(
            self.name, ctx, makers, self.taker_slot, self.params.schedule(),
            self.quotes.taker_vwap, self._pause_obliged, self._sync_quoting, self._record_edge,
        )  # fmt: skip
        ctx.orders.fill_ahead_listeners.append(self._fill_ahead)
        ctx.engine.attach(self.quotes, self.params.controls())
        try:
            await self.hedger.run()
        finally:
            ctx.engine.detach(self.quotes)
            with contextlib.suppress(ValueError):
                ctx.orders.fill_ahead_listeners.remove(self._fill_ahead)

    def _sync_quoting(self) -> None:
        """A maker market with open obligations quotes nothing while a hedge is to be done (until
        an escalation pauses it): its fills would pile up on the naked side. Called by the
        hedging loop whenever that may change."""
        assert self.hedger is not None
        hedging = self.hedger.busy and not self.hedger.escalated
        for m in self.makers.values():
            m.unhedged_base = self.hedger.book.open_base_of(m.market.key)
            hold = int(hedging and m.unhedged_base != 0)  # the other makers quote on
            if m.pending_hedges != hold:
                m.pending_hedges = hold
                self._requote(m.slot)

    async def drain(self) -> None:
        """Before a hot-reload swap: pull every maker quote, then return once no maker order of
        ours is live and no hedge order awaits its answer. Open obligations and hedge orders stay
        in the store: the next strategy (or start) takes them up, so nothing is lost with it."""
        assert self.ctx is not None
        self.quotes.draining = True
        orders = self.ctx.orders
        while True:
            self._requote(*self.makers)
            sending = self.hedger is not None and self.hedger.sending
            if not sending and not any(orders.orders_of(slot) for slot in self.makers):
                if self.hedger is not None:
                    self.hedger.collect()  # the last maker fills are obliged before the swap
                return
            await asyncio.sleep(0.05)

    def _requote(self, *slots: int) -> None:
        """Ask the engine for a requote of these maker markets (their quotes' inputs changed)."""
        if self.ctx is not None:
            for slot in slots:
                self.ctx.engine.requote_slot(slot)

    # ---- events ---------------------------------------------------------------------------------

    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, BookSnapshot):
            if self.state.slot(event.venue, event.symbol) == self.taker_slot:
                self.quotes.taker_book = event
                self._requote(*self.makers)  # the engine requotes a maker on its own book
        elif isinstance(event, FillEvent) and self.hedger is not None:
            fill = event.fill
            slot = self.state.slot(fill.venue, fill.symbol)
            if slot in self.makers:
                self.hedger.collect()  # the obligation is stored before anything else happens
                self.hedger.wake.set()
            elif slot == self.taker_slot:
                self.hedger.wake.set()

    def _fill_ahead(self, order: Order) -> None:
        slot = self.state.slot(order.request.venue, order.request.symbol)
        if slot in self.makers and self.hedger is not None:
            self.hedger.fill_ahead(order)

    # ---- pauses -----------------------------------------------------------------------------------

    def _pause_obliged(self) -> None:
        """Escalation: pause the maker markets whose fills are not hedged (all when none is known)."""
        assert self.hedger is not None
        obliged = {o.maker_key for o in self.hedger.book.open}
        for m in self.makers.values():
            if m.market.key in obliged or not obliged:
                m.paused = True
                self._requote(m.slot)
        self.pause_announcer.announce()  # stored before anything else (bot.kernel.market_pauses)

    def _record_edge(self, o: Obligation, edge_quote: Decimal, now_ns: int) -> None:
        """A hedged obligation against the hedge price its quote assumed (xvenue.edge); an
        over-hedge (no maker quote behind it) has none."""
        assert self.ctx is not None
        venue, symbol = MarketKey.parse(o.maker_key)
        slot = self.state.slot(venue, symbol)
        if slot not in self.makers:
            return
        side, market = Side.BUY if o.sign > 0 else Side.SELL, self.makers[slot].market
        trip = HedgedRoundTrip(o.id, o.maker_key, side, o.maker_price, o.hedged_base, o.hedge_notional,
                               edge_quote, repr(o.expected_price), now_ns)  # fmt: skip
        assumed = self.quotes.assumed_hedge(slot, side, market.price_to_ticks(o.maker_price))
        self.edges.record(self.ctx.store, trip, assumed)

    def paused_markets(self) -> dict[str, dict[str, str]]:
        """Maker markets paused by an escalated hedge, with their base still unhedged (signed)."""
        return {
            m.market.key: {"unhedged_base": str(self._unhedged(m))} for m in self.makers.values() if m.paused
        }

    def _unhedged(self, m: MakerMarket) -> object:
        return m.unhedged_base if self.hedger is None else self.hedger.book.open_base_of(m.market.key)

    def hold(self, maker_key: str, detail: dict[str, str]) -> bool:
        """A pause stored before a restart (bot.kernel.market_pauses.HeldMarketPauses); the size
        unhedged is the obligations' (stored), not the detail's."""
        for m in self.makers.values():
            if m.market.key == maker_key:
                m.paused = True
                return True
        return False

    def resume(self, maker_key: str) -> bool:
        """Operator action: quote this maker market again. Its open obligations stay and are
        still hedged; False if it was not paused."""
        for m in self.makers.values():
            if m.market.key == maker_key and m.paused:
                m.paused = False
                self._requote(m.slot)
                return True
        return False
