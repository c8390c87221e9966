"""CEX↔AMM arbitrage (kind "amm_arbitrage"): trade the pool against a CEX book when it pays.

Prices are exact on both sides (`strategies.xvenue.arb_pricing`): the size is the largest whose
last lot still pays, traded only if its profit beats `min_profit_quote` (gas included). Both legs
go out concurrently; the CEX leg is an IOC retried within the slippage buffer until
`max_unhedged_ms`.

A leg that fails (the swap reverts or is refused, the CEX refuses or under-fills) leaves no
position: the completed leg is unwound at once, a CEX leg by IOCs the other way, a pool leg by a
reverse swap, within `unwind_max_slippage_bps` of the leg's own price and `max_unhedged_ms`. The
trade is stored with its outcome (`unwound`, or `unhedged` with the size left) and an `alert`
event; a position that cannot be unwound pauses the strategy's market, and so do
`max_consecutive_leg_failures` failed trades in a row; the pause is stored at once and holds
through restarts and reloads until the operator resumes it with POST /resume (`paused_markets` /
`resume`, see bot/kernel/market_pauses.py). Both legs fit the CEX leg's risk limits and balance
and the pool wallet before either goes out (`arb_pricing`). Every trade is stored in `arb_trades`
with its computed and realised profit (everything its legs and unwinds moved, marked at the CEX mid).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from amm.ports import AmmPool, SwapResult
from bot.core.domain import Market, MarketKey, Side
from bot.core.events import BookSnapshot, FillEvent, VenueEvent
from bot.kernel.market_pauses import PauseAnnouncer
from bot.kernel.market_state import MarketState
from strategies.xvenue.arb_legs import LegFlows, unwind_pool
from strategies.xvenue.arb_pricing import ArbPlan, ArbPricer, dry_run_check
from strategies.xvenue.hedging import HedgeExecutor, HedgeResult
from strategies.xvenue.store import ArbTradeRow, XvenueLedger

if TYPE_CHECKING:
    from bot.kernel.context import BotContext

log = logging.getLogger("mmbot.arb")


class AmmArbitrageParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["amm_arbitrage"]
    pool: str = Field(min_length=1, description="name of the pool venue (BotContext.pools)")
    cex_market: str = Field(description='"venue:symbol" whose base is the pool token0')
    max_trade_base: float = Field(gt=0)
    min_profit_quote: float = Field(0.0, ge=0)
    slippage_buffer_bps: float = Field(5.0, ge=0, description="a cost per trade, and both legs' bound")
    gas_token_price_quote: float | None = Field(None, gt=0, description="None: token0 is the gas token")
    check_interval_ms: float = Field(1_000.0, gt=0, description="pools push no events: poll them")
    max_unhedged_ms: float = Field(1_000.0, gt=0)
    cex_max_attempts: int = Field(3, ge=1)
    cex_retry_delay_ms: float = Field(50.0, ge=0)
    unwind_max_slippage_bps: float = Field(
        30.0, ge=0, description="a failed trade's completed leg is reversed within this of its price"
    )
    max_consecutive_leg_failures: int = Field(3, ge=1, description="then the market pauses")

    @property
    def markets(self) -> list[str]:
        return [self.cex_market]


class AmmArbitrageStrategy:
    def __init__(self, name: str, params: AmmArbitrageParams, state: MarketState) -> None:
        self.name = name
        self.params = params
        self.state = state
        venue, symbol = MarketKey.parse(params.cex_market)
        slot = state.slot(venue, symbol)
        if slot is None:
            raise ValueError(f"strategies.{name}.cex_market: {params.cex_market} is not a traded market")
        self.slot = slot
        self.market: Market = state.markets[slot]
        self.book: BookSnapshot | None = None
        self.pool: AmmPool | None = None
        self.pricer: ArbPricer | None = None
        self.paused = False
        self.pause_reason = ""
        self.pause_announcer = PauseAnnouncer()  # the bot stores a pause the moment it is taken
        self.skipped_by_risk = 0  # trades not sent: a leg would not fit the limits when sent
        self.unhedged_base = Decimal(0)  # signed (+ = long base): what an unwind could not reverse
        self.failures_in_a_row = 0
        self.ctx: BotContext | None = None
        self.hedger: HedgeExecutor | None = None
        self.ledger: XvenueLedger | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while no trade is in progress
        self._idle.set()
        self._draining = False

    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, BookSnapshot) and (event.venue, event.symbol) == (
            self.market.venue,
            self.market.symbol,
        ):
            self.book = event
            self._wake.set()
        elif (
            isinstance(event, FillEvent) and self.hedger is not None and event.fill.venue == self.market.venue
        ):
            self.hedger.fill_arrived()

    async def run(self, ctx: BotContext) -> None:
        pool = ctx.pools.get(self.params.pool)
        if pool is None:
            raise ValueError(f"strategies.{self.name}.pool: no pool named {self.params.pool!r}")
        self.ctx, self.pool = ctx, pool
        self.pricer = ArbPricer(
            pool,
            self.market,
            lambda: self.book,
            slippage_buffer_bps=self.params.slippage_buffer_bps,
            gas_token_price_quote=self.params.gas_token_price_quote,
            cex_check=dry_run_check(ctx.orders, self.slot),
        )
        self.ledger = XvenueLedger(ctx.store)
        self.hedger = HedgeExecutor(ctx.orders, self.ledger)
        interval_s = self.params.check_interval_ms / 1000
        while not self._draining:  # paused: no new trade until the operator resumes the market
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
            self._wake.clear()
            if self._draining:
                break
            self._idle.clear()
            try:
                plan = await self.best_plan()
                if plan is not None:
                    await self.execute(plan)
            finally:
                self._idle.set()
            if plan is not None:
                await asyncio.sleep(interval_s)  # let the books settle before looking again

    async def drain(self) -> None:
        """Before a hot-reload swap: no new trade; a trade in progress finishes (both legs, or
        its unwind) so no leg is left half done."""
        self._draining = True
        self._wake.set()
        await self._idle.wait()

    async def best_plan(self) -> ArbPlan | None:
        if self.book is None or not self.book.bids or not self.book.asks or self.paused:
            return None
        assert self.pricer is not None
        return await self.pricer.best_plan(self.params.max_trade_base, self.params.min_profit_quote)

    # ---- execution -------------------------------------------------------------------------------

    async def execute(self, plan: ArbPlan) -> ArbTradeRow | None:
        """Both legs at once; None when, at the moment of sending, a leg no longer fits (nothing
        is sent: the pool swap never goes out alone to be unwound)."""
        assert self.ctx is not None and self.hedger is not None and self.ledger is not None
        assert self.pool is not None and self.pricer is not None
        p, m, clock = self.params, self.market, self.ctx.clock
        price_before = await self.pricer.pool_price()
        if (refusal := self.pricer.refusal(plan)) is not None:  # balances or position moved since
            self.skipped_by_risk += 1
            log.warning(
                "arb %s: trade of %s %s not sent: %s", self.name, m.size(plan.cex_lots), m.base, refusal
            )
            return None
        book = self.book
        assert book is not None
        cex_mid = (book.bids[0][0] + book.asks[0][0]) / 2 * float(m.tick_size)
        out_min = int(plan.pool_amount_out * (1 - p.slippage_buffer_bps / 1e4))
        sent_ns = clock.now_ns()
        pool_leg = self.pool.swap_exact_input(plan.sell_pool, plan.pool_amount_in, out_min)
        cex_leg = self.hedger.execute(
            self.slot,
            Side.BUY if plan.sell_pool else Side.SELL,
            plan.cex_lots,
            float(plan.cex_sweep.worst_price_ticks),
            max_slippage_bps=p.slippage_buffer_bps,
            max_attempts=p.cex_max_attempts,
            retry_delay_s=p.cex_retry_delay_ms / 1000,
            deadline_s=p.max_unhedged_ms / 1000,
        )
        swap_or_error, hedge_or_error = await asyncio.gather(pool_leg, cex_leg, return_exceptions=True)
        row = ArbTradeRow(
            strategy=self.name,
            ts_ns=sent_ns,
            direction="sell_pool_buy_cex" if plan.sell_pool else "buy_pool_sell_cex",
            size_base=str(m.size(plan.cex_lots)),
            expected_profit_quote=repr(plan.profit_quote),
            pool_amount_in=str(plan.pool_amount_in),
            pool_amount_out=str(plan.pool_amount_out),
            gas_quote=repr(plan.gas_quote),
            pool_price_before=price_before,
            cex_mid=cex_mid,
            status="failed",
        )
        flows = LegFlows()
        failures: list[str] = []
        swap = self._pool_leg_done(plan, swap_or_error, flows, row, failures)
        hedge = self._cex_leg_done(plan, hedge_or_error, flows, row, failures)
        filled = 0 if hedge is None else hedge.filled_lots
        # what the legs left us holding, in CEX lots (+ = long base)
        sign = -1 if plan.sell_pool else 1
        exposure = (sign * plan.cex_lots if swap is not None else 0) - sign * filled
        if exposure:
            if swap is not None:
                exposure = await self._unwind_pool_leg(exposure, swap, flows, row, failures)
            else:
                assert hedge is not None  # filled: the CEX leg went through
                exposure = await self._unwind_cex_leg(exposure, hedge, flows, row, failures)
        if swap is not None or filled:
            gas = self.pricer.gas_quote(flows.gas_wei, price_before)
            row.gas_quote = repr(gas)
            row.realised_profit_quote = repr(
                flows.value_quote(self.pricer.one0, self.pricer.one1, cex_mid, gas)
            )
        row.pool_price_after = await self.pricer.pool_price()
        self._settle_row(row, failures, exposure, legs_moved=swap is not None or filled > 0, sent_ns=sent_ns)
        self.ledger.record_arb(row)
        self._after_trade(row, m.size(exposure))
        return row

    def _pool_leg_done(
        self,
        plan: ArbPlan,
        swap: SwapResult | BaseException,
        flows: LegFlows,
        row: ArbTradeRow,
        failures: list[str],
    ) -> SwapResult | None:
        """The pool leg's amounts into the flows and the row; None (and why) when it failed."""
        if isinstance(swap, BaseException):
            failures.append(f"pool swap failed: {type(swap).__name__}: {swap}")
            return None
        flows.pool_swap(plan.sell_pool, swap)
        row.pool_amount_in, row.pool_amount_out = str(swap.amount_in), str(swap.amount_out)
        return swap

    def _cex_leg_done(
        self,
        plan: ArbPlan,
        hedge: HedgeResult | BaseException,
        flows: LegFlows,
        row: ArbTradeRow,
        failures: list[str],
    ) -> HedgeResult | None:
        """The CEX leg's fills into the flows and the row; None (and why) when it failed."""
        if isinstance(hedge, BaseException):
            failures.append(f"CEX leg failed: {type(hedge).__name__}: {hedge}")
            return None
        m = self.market
        flows.cex_fill(plan.sell_pool, m.size(hedge.filled_lots), hedge.notional, hedge.fees)
        row.cex_filled_base = str(m.size(hedge.filled_lots))
        row.cex_notional = str(hedge.notional)
        row.cex_fees = str(hedge.fees)
        if not hedge.complete:
            failures.append(f"CEX leg filled {row.cex_filled_base} of {row.size_base}")
        return hedge

    def _settle_row(
        self, row: ArbTradeRow, failures: list[str], exposure: int, *, legs_moved: bool, sent_ns: int
    ) -> None:
        """The trade's outcome: done, unwound, unhedged (a size left) or failed (nothing moved)."""
        assert self.ctx is not None
        row.unhedged_base = str(self.market.size(exposure)) if exposure else "0"
        if not failures:
            row.status = "done"
        elif exposure:
            row.status = "unhedged"
        else:
            row.status = "unwound" if legs_moved else "failed"
        if failures:
            row.failure = "; ".join(failures)[:1000]
            row.unhedged_ms = (self.ctx.clock.now_ns() - sent_ns) / 1e6

    async def _unwind_pool_leg(
        self, exposure: int, swap: SwapResult, flows: LegFlows, row: ArbTradeRow, failures: list[str]
    ) -> int:
        """Reverse the part of the pool leg the CEX did not hedge; returns the lots still exposed."""
        assert self.pool is not None and self.pricer is not None
        p, m = self.params, self.market
        one0, one1 = self.pricer.one0, self.pricer.one1
        base_raw = int(m.size(abs(exposure)) * one0)
        # the leg's own price, token1 per token0
        if row.direction == "sell_pool_buy_cex":
            leg_price = swap.amount_out / one1 / (swap.amount_in / one0)
        else:
            leg_price = swap.amount_in / one1 / (swap.amount_out / one0)
        back, why = await unwind_pool(
            self.pool,
            base_raw,
            exposure < 0,
            leg_price,
            max_slippage_bps=p.unwind_max_slippage_bps,
            max_attempts=p.cex_max_attempts,
            retry_delay_s=p.cex_retry_delay_ms / 1000,
            deadline_s=p.max_unhedged_ms / 1000,
        )
        if back is None:
            failures.append(f"pool unwind failed: {why}")
            return exposure
        flows.pool_swap(exposure > 0, back)
        row.unwind_base = str(m.size(abs(exposure)))
        return 0

    async def _unwind_cex_leg(
        self, exposure: int, hedge: HedgeResult, flows: LegFlows, row: ArbTradeRow, failures: list[str]
    ) -> int:
        """Trade the CEX fill back (the pool leg failed); returns the lots still exposed."""
        assert self.hedger is not None
        p, m = self.params, self.market
        vwap_ticks = float(hedge.notional / m.size(hedge.filled_lots) / m.tick_size)
        side = Side.SELL if exposure > 0 else Side.BUY
        try:
            back = await self.hedger.execute(
                self.slot,
                side,
                abs(exposure),
                vwap_ticks,
                max_slippage_bps=p.unwind_max_slippage_bps,
                max_attempts=p.cex_max_attempts,
                retry_delay_s=p.cex_retry_delay_ms / 1000,
                deadline_s=p.max_unhedged_ms / 1000,
                reduces_exposure=True,  # trades the fill back: no gross or shared limit refuses it
            )
        except Exception as exc:
            failures.append(f"CEX unwind failed: {type(exc).__name__}: {exc}")
            return exposure
        flows.cex_fill(side is Side.BUY, m.size(back.filled_lots), back.notional, back.fees)
        row.unwind_base = str(m.size(back.filled_lots))
        left = abs(exposure) - back.filled_lots
        if left:
            failures.append(f"CEX unwind filled {m.size(back.filled_lots)} of {m.size(abs(exposure))}")
        return left if exposure > 0 else -left

    def _after_trade(self, row: ArbTradeRow, unhedged_base: Decimal) -> None:
        """Alert on a failed leg; pause the market on a position left or on repeated failures."""
        assert self.ctx is not None
        if row.status == "done":
            self.failures_in_a_row = 0
            return
        self.failures_in_a_row += 1
        if unhedged_base:
            self.unhedged_base += unhedged_base
            self._pause(f"could not unwind {unhedged_base} {self.market.base}")
        elif self.failures_in_a_row >= self.params.max_consecutive_leg_failures:
            self._pause(f"{self.failures_in_a_row} failed trades in a row")
        log.error(
            "ALERT arb %s: %s %s (%s)%s",
            self.name, row.direction, row.status, row.failure, "; paused" if self.paused else "",
        )  # fmt: skip
        self.ctx.store.record_event(
            "alert",
            row.ts_ns,
            strategy=self.name,
            reason="arb_leg_failed",
            market=self.market.key,
            status=row.status,
            detail=row.failure,
            unhedged_base=row.unhedged_base,
            paused=self.paused,
            arb_trade_id=row.id,
        )

    def _pause(self, reason: str) -> None:
        self.paused = True
        self.pause_reason = reason
        self.pause_announcer.announce()

    # ---- operator (bot.market_pauses) --------------------------------------------------------------

    def paused_markets(self) -> dict[str, dict[str, str]]:
        """The CEX market, when a failed trade paused it, with the base left unhedged and why."""
        detail = {"unhedged_base": str(self.unhedged_base), "pool": self.params.pool,
                  "reason": self.pause_reason}  # fmt: skip
        return {self.market.key: detail} if self.paused else {}

    def hold(self, market_key: str, detail: dict[str, str]) -> bool:
        """A pause stored before a restart (bot.kernel.market_pauses.HeldMarketPauses)."""
        if market_key != self.market.key:
            return False
        self.unhedged_base = Decimal(detail.get("unhedged_base", "0"))
        self.paused = True  # not announced: it is the stored pause
        self.pause_reason = detail.get("reason", "paused before the restart")
        return True

    def resume(self, market_key: str) -> bool:
        """Operator action once an unhedged position was dealt with; False if it was not paused."""
        if market_key != self.market.key or not self.paused:
            return False
        self.paused = False
        self.pause_reason = ""
        self.unhedged_base = Decimal(0)
        self.failures_in_a_row = 0
        self._wake.set()
        return True
