"""A new range's excess token: what each route would cost, and the swap itself (pool or CEX leg).

The CEX legs leave their surplus idle in the pool wallet while the exchange account moves; that
offset counts in every later excess, so a surplus traded once on the CEX is not traded again.
"""

from __future__ import annotations

import logging
import math

from amm.ports import AmmPool, SwapResult
from strategies.lp.bounds import swap_price_limit
from strategies.lp.excess import CexExcessRoute, Excess, RouteCosts
from strategies.lp.ledger import PoolLedger
from strategies.lp.params import LpManagerParams

log = logging.getLogger("mmbot.lp")


class ExcessSwaps:
    """Prices and trades a new range's excess, on the pool or (when configured) the CEX route."""

    def __init__(
        self, pool: AmmPool, params: LpManagerParams, ledger: PoolLedger, cex: CexExcessRoute | None
    ) -> None:
        self.pool, self.params, self.ledger = pool, params, ledger
        self.cex = cex  # the CEX route of the excess swap (None: pool only)
        self.d0, self.d1 = ledger.d0, ledger.d1
        # What the CEX legs moved on the exchange against the surplus they left idle in the wallet.
        self.cex_offset = ledger.store.cex_leg_offset(ledger.strategy, ledger.pool_name)

    def waiting_for_cex_book(self) -> bool:
        """The CEX route is configured but its book not seen yet: no route can be priced."""
        return self.cex is not None and self.cex.book is None

    async def wallet_human(self) -> tuple[float, float]:
        w0, w1 = await self.pool.wallet_balances()
        return w0 / 10.0**self.d0, w1 / 10.0**self.d1

    async def holdings_human(self) -> tuple[float, float]:
        """The pool wallet plus what the CEX legs of earlier openings moved on the exchange."""
        w0, w1 = await self.wallet_human()
        return w0 + self.cex_offset[0], w1 + self.cex_offset[1]

    def _raw_in(self, excess: Excess) -> int:
        return int(excess.amount_in * 10.0 ** (self.d0 if excess.zero_for_one else self.d1))

    def value_out_token1(self, zero_for_one: bool, amount_out_raw: int, fair: float) -> float:
        out = amount_out_raw / 10.0 ** (self.d1 if zero_for_one else self.d0)
        return out * (1.0 if zero_for_one else fair)

    def swap_cost_token1(self, zero_for_one: bool, raw_in: int, raw_out: int, fair: float) -> float:
        """A filled swap's cost vs fair: what went in less what came out, both at fair (what went
        in, not the excess planned: a fill cut short by its price limit swapped less)."""
        value_in = self.value_out_token1(not zero_for_one, raw_in, fair)
        return value_in - self.value_out_token1(zero_for_one, raw_out, fair)

    async def _pool_swap_cost(self, excess: Excess, fair: float, out_scale: float) -> float:
        """The pool's exact multi-tick output for the excess (× `out_scale`) vs fair (fee + impact)
        + swap gas."""
        quote = await self.pool.quote_exact_input(excess.zero_for_one, self._raw_in(excess))
        value_out = self.value_out_token1(excess.zero_for_one, quote.amount_out, fair) * out_scale
        # A pool lagging fair can quote better than fair: never count that as negative cost.
        return max(excess.value_token1 - value_out, 0.0) + self.ledger.gas_token1(quote.gas_cost_wei, fair)

    async def route_costs(self, excess: Excess, fair: float, pool_out_scale: float = 1.0) -> RouteCosts:
        """Both routes' cost for the excess (none below `min_swap_token1`: no swap at all).
        `pool_out_scale`: the pool's quoted output valued that much higher, for a swap expected to
        fill from a better price than the pool's now (a recentre's: `PoolMeter`)."""
        if excess.value_token1 < self.params.min_swap_token1:
            return RouteCosts(0.0, 0.0 if self.cex is not None else math.inf, excess.value_token1)
        pool_cost = await self._pool_swap_cost(excess, fair, pool_out_scale)
        cex_cost = math.inf if self.cex is None else self.cex.quote(excess, fair).cost_token1
        return RouteCosts(pool_cost, cex_cost, excess.value_token1)

    def cex_can_take(self, excess: Excess, fair: float) -> bool:
        return self.cex is not None and math.isfinite(self.cex.quote(excess, fair).cost_token1)

    async def pool_swap(self, excess: Excess, fair: float) -> SwapResult:
        """Swap the excess in the pool (the caller books it: gas, swap row, cost vs fair)."""
        zero_for_one = excess.zero_for_one
        raw_in = min(self._raw_in(excess), (await self.pool.wallet_balances())[0 if zero_for_one else 1])
        # Bounded by the fair, not by the block's price: the swap fills nothing past fair ∓ slippage
        # (a partial fill when its own impact reaches there; refused when the pool is already past).
        limit = swap_price_limit(zero_for_one, fair, self.params.slippage_bps, self.d0, self.d1)
        quote = await self.pool.quote_exact_input(zero_for_one, raw_in, limit)
        min_out = int(quote.amount_out * (1 - self.params.slippage_bps / 1e4))
        return await self.pool.swap_exact_input(zero_for_one, raw_in, min_out, limit)

    async def cex_swap(self, excess: Excess, fair: float, now_ns: int) -> float:
        """Trade the surplus on the CEX (IOC within `slippage_bps` of fair); returns its cost."""
        assert self.cex is not None
        quote = self.cex.quote(excess, fair)
        leg = await self.cex.execute(quote, fair)
        if leg.filled_lots < leg.requested_lots:
            log.warning(
                "%s/%s: CEX leg filled %d of %d lots within %.1f bp: the rest of the surplus stays idle",
                self.ledger.strategy,
                self.ledger.pool_name,
                leg.filled_lots,
                leg.requested_lots,
                self.params.slippage_bps,
            )
        if leg.filled_lots == 0:
            return 0.0
        if excess.zero_for_one:  # sold base: base in, quote (net of the fee) out
            amount_in, amount_out = leg.base, leg.notional - leg.fees
        else:
            amount_in, amount_out = leg.notional + leg.fees, leg.base
        self.ledger.swap(
            now_ns, self.cex.market.key, excess.zero_for_one, amount_in, amount_out, leg.cost_token1
        )
        d0, d1 = float(amount_in), float(amount_out)
        if excess.zero_for_one:
            self.cex_offset = (self.cex_offset[0] - d0, self.cex_offset[1] + d1)
        else:
            self.cex_offset = (self.cex_offset[0] + d1, self.cex_offset[1] - d0)
        return leg.cost_token1
