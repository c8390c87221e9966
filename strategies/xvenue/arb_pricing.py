"""Exact prices of a CEX↔AMM arbitrage: the plan for a size, and the size that pays best.

The pool's output for a size comes from its own multi-tick swap simulation
(`AmmPool.quote_exact_input`: QuoterV2 on chain, `V3Pool.simulate_swap` in the simulated pool),
the CEX cost from sweeping the book level by level. The pool's token0 is the CEX base, token1 the
CEX quote.

profit(q) = CEX leg − pool leg − CEX taker fee − slippage buffer − gas, for q CEX lots.
Fees and buffer are proportional, so profit(q) − profit(q − 1) falls as q grows; the size is
the largest q whose last lot still pays (where the two marginal prices meet: the trade that
equalises the prices), found by bisection.

Both legs are sized within what both venues allow before the first leg goes out: the pool side
within the wallet, the CEX leg within the bot's risk limits and free balance at the limit price
it will be sent at (`cex_check`: the order manager's own check, run dry). A CEX leg that would be
refused shrinks the trade; one that cannot fit at any size skips it, so a pool swap is never
executed only to be unwound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from amm.ports import AmmPool
from bot.core.domain import Market, Side
from bot.core.events import BookSnapshot
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk import Refusal, largest_admissible_lots
from strategies.xvenue.arb_legs import token1_in_for
from strategies.xvenue.book_vwap import Sweep, sweep
from strategies.xvenue.hedging import slippage_limit_ticks

# (side, limit price in ticks, size in lots) -> why risk would refuse that CEX order, or None
CexCheck = Callable[[Side, int, int], Refusal | None]


def dry_run_check(orders: OrderManager, slot: int) -> CexCheck:
    """The order manager's own risk check of an immediate order on `slot`, sending nothing."""
    return lambda side, price_ticks, lots: orders.check(
        slot, NewOrder(side, price_ticks, lots, TimeInForce.IOC)
    )


# a CEX leg refused at its price is re-sized at the new price this many times before the trade is skipped
MAX_RESIZES = 4


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

    @property
    def cex_side(self) -> Side:
        return Side.BUY if self.sell_pool else Side.SELL


