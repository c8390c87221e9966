"""The one CEX delta hedge every strategy of the fair benchmark gets, with its costs stated.

The bot's band rule (`Hedger.hedge_size`: trade −net Δ once |net Δ| leaves the band) on the LP's
token0 (position + uncollected fees + idle wallet, as the live hedger counts it), filled as a
taker `latency_s` after the decision at the fair price then plus half the spread, plus the taker
fee. Fills and carry go through the live `HedgeBook` (its cost is fee + price vs the decision
mid, so latency and spread count as cost), the carry is a perp's funding charged on |notional|
every block (a spot short's borrow costs the same way). The hedge starts flat (the first check
sells the starting 5 ETH) and is marked at the final fair price, not unwound.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.lp.hedger import HedgeBook, Hedger, HedgerParams


@dataclass(frozen=True, slots=True)
class HedgeCosts:
    taker_fee_bps: float = 4.5  # a perp taker fee (Binance USDⓈ-M VIP 0 with the BNB discount)
    half_spread_bps: float = 1.0  # half the touch spread plus the slippage of a few-ETH order
    funding_per_year: float = 0.10  # funding paid on |notional|: 10 %/yr, conservatively against us
    latency_s: float = 3.0  # pool move seen → hedge filled
    band_token0: float = 0.25  # |net Δ| tolerated, base units (≈ 2.5 % of the 30k capital)
    lot_token0: float = 0.001

    def describe(self) -> str:
        return (
            f"hedge: taker fee {self.taker_fee_bps:g} bp + half spread {self.half_spread_bps:g} bp, "
            f"funding {self.funding_per_year:.0%}/yr on |notional| paid every block, latency "
            f"{self.latency_s:g} s, band ±{self.band_token0:g} ETH, the bot's Hedger band rule"
        )


def hedger_rule(costs: HedgeCosts) -> Hedger:
    params = HedgerParams(
        kind="hedger",
        market="cex:ETH/USDC",
        pools=["uni"],
        band=costs.band_token0,
        min_trade_size=costs.lot_token0,
        max_order_size=1e9,
    )
    return Hedger("bench-hedge", params)


class SimHedge:
    """Band hedge on a simulated CEX: one `check` per block, fills after the latency."""

    def __init__(self, costs: HedgeCosts, rule: Hedger | None = None) -> None:
        self.costs = costs
        self.rule = rule if rule is not None else hedger_rule(costs)
        self.book = HedgeBook()

    def check(self, lp_token0: float, mid: float, fill_mid: float, dt_s: float) -> int:
        """Carry for the last `dt_s`, then the band rule at `mid`; a trade fills at `fill_mid`
        (the fair price `latency_s` later) ± half spread. Returns the lots traded (+ bought)."""
        c, book = self.costs, self.book
        book.accrue_carry(mid, c.funding_per_year, dt_s)
        net = self.rule.params.hedge_ratio * lp_token0 + book.position
        lots = self.rule.hedge_size(net, c.lot_token0)
        if lots == 0:
            return 0
        sign = 1 if lots > 0 else -1
        size = abs(lots) * c.lot_token0
        price = fill_mid * (1 + sign * c.half_spread_bps / 1e4)
        book.record_fill(sign, size, price, size * price * c.taker_fee_bps / 1e4, mid)
        return lots
