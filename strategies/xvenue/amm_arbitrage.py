"""CEX↔AMM arbitrage (kind "amm_arbitrage"): trade the pool against a CEX book when it pays.

Prices are exact on both sides: the pool's output for a size comes from its own multi-tick swap
simulation (`AmmPool.quote_exact_input`: QuoterV2 on chain, `V3Pool.simulate_swap` in the
simulated pool), the CEX cost from sweeping the book level by level. The pool's token0 is the
CEX base, token1 the CEX quote.

profit(q) = CEX leg − pool leg − CEX taker fee − slippage buffer − gas, for q CEX lots.
Fees and buffer are proportional, so profit(q) − profit(q − 1) falls as q grows; the size is
the largest q whose last lot still pays (where the two marginal prices meet: the trade that
equalises the prices), found by bisection. It trades only if profit(q) > min_profit (gas
included). Both legs go out concurrently; the CEX leg is an IOC retried within the slippage
buffer until `max_unhedged_ms`.

A leg that fails (the swap reverts or is refused, the CEX refuses or under-fills) leaves no
position: the completed leg is unwound at once, a CEX leg by IOCs the other way, a pool leg by a
reverse swap, within `unwind_max_slippage_bps` of the leg's own price and `max_unhedged_ms`. The
trade is stored with its outcome (`unwound`, or `unhedged` with the size left) and an `alert`
event; a position that cannot be unwound pauses the strategy's market, and so do
`max_consecutive_leg_failures` failed trades in a row. The operator resumes it with POST /resume
(`paused_markets` / `resume`, see bot/kernel/market_pauses.py). Every trade is stored in `arb_trades`
with its computed and realised profit (everything its legs and unwinds moved, marked at the CEX mid).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.domain import Market, Side
from bot.core.events import BookSnapshot, FillEvent, VenueEvent
from bot.kernel.market_state import MarketState
from strategies.xvenue.arb_legs import LegFlows, token1_in_for, unwind_pool
from strategies.xvenue.book_vwap import Sweep, sweep
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


@dataclass(frozen=True, slots=True)
class ArbPlan:
    """One candidate trade, priced exactly. `sell_pool`: token0 into the pool, base bought on the CEX."""

    sell_pool: bool
    cex_lots: int
    pool_amount_in: int
    pool_amount_out: int
    cex_sweep: Sweep
    gas_quote: float
    profit_quote: float


class AmmArbitrageStrategy:
    def __init__(self, name: str, params: AmmArbitrageParams, state: MarketState) -> None:
        self.name = name
        self.params = params
        self.state = state
        venue, symbol = params.cex_market.split(":", 1)
        slot = state.slot(venue, symbol)
        if slot is None:
            raise ValueError(f"strategies.{name}.cex_market: {params.cex_market} is not a traded market")
        self.slot = slot
        self.market: Market = state.markets[slot]
        self.book: BookSnapshot | None = None
        self.pool: Any = None
        self.paused = False
        self.pause_reason = ""
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

    # ---- pricing -------------------------------------------------------------------------------

    def _scale(self) -> tuple[int, int]:
        return 10**self.pool.token0.decimals, 10**self.pool.token1.decimals

    async def pool_price(self) -> float:
        state = await self.pool.read_state()
        one0, one1 = self._scale()
        return (state.sqrt_price_x96 / 2**96) ** 2 * one0 / one1

    async def _gas_quote(self, gas_wei: int, pool_price: float) -> float:
        return gas_wei / 1e18 * (self.params.gas_token_price_quote or pool_price)

    async def plan_for(self, sell_pool: bool, lots: int, pool_price: float) -> ArbPlan | None:
        """Exact prices of trading `lots` CEX lots against the pool (None: not enough depth)."""
        m, book = self.market, self.book
        assert book is not None
        one0, one1 = self._scale()
        base_raw = int(m.size(lots) * one0)
        fee = float(m.taker_fee_bps) / 1e4
        buffer = self.params.slippage_buffer_bps / 1e4
        tick_lot = float(m.tick_size * m.lot_size)
        swept = sweep(book.asks if sell_pool else book.bids, lots)
        if swept.filled_lots < lots:
            return None
        cex_notional = swept.notional_ticks_lots * tick_lot
        if sell_pool:  # token0 in, token1 out; buy the base back on the CEX
            res = await self.pool.quote_exact_input(True, base_raw)
            amount_in, amount_out = base_raw, res.amount_out
            pool_value = amount_out / one1
            profit = pool_value - cex_notional * (1 + fee)
        else:  # token1 in, at least base_raw token0 out; sell the base on the CEX
            bought = await token1_in_for(self.pool, base_raw, pool_price)
            if bought is None:
                return None
            res, amount_in, amount_out = bought, bought.amount_in, bought.amount_out
            dust = (amount_out - base_raw) / one0 * pool_price
            profit = cex_notional * (1 - fee) - amount_in / one1 + dust
        gas = await self._gas_quote(res.gas_cost_wei, pool_price)
        profit -= cex_notional * buffer + gas
        return ArbPlan(sell_pool, lots, amount_in, amount_out, swept, gas, profit)

    async def best_plan(self) -> ArbPlan | None:
        if self.book is None or not self.book.bids or not self.book.asks or self.paused:
            return None
        price = await self.pool_price()
        tick = float(self.market.tick_size)
        if price > self.book.asks[0][0] * tick:
            sell_pool = True
        elif price < self.book.bids[0][0] * tick:
            sell_pool = False
        else:
            return None
        max_lots = self.market.size_to_lots(Decimal(str(self.params.max_trade_base)))
        wallet0, wallet1 = await self.pool.wallet_balances()
        if sell_pool:
            max_lots = min(max_lots, self.market.size_to_lots(Decimal(wallet0) / self._scale()[0]))
        else:  # the wallet's token1 at the pool price plus the pool fee and a 1 % impact margin
            afford = (
                Decimal(wallet1) / self._scale()[1] / Decimal(price * (1 + self.pool.fee_pips / 1e6) * 1.01)
            )
            max_lots = min(max_lots, self.market.size_to_lots(afford))

        async def marginal(q: int) -> float:
            """What the q-th lot adds (gas is paid once, so it is left out)."""
            hi = await self.plan_for(sell_pool, q, price)
            if hi is None:
                return -1.0
            lo = await self.plan_for(sell_pool, q - 1, price) if q > 1 else None
            return hi.profit_quote - (lo.profit_quote if lo is not None else -hi.gas_quote)

        low, high = 0, max_lots  # largest q in [1, max_lots] whose last lot still pays
        while low < high:
            mid = (low + high + 1) // 2
            if await marginal(mid) > 0:
                low = mid
            else:
                high = mid - 1
        if low == 0:
            return None
        plan = await self.plan_for(sell_pool, low, price)
        if plan is None or plan.profit_quote <= self.params.min_profit_quote:
            return None
        return plan

    # ---- execution -------------------------------------------------------------------------------

    async def execute(self, plan: ArbPlan) -> ArbTradeRow:
        assert self.ctx is not None and self.hedger is not None and self.ledger is not None
        p, m, clock = self.params, self.market, self.ctx.clock
        one0, one1 = self._scale()
        price_before = await self.pool_price()
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
        swap, hedge = await asyncio.gather(pool_leg, cex_leg, return_exceptions=True)
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
        pool_ok = not isinstance(swap, BaseException)
        filled = 0
        failures = []
        if pool_ok:
            flows.pool_swap(plan.sell_pool, swap)
            row.pool_amount_in, row.pool_amount_out = str(swap.amount_in), str(swap.amount_out)
        else:
            failures.append(f"pool swap failed: {type(swap).__name__}: {swap}")
        if isinstance(hedge, BaseException):
            failures.append(f"CEX leg failed: {type(hedge).__name__}: {hedge}")
        else:
            filled = hedge.filled_lots
            flows.cex_fill(plan.sell_pool, m.size(filled), hedge.notional, hedge.fees)
            row.cex_filled_base = str(m.size(filled))
            row.cex_notional = str(hedge.notional)
            row.cex_fees = str(hedge.fees)
            if not hedge.complete:
                failures.append(f"CEX leg filled {row.cex_filled_base} of {row.size_base}")
        # what the legs left us holding, in CEX lots (+ = long base)
        sign = -1 if plan.sell_pool else 1
        exposure = (sign * plan.cex_lots if pool_ok else 0) - sign * filled
        if exposure:
            if pool_ok:
                exposure = await self._unwind_pool_leg(exposure, swap, flows, row, failures)
            else:
                exposure = await self._unwind_cex_leg(exposure, hedge, flows, row, failures)
        if pool_ok or filled:
            gas = await self._gas_quote(flows.gas_wei, price_before)
            row.gas_quote = repr(gas)
            row.realised_profit_quote = repr(flows.value_quote(one0, one1, cex_mid, gas))
        row.pool_price_after = await self.pool_price()
        row.unhedged_base = str(m.size(exposure)) if exposure else "0"
        if not failures:
            row.status = "done"
        elif exposure:
            row.status = "unhedged"
        else:
            row.status = "unwound" if pool_ok or filled else "failed"
        if failures:
            row.failure = "; ".join(failures)[:1000]
            row.unhedged_ms = (clock.now_ns() - sent_ns) / 1e6
        self.ledger.record_arb(row)
        self._after_trade(row, m.size(exposure))
        return row

    async def _unwind_pool_leg(
        self, exposure: int, swap: Any, flows: LegFlows, row: ArbTradeRow, failures: list[str]
    ) -> int:
        """Reverse the part of the pool leg the CEX did not hedge; returns the lots still exposed."""
        p, m = self.params, self.market
        one0, one1 = self._scale()
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

    # ---- operator (bot.market_pauses) --------------------------------------------------------------

    def paused_markets(self) -> dict[str, dict[str, str]]:
        """The CEX market, when a failed trade paused it, with the base left unhedged and why."""
        if not self.paused:
            return {}
        return {
            self.market.key: {
                "unhedged_base": str(self.unhedged_base),
                "pool": self.params.pool,
                "reason": self.pause_reason,
            }
        }

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
