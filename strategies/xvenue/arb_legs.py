"""The legs of a CEX<->AMM arbitrage: what they moved, and the reverse swap that unwinds a pool leg.

`LegFlows` sums what every executed leg (and unwind) moved, in raw pool tokens and CEX base/quote,
so one mark-to-market gives the realised profit of a trade whatever happened to it. A pool leg is
unwound with an exact-input swap the other way whose price is bounded against the leg's own
price: the bound is checked on the quote and enforced by the swap's minimum output.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

from amm.ports import AmmPool, SwapResult

log = logging.getLogger("mmbot.arb")

# the pool's output is nearly linear in its input: a few proportional corrections reach a target
MAX_INPUT_CORRECTIONS = 8


@dataclass(slots=True)
class LegFlows:
    """Signed amounts a trade moved (+ = received): raw pool tokens, CEX base and quote units, gas."""

    token0_raw: int = 0
    token1_raw: int = 0
    cex_base: Decimal = Decimal(0)
    cex_quote: Decimal = Decimal(0)
    gas_wei: int = 0

    def pool_swap(self, zero_for_one: bool, swap: SwapResult) -> None:
        if zero_for_one:
            self.token0_raw -= swap.amount_in
            self.token1_raw += swap.amount_out
        else:
            self.token1_raw -= swap.amount_in
            self.token0_raw += swap.amount_out
        self.gas_wei += swap.gas_cost_wei

    def cex_fill(self, buy: bool, size_base: Decimal, notional: Decimal, fees: Decimal) -> None:
        sign = 1 if buy else -1
        self.cex_base += sign * size_base
        self.cex_quote -= sign * notional + fees

    def value_quote(self, one0: int, one1: int, base_price: float, gas_quote: float) -> float:
        """Quote received, plus the base left over marked at `base_price`, minus gas."""
        base = self.token0_raw / one0 + float(self.cex_base)
        return self.token1_raw / one1 + float(self.cex_quote) + base * base_price - gas_quote


async def token1_in_for(pool: AmmPool, base_raw: int, price: float) -> SwapResult | None:
    """The smallest exact token1 input (found by a few corrections) whose swap yields >= base_raw token0."""
    one0, one1 = 10**pool.token0.decimals, 10**pool.token1.decimals
    amount_in = int(base_raw * price * one1 / one0) + 1
    res = await pool.quote_exact_input(False, amount_in)
    for _ in range(MAX_INPUT_CORRECTIONS):
        if res.amount_out >= base_raw:
            return res
        amount_in = amount_in * base_raw // max(res.amount_out, 1) + 1
        res = await pool.quote_exact_input(False, amount_in)
    return res if res.amount_out >= base_raw else None


async def unwind_pool(
    pool: AmmPool,
    base_raw: int,
    buy_base: bool,
    leg_price: float,
    *,
    max_slippage_bps: float,
    max_attempts: int,
    retry_delay_s: float,
    deadline_s: float,
) -> tuple[SwapResult | None, str]:
    """Swap `base_raw` token0 back (bought with token1 if `buy_base`, else sold for token1).

    The price per token0 may be at most `max_slippage_bps` worse than `leg_price` (token1 per
    token0, human units). Retried on a failed swap until `max_attempts` or the deadline; returns
    the swap, or None and why the last attempt failed.
    """
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + deadline_s
    one0, one1 = 10**pool.token0.decimals, 10**pool.token1.decimals
    slip = max_slippage_bps / 1e4
    why = "no attempt"
    for attempt in range(max_attempts):
        if attempt:
            if loop.time() + retry_delay_s > stop_at:
                break
            await asyncio.sleep(retry_delay_s)
        try:
            if buy_base:
                quote = await token1_in_for(pool, base_raw, leg_price)
                worst_in = int(base_raw / one0 * leg_price * (1 + slip) * one1)
                if quote is None or quote.amount_in > worst_in:
                    paid = "no depth" if quote is None else f"{quote.amount_in} token1 raw"
                    why = f"buying back {base_raw} token0 raw needs {paid}, the limit is {worst_in}"
                    continue
                return await pool.swap_exact_input(False, quote.amount_in, base_raw), ""
            out_min = int(base_raw / one0 * leg_price * (1 - slip) * one1)
            return await pool.swap_exact_input(True, base_raw, out_min), ""
        except Exception as exc:  # a revert or a refused swap: the pool says why
            why = f"{type(exc).__name__}: {exc}"
            log.warning("arb unwind swap attempt %d failed: %s", attempt + 1, why)
    return None, why
