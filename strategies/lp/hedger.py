"""Delta hedger (kind "hedger"): keeps LP delta plus CEX inventory of one underlying inside a band.

net Δ = hedge_ratio · (LP token0 + uncollected token0 fees + idle pool-wallet token0) + CEX position
(base units of `market`, relative to its flat balance). When |net Δ| exceeds `band`, it trades
−net Δ on the hedge market through ctx.orders: first post-only at the touch, then, after
`maker_timeout_s`, whatever is left crosses the spread (taker, `taker_slippage_bps` limit).
Hedge fills are tracked apart from quoting (their own position, cash, fees, cost against the
decision mid, PnL) and stored in the LP store. Fills of other orders on the market (an LP manager's
CEX leg of an excess swap) are not hedge trades, but they move the CEX position and so count
in net Δ: the combined inventory is what is hedged. A hedge order that moves that combined position
toward zero is marked as reducing exposure, so no position or gross risk limit refuses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from amm.attribution import SECONDS_PER_YEAR, exact_position_amounts
from bot.core.domain import MarketKey, Side
from bot.core.events import FillEvent
from bot.kernel.lp_store import HedgeTradeRow, LpStore
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.risk import reduces_position
from strategies.lp.accounts import HedgeCosts

if TYPE_CHECKING:
    from bot.core.events import VenueEvent
    from bot.kernel.context import BotContext

log = logging.getLogger("mmbot.hedge")
CARRY_STORE_S = 60.0  # the stored per-position carry lags the books by at most this


class HedgerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["hedger"]
    market: str = Field(description='"venue:symbol" of the hedge market, from [[markets]]')
    pools: list[str] = Field(min_length=1, description="sim_pool venues whose token0 is the underlying")
    hedge_ratio: float = Field(1.0, ge=0, le=1, description="0 = off, 1 = delta neutral")
    band: float = Field(0.5, gt=0, description="|net delta| in base units tolerated before trading")
    min_trade_size: float = Field(0.05, gt=0, description="base units")
    max_order_size: float = Field(1.0, gt=0, description="base units per hedge order")
    check_interval_s: float = Field(5.0, gt=0)
    maker_timeout_s: float = Field(10.0, gt=0)
    taker_slippage_bps: float = Field(20.0, ge=0)
    include_idle_wallet: bool = Field(True, description="count the pool wallet's idle token0")
    funding_per_year: float = Field(
        0.0, description="perp funding (or a spot short's borrow) paid on |notional| a year; 0: not counted"
    )

    @property
    def markets(self) -> list[str]:
        return [self.market]

    @property
    def exclusive_markets(self) -> list[str]:
        """No quoting strategy may diff its quotes against our hedge orders on this market."""
        return [self.market]


@dataclass(slots=True)
class HedgeBook:
    """The hedge's own trades: position, cash and fees in quote units, costs against decision mids,
    and the carry of holding the position (perp funding or a spot short's borrow), when accrued."""

    position: float = 0.0
    cash: float = 0.0
    fees: float = 0.0
    cost: float = 0.0  # fees + price paid vs the decision mid (spread, slippage, latency)
    carry: float = 0.0
    trades: int = 0
    maker_trades: int = 0

    def record_fill(
        self, sign: int, size: float, price: float, fee: float, mid: float, *, is_maker: bool = False
    ) -> float:
        """One fill (sign +1 bought, −1 sold; fee in quote units); returns its cost against `mid`."""
        self.position += sign * size
        self.cash -= sign * size * price
        self.fees += fee
        cost = fee + sign * (price - mid) * size
        self.cost += cost
        self.trades += 1
        self.maker_trades += int(is_maker)
        return cost

    def accrue_carry(self, mid: float, rate_per_year: float, dt_s: float) -> float:
        """Carry paid over `dt_s` at `rate_per_year` of the position's notional at `mid`, whichever
        its side (a perp whose funding runs against us, or the borrow of a spot short); returns it."""
        paid = abs(self.position) * mid * rate_per_year * dt_s / SECONDS_PER_YEAR
        self.carry += paid
        return paid

    @property
    def total_cost(self) -> float:
        """What hedging cost beyond the price exposure it removed: trading cost plus carry."""
        return self.cost + self.carry

    def pnl(self, mid: float) -> float:
        return self.cash + self.position * mid - self.fees - self.carry


class Hedger:
    def __init__(self, name: str, params: HedgerParams) -> None:
        self.name = name
        self.params = params
        self.book = HedgeBook()
        self.costs = HedgeCosts()  # the book's cost and carry shared out over the LP positions hedged
        self._open_rows: list[int] = []  # ids of the positions hedged at the last measurement
        self._carry_ns: int | None = None  # carry accrued up to here
        self._carry_stored: dict[int, float] = {}  # each position's carry as last stored
        self._carry_stored_ns = 0
        self.last_net_delta = 0.0
        self.last_lp_delta = 0.0
        self._ctx: BotContext | None = None
        self._store: LpStore | None = None
        self._slot = -1
        self._decision_mid = math.nan  # mid when the current hedge was decided
        self._own_orders: deque[str] = deque(maxlen=64)  # our recent client order ids
        self._placing = False  # an order of ours is being placed: its id is not known yet
        self._unclaimed: list[FillEvent] = []  # fills seen while placing, claimed once the id is

    # ---- measurement -----------------------------------------------------------------------

    async def lp_delta(self) -> float:
        """token0 in our LP positions + their uncollected fees (+ the pool wallet's idle token0)."""
        ctx, store = self._ctx, self._store
        assert ctx is not None and store is not None
        total = 0.0
        open_rows = store.positions(open_only=True)
        pools = self.params.pools
        self._open_rows = [row.id for row in open_rows if row.pool in pools and row.id is not None]
        for pool_name in self.params.pools:
            pool = ctx.pools[pool_name]
            d0, d1 = pool.token0.decimals, pool.token1.decimals
            state = await pool.read_state()
            for row in open_rows:
                if row.pool != pool_name:
                    continue
                try:
                    info = await pool.position(row.token_id)
                    owed0, _ = await pool.pending_fees(row.token_id)
                except ValueError:
                    continue  # closed between the read and now
                amount0, _ = exact_position_amounts(
                    state.sqrt_price_x96, info.tick_lower, info.tick_upper, info.liquidity, d0, d1
                )
                total += amount0 + owed0 / 10.0**d0
            if self.params.include_idle_wallet:
                wallet0, _ = await pool.wallet_balances()
                total += wallet0 / 10.0**d0
        return total

    def combined_lots(self) -> int:
        """What we hold across pool and venue, in lots of the hedge market: the LP delta measured
        this round (unscaled by `hedge_ratio`: the whole exposure) + the CEX position now, truncated
        toward zero so that a hedge is never judged to take off more than it does."""
        ctx = self._ctx
        assert ctx is not None
        lot = float(ctx.state.lot_size[self._slot])
        return int(self.last_lp_delta / lot + int(ctx.state.position_lots[self._slot]))

    def hedge_order(self, side: Side, price_ticks: int, size_lots: int, tif: TimeInForce) -> NewOrder:
        """A hedge order, marked as reducing exposure when its fill moves the combined position
        toward zero (`risk.reduces_position`, applied to pool + venue): the CEX position grows while
        what we hold shrinks, and no max_position or gross limit may block the hedge that takes risk
        off. One that adds to the combined position (another fill moved the venue position since the
        measurement) stays under every limit."""
        reduces = reduces_position(self.combined_lots(), side, size_lots)
        return NewOrder(side, price_ticks, size_lots, tif, reduces_exposure=reduces)

    def cex_position(self) -> float:
        ctx = self._ctx
        assert ctx is not None
        return float(ctx.state.position_lots[self._slot]) * float(ctx.state.lot_size[self._slot])

    async def net_delta(self) -> float:
        self.last_lp_delta = await self.lp_delta()
        self.last_net_delta = self.params.hedge_ratio * self.last_lp_delta + self.cex_position()
        return self.last_net_delta

    # ---- the loop --------------------------------------------------------------------------

    async def run(self, ctx: BotContext) -> None:
        self._ctx = ctx
        self._store = LpStore(ctx.store)
        venue, symbol = MarketKey.parse(self.params.market)
        slot = ctx.state.slot(venue, symbol)
        if slot is None:
            raise ValueError(f"strategies.{self.name}.market: {self.params.market} is not in [[markets]]")
        self._slot = slot
        for pool_name in self.params.pools:
            if pool_name not in ctx.pools:
                raise ValueError(f"strategies.{self.name}.pools: no pool named {pool_name!r}")
        while True:
            await asyncio.sleep(self.params.check_interval_s)
            try:
                await self.rebalance()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: hedge round failed", self.name)

    def hedge_size(self, net_delta: float, lot_size: float) -> int:
        """Lots to buy (+) or sell (−): zero inside the band or under the minimum trade."""
        p = self.params
        if abs(net_delta) <= p.band:
            return 0
        size = min(abs(net_delta), p.max_order_size)
        if size < p.min_trade_size:
            return 0
        lots = int(size / lot_size + 1e-9)
        return -lots if net_delta > 0 else lots

    async def rebalance(self) -> None:
        ctx = self._ctx
        assert ctx is not None
        state, slot = ctx.state, self._slot
        mid = float(state.mid_price[slot])
        if not math.isfinite(mid) or not state.quoting_enabled[slot]:
            return
        self._accrue_carry(mid, ctx.clock.now_ns())
        net = await self.net_delta()
        lots = self.hedge_size(net, float(state.lot_size[slot]))
        if lots == 0:
            return
        side = Side.BUY if lots > 0 else Side.SELL
        size = abs(lots)
        log.info(
            "%s: net delta %.4f (LP %.4f × %.2f, CEX %.4f) outside ±%.4f: %s %d lots at mid %.4f",
            self.name,
            net,
            self.last_lp_delta,
            self.params.hedge_ratio,
            self.cex_position(),
            self.params.band,
            side.value,
            size,
            mid,
        )
        touch = int(state.best_bid_ticks[slot] if side is Side.BUY else state.best_ask_ticks[slot])
        left = await self._work(side, touch, size, mid, post_only=True, wait_s=self.params.maker_timeout_s)
        if left > 0:
            tick = float(state.tick_size[slot])
            far = state.best_ask_ticks[slot] if side is Side.BUY else state.best_bid_ticks[slot]
            slip = math.ceil(float(far) * self.params.taker_slippage_bps / 1e4)
            price = int(far) + slip if side is Side.BUY else int(far) - slip
            log.info("%s: maker hedge timed out, %d lots left: taking at %.4f", self.name, left, price * tick)
            await self._work(side, price, left, mid, post_only=False, wait_s=self.params.maker_timeout_s)

    def _accrue_carry(self, mid: float, now_ns: int) -> None:
        """Funding (or borrow) on the position held since the last round, shared out like a fill's cost."""
        since, self._carry_ns = self._carry_ns, now_ns
        if since is None or now_ns <= since or self.params.funding_per_year == 0.0:
            return
        paid = self.book.accrue_carry(mid, self.params.funding_per_year, (now_ns - since) / 1e9)
        self.costs.share(paid, self._open_rows, carry=True)
        self._store_carry(now_ns)

    def _store_carry(self, now_ns: int) -> None:
        """Each hedged position's carry so far, to the store: at most every `CARRY_STORE_S` (a
        running total, so a skipped write loses nothing), and at once for a position just closed."""
        carried, store = self.costs.carry_by_row_id, self._store
        if store is None:
            return
        due = now_ns - self._carry_stored_ns >= CARRY_STORE_S * 1e9
        rows = [r for r in carried if carried[r] != self._carry_stored.get(r)]
        for row_id in rows if due else (r for r in rows if r not in self._open_rows):
            store.set_hedge_carry(self.name, row_id, now_ns, carried[row_id])
            self._carry_stored[row_id] = carried[row_id]
        if due:
            self._carry_stored_ns = now_ns

    async def _work(
        self, side: Side, price_ticks: int, size: int, mid: float, *, post_only: bool, wait_s: float
    ) -> int:
        """Place one order and wait up to `wait_s` for it to fill; cancel the rest; return lots left."""
        ctx = self._ctx
        assert ctx is not None
        if price_ticks <= 0:
            return size
        self._decision_mid = mid  # set first: a taker's fill can arrive before its ack
        self._placing = True
        try:
            tif = TimeInForce.POST_ONLY if post_only else TimeInForce.GTC
            sent = await ctx.orders.submit(self._slot, [self.hedge_order(side, price_ticks, size, tif)])
            cid = sent[0].client_order_id if sent else None
        finally:
            self._placing = False
            unclaimed, self._unclaimed = self._unclaimed, []
        if cid is None:
            return 0  # risk refused: nothing to chase this round
        self._own_orders.append(cid)
        for event in unclaimed:
            if event.fill.client_order_id == cid:
                self._record(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while cid in ctx.orders.live and loop.time() < deadline:
            await asyncio.sleep(0.25)
        order = ctx.orders.live.get(cid)
        if order is None:
            return 0 if self._filled(cid) else size
        await ctx.orders.cancel_order(cid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed(cid), timeout=5.0)
        return max(order.request.size_lots - order.filled_lots, 0)

    def _filled(self, cid: str) -> bool:
        ctx = self._ctx
        assert ctx is not None
        row = ctx.store.get_order(cid)
        return row is not None and row.state == "filled"

    async def _closed(self, cid: str) -> None:
        ctx = self._ctx
        assert ctx is not None
        while cid in ctx.orders.live:
            await asyncio.sleep(0.05)

    # ---- fills -----------------------------------------------------------------------------

    def on_event(self, event: VenueEvent) -> None:
        if not isinstance(event, FillEvent):
            return
        if self._ctx is None or self._store is None:
            return
        fill = event.fill
        market = self._ctx.state.markets[self._slot]
        if (fill.venue, fill.symbol) != (market.venue, market.symbol):
            return
        if fill.client_order_id in self._own_orders:
            self._record(event)
        elif self._placing:  # perhaps ours, filled before submit returned it
            self._unclaimed.append(event)

    def _record(self, event: FillEvent) -> None:
        assert self._ctx is not None and self._store is not None
        fill = event.fill
        market = self._ctx.state.markets[self._slot]
        mid = self._decision_mid
        price, size = float(market.price(fill.price_ticks)), float(market.size(fill.size_lots))
        fee = float(fill.fee) if fill.fee_asset == market.quote else float(fill.fee) * price
        cost = self.book.record_fill(fill.side.sign, size, price, fee, mid, is_maker=fill.is_maker)
        self.costs.share(cost, self._open_rows)
        self._store.record_hedge_trade(
            HedgeTradeRow(
                strategy=self.name,
                market=market.key,
                ts_ns=fill.exchange_ts_ns,
                client_order_id=fill.client_order_id,
                side=fill.side.value,
                price=str(market.price(fill.price_ticks)),
                size=str(market.size(fill.size_lots)),
                fee=str(Decimal(fill.fee)),
                is_maker=fill.is_maker,
                mid_at_decision=mid,
                cost_quote=cost,
            )
        )