class ArbPricer:
    def __init__(
        self,
        pool: AmmPool,
        market: Market,
        latest_book: Callable[[], BookSnapshot | None],
        *,
        slippage_buffer_bps: float,
        gas_token_price_quote: float | None,
        cex_check: CexCheck | None = None,
    ) -> None:
        self.pool, self.market = pool, market
        # read at every sizing step: on a chain pool the book can move while a quote is awaited
        self.latest_book = latest_book
        self.slippage_buffer_bps = slippage_buffer_bps  # a cost per trade
        self.gas_token_price_quote = gas_token_price_quote  # None: token0 is the gas token
        self.one0, self.one1 = 10**pool.token0.decimals, 10**pool.token1.decimals
        self.cex_check = cex_check  # None: no limit on the CEX leg (a pricer on its own)
        self.wallet_raw = (0, 0)  # token0, token1 at the last sizing

    def cex_limit_ticks(self, plan: ArbPlan) -> int:
        """The limit price the CEX leg is sent at (the executor's slippage bound on the sweep)."""
        return slippage_limit_ticks(plan.cex_side, plan.cex_sweep.worst_price_ticks, self.slippage_buffer_bps)

    def refusal(self, plan: ArbPlan) -> Refusal | None:
        """Why `plan` cannot go out now: its CEX leg refused by risk, or its pool input over the
        wallet; None when both legs fit."""
        token0, token1 = self.wallet_raw
        if plan.pool_amount_in > (token0 if plan.sell_pool else token1):
            wallet = token0 if plan.sell_pool else token1
            return Refusal("pool_wallet", f"pool input {plan.pool_amount_in} raw > wallet {wallet} raw")
        if self.cex_check is None:
            return None
        return self.cex_check(plan.cex_side, self.cex_limit_ticks(plan), plan.cex_lots)

    async def pool_price(self) -> float:
        state = await self.pool.read_state()
        return (state.sqrt_price_x96 / 2**96) ** 2 * self.one0 / self.one1

    def gas_quote(self, gas_wei: int, pool_price: float) -> float:
        return gas_wei / 1e18 * (self.gas_token_price_quote or pool_price)

    async def plan_for(self, sell_pool: bool, lots: int, pool_price: float) -> ArbPlan | None:
        """Exact prices of trading `lots` CEX lots against the pool (None: not enough depth)."""
        m, one0, one1, book = self.market, self.one0, self.one1, self.latest_book()
        assert book is not None
        base_raw = int(m.size(lots) * one0)
        fee = float(m.taker_fee_bps) / 1e4
        buffer = self.slippage_buffer_bps / 1e4
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
        gas = self.gas_quote(res.gas_cost_wei, pool_price)
        profit -= cex_notional * buffer + gas
        return ArbPlan(sell_pool, lots, amount_in, amount_out, swept, gas, profit)

    async def _max_lots(self, sell_pool: bool, price: float, max_trade_base: float) -> int:
        """The size cap, and what the wallet can pay for."""
        m = self.market
        max_lots = m.size_to_lots(Decimal(str(max_trade_base)))
        wallet0, wallet1 = self.wallet_raw = await self.pool.wallet_balances()
        if sell_pool:
            return min(max_lots, m.size_to_lots(Decimal(wallet0) / self.one0))
        # the wallet's token1 at the pool price plus the pool fee and a 1 % impact margin
        afford = Decimal(wallet1) / self.one1 / Decimal(price * (1 + self.pool.fee_pips / 1e6) * 1.01)
        return min(max_lots, m.size_to_lots(afford))

    def _cex_cap(self, sell_pool: bool, max_lots: int) -> int:
        """The largest CEX leg risk admits (its limits and free balance), priced at the limit the
        book gives `max_lots`: a smaller buy has a lower limit and fits as well; a smaller sell
        has a higher one, checked again on the plan (best_plan). The venue's minimum is a floor,
        not a cap: it is checked on the plan too."""
        book = self.latest_book()
        if self.cex_check is None or book is None or max_lots <= 0:
            return max_lots
        side = Side.BUY if sell_pool else Side.SELL
        swept = sweep(book.asks if sell_pool else book.bids, max_lots)
        if swept.filled_lots == 0:
            return 0
        limit = slippage_limit_ticks(side, swept.worst_price_ticks, self.slippage_buffer_bps)
        return self._admitted_lots(side, limit, max_lots)

    def _admitted_lots(self, side: Side, limit_ticks: int, max_lots: int) -> int:
        assert self.cex_check is not None
        check = self.cex_check

        def admits(lots: int) -> bool:
            refusal = check(side, limit_ticks, lots)
            return refusal is None or refusal.limit == "min_notional"

        return largest_admissible_lots(admits, max_lots)

    async def _marginal(self, sell_pool: bool, q: int, price: float) -> float:
        """What the q-th lot adds (gas is paid once, so it is left out)."""
        hi = await self.plan_for(sell_pool, q, price)
        if hi is None:
            return -1.0
        lo = await self.plan_for(sell_pool, q - 1, price) if q > 1 else None
        return hi.profit_quote - (lo.profit_quote if lo is not None else -hi.gas_quote)

    async def best_plan(self, max_trade_base: float, min_profit_quote: float) -> ArbPlan | None:
        """The largest size whose last lot still pays, if the whole trade beats `min_profit_quote`."""
        price = await self.pool_price()
        book = self.latest_book()
        assert book is not None
        tick = float(self.market.tick_size)
        if price > book.asks[0][0] * tick:
            sell_pool = True
        elif price < book.bids[0][0] * tick:
            sell_pool = False
        else:
            return None
        high = self._cex_cap(sell_pool, await self._max_lots(sell_pool, price, max_trade_base))
        for _ in range(MAX_RESIZES):
            plan = await self._sized(sell_pool, high, price)
            if plan is None or plan.profit_quote <= min_profit_quote:
                return None
            refusal = self.refusal(plan)
            if refusal is None:
                return plan
            if refusal.limit == "min_notional":
                return None
            high = self._resized(plan, refusal)
        return None

    def _resized(self, plan: ArbPlan, refusal: Refusal) -> int:
        """A smaller cap for a plan one of whose legs does not fit (0: nothing fits)."""
        if refusal.limit == "pool_wallet":  # the exact pool input was over the estimate
            wallet = self.wallet_raw[0 if plan.sell_pool else 1]
            return min(plan.cex_lots - 1, plan.cex_lots * wallet // max(plan.pool_amount_in, 1))
        # a sell's limit falls as its size grows: re-sized at the limit this size is sent at
        return self._admitted_lots(plan.cex_side, self.cex_limit_ticks(plan), plan.cex_lots - 1)

    async def _sized(self, sell_pool: bool, max_lots: int, price: float) -> ArbPlan | None:
        """The plan of the largest size up to `max_lots` whose last lot still pays."""
        low, high = 0, max_lots
        while low < high:  # largest q in [1, max_lots] whose last lot still pays
            mid = (low + high + 1) // 2
            if await self._marginal(sell_pool, mid, price) > 0:
                low = mid
            else:
                high = mid - 1
        return None if low == 0 else await self.plan_for(sell_pool, low, price)
