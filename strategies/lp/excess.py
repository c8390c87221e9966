"""Where the LP manager trades a new range's excess token: in the pool, or on a CEX market.

Opening a range needs the wallet's tokens in the range's ratio. The pool route swaps the excess
in the pool; its cost is the pool's exact multi-tick swap output against the fair price (fee and
price impact) plus the swap's gas. The CEX route mints without a swap, using the wallet's tokens
at the range ratio (the surplus stays idle in the pool wallet, so the position is smaller by the
surplus's value), and trades the same amount on the CEX market with an IOC within the slippage
limit, so the operator's combined inventory (pool wallet + position + CEX account) ends where the
pool swap would have put it. Its cost is the executable VWAP of the book for that size against
the fair price plus the taker fee. The pool wallet and the CEX account stay separate: no transfer
between them is modelled. The CEX quote currency counts one for one as token1 (the fair price is
read in it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from bot.core.domain import Market, Side
from bot.core.events import BookSnapshot, FillEvent
from strategies.lp.ranges import split_for_range
from strategies.xvenue.book_vwap import sweep
from strategies.xvenue.hedging import HedgeExecutor, slippage_limit_ticks

if TYPE_CHECKING:
    from bot.core.events import VenueEvent
    from bot.kernel.order_manager import OrderManager
    from strategies.xvenue.store import XvenueLedger

ExcessSwapVenue = Literal["pool", "cex", "cheapest"]
Route = Literal["pool", "cex"]
CEX_MAX_ATTEMPTS = 3
CEX_RETRY_DELAY_S = 0.2


@dataclass(frozen=True, slots=True)
class Excess:
    """The surplus a range's ratio leaves: `amount_in` human units of token0 (zero_for_one) or token1."""

    zero_for_one: bool
    amount_in: float
    value_token1: float

    @classmethod
    def for_range(
        cls, wallet0: float, wallet1: float, fair: float, price_lower: float, price_upper: float
    ) -> Excess:
        zero_for_one, amount_in = split_for_range(wallet0, wallet1, fair, price_lower, price_upper)
        return cls(zero_for_one, amount_in, amount_in * (fair if zero_for_one else 1.0))


@dataclass(frozen=True, slots=True)
class CexQuote:
    """Taking `size_lots` from the book now: cost in token1 (inf when the book cannot fill it)."""

    side: Side
    size_lots: int
    vwap: float  # quote per base; NaN when not executable
    cost_token1: float


@dataclass(frozen=True, slots=True)
class RouteCosts:
    pool_token1: float
    cex_token1: float  # inf: no CEX route configured, no book yet, or too thin within the limit
    excess_value_token1: float

    def pick(self, mode: ExcessSwapVenue) -> Route:
        """The configured route; "cex" falls back to the pool while the CEX cannot fill the size."""
        if mode == "pool" or not math.isfinite(self.cex_token1):
            return "pool"
        if mode == "cex":
            return "cex"
        return "cex" if self.cex_token1 < self.pool_token1 else "pool"

    def cost(self, mode: ExcessSwapVenue) -> float:
        return self.cex_token1 if self.pick(mode) == "cex" else self.pool_token1

    def numbers(self, mode: ExcessSwapVenue) -> dict[str, float]:
        """For the decision log: both costs (-1 when the CEX cannot fill) and the choice (1 = CEX)."""
        return {
            "excess_value_token1": self.excess_value_token1,
            "swap_cost_pool_token1": self.pool_token1,
            "swap_cost_cex_token1": self.cex_token1 if math.isfinite(self.cex_token1) else -1.0,
            "excess_on_cex": 1.0 if self.pick(mode) == "cex" else 0.0,
        }


def cex_quote(
    book: BookSnapshot | None, market: Market, excess: Excess, fair: float, max_slippage_bps: float
) -> CexQuote:
    """Sell the surplus token0, or buy token0 with the surplus token1, sweeping the book within
    `max_slippage_bps` of fair: VWAP vs fair plus the taker fee, in token1."""
    side = Side.SELL if excess.zero_for_one else Side.BUY
    base = excess.amount_in if excess.zero_for_one else excess.amount_in / fair
    lot, tick = float(market.lot_size), float(market.tick_size)
    lots = round(base / lot)
    if book is None or lots <= 0:
        return CexQuote(side, lots, math.nan, math.inf if lots > 0 else 0.0)
    limit = slippage_limit_ticks(side, fair / tick, max_slippage_bps)
    if side is Side.SELL:
        levels = [lv for lv in book.bids if lv[0] >= limit]
    else:
        levels = [lv for lv in book.asks if lv[0] <= limit]
    taken = sweep(levels, lots)
    if taken.filled_lots < lots:
        return CexQuote(side, lots, math.nan, math.inf)
    notional = taken.notional_ticks_lots * tick * lot
    fee = notional * float(market.taker_fee_bps) / 1e4
    fair_value = lots * lot * fair
    slip = fair_value - notional if side is Side.SELL else notional - fair_value
    return CexQuote(side, lots, taken.vwap_ticks * tick, max(slip, 0.0) + fee)


@dataclass(frozen=True, slots=True)
class CexLeg:
    """What the IOC leg did: base and quote units of the market, cost against fair in token1."""

    side: Side
    requested_lots: int
    filled_lots: int
    base: Decimal
    notional: Decimal
    fees: Decimal
    cost_token1: float


class CexExcessRoute:
    """The CEX market an LP manager may trade its excess on: latest book, IOC execution."""

    def __init__(
        self, orders: OrderManager, ledger: XvenueLedger, slot: int, market: Market, max_slippage_bps: float
    ) -> None:
        self.slot, self.market, self.max_slippage_bps = slot, market, max_slippage_bps
        self.executor = HedgeExecutor(orders, ledger)
        self.book: BookSnapshot | None = None

    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, BookSnapshot):
            if (event.venue, event.symbol) == (self.market.venue, self.market.symbol):
                self.book = event
        elif isinstance(event, FillEvent) and event.fill.venue == self.market.venue:
            self.executor.fill_arrived()

    def quote(self, excess: Excess, fair: float) -> CexQuote:
        return cex_quote(self.book, self.market, excess, fair, self.max_slippage_bps)

    async def execute(self, quote: CexQuote, fair: float) -> CexLeg:
        result = await self.executor.execute(
            self.slot,
            quote.side,
            quote.size_lots,
            fair / float(self.market.tick_size),
            max_slippage_bps=self.max_slippage_bps,
            max_attempts=CEX_MAX_ATTEMPTS,
            retry_delay_s=CEX_RETRY_DELAY_S,
        )
        base = self.market.size(result.filled_lots)
        fair_value = float(base) * fair
        notional = float(result.notional)
        slip = fair_value - notional if quote.side is Side.SELL else notional - fair_value
        return CexLeg(
            quote.side,
            quote.size_lots,
            result.filled_lots,
            base,
            result.notional,
            result.fees,
            slip + float(result.fees),
        )
