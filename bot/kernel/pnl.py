"""Mark-to-market PnL per market from fills: cash flow in quote plus position at the mid."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import Side


@dataclass(slots=True)
class MarketPnl:
    base: str
    quote: str
    position_base: Decimal = Decimal(0)
    cash_quote: Decimal = Decimal(0)  # sells − buys − fees paid in quote
    fees_quote: Decimal = Decimal(0)
    volume_quote: Decimal = Decimal(0)
    fills: int = 0

    def apply_fill(self, side: Side, price: Decimal, size: Decimal, fee: Decimal, fee_asset: str) -> None:
        notional = price * size
        self.position_base += size if side is Side.BUY else -size
        self.cash_quote += -notional if side is Side.BUY else notional
        fee_quote = (
            fee if fee_asset == self.quote else (fee * price if fee_asset == self.base else Decimal(0))
        )
        if fee_asset == self.base:
            self.position_base -= fee
        else:
            self.cash_quote -= fee_quote
        self.fees_quote += fee_quote
        self.volume_quote += notional
        self.fills += 1

    def pnl_at(self, mid: Decimal) -> Decimal:
        return self.cash_quote + self.position_base * mid
