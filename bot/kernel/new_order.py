"""An order to send, before it has an id: what the order diff and active strategies submit.

`OrderManager.submit` turns each into an `OrderRequest` (client id, venue, symbol) once risk
allowed it. Quotes rest post-only; hedges and arbitrage legs are immediate-or-cancel; a plain
limit order may rest or take (the LP hedger's taker fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.domain import Side


class TimeInForce(StrEnum):
    POST_ONLY = "post_only"  # rests as maker or is rejected
    GTC = "gtc"  # takes what crosses, rests the rest
    IOC = "ioc"  # takes what crosses, expires the rest: never rests


@dataclass(frozen=True, slots=True)
class NewOrder:
    side: Side
    price_ticks: int
    size_lots: int
    time_in_force: TimeInForce = TimeInForce.POST_ONLY
    # Closes a position held elsewhere (an XEMM hedge, an arbitrage unwind): no gross or shared
    # risk limit refuses it (bot.kernel.risk).
    reduces_exposure: bool = False

    @property
    def rests(self) -> bool:
        """Whether it can rest on the book (a self-trade with our other venues is possible)."""
        return self.time_in_force is not TimeInForce.IOC

    @property
    def takes(self) -> bool:
        """Whether it may trade on arrival (against our own resting orders too, if we let it)."""
        return self.time_in_force is not TimeInForce.POST_ONLY
