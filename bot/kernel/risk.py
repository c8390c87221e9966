"""Pre-trade risk checks: pure functions, one refusal (the limit named) or None.

The checks know the direction of an order. One that reduces exposure is never refused by a
gross or shared limit (`max_position`, whose headroom another strategy's orders on the market may
take, `max_total_position_notional`, `max_open_orders`): refusing a hedge or an unwind leaves the
position it was meant to close naked. An order reduces exposure when its own fill moves the
market's position toward zero (and so the gross position notional down), or when its sender says
so (`reduces_exposure`: an XEMM hedge or an arbitrage unwind closes a position held on another
venue). Per-order sanity (`max_order_notional`), the venue's minimum and the free balance still
apply: an order the venue cannot take is refused whatever it is for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import Market, Side


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_notional: Decimal
    max_total_position_notional: Decimal
    max_open_orders: int


@dataclass(frozen=True, slots=True)
class Exposure:
    """What one market already commits, in lots, when a new order is considered."""

    position_lots: int
    open_buy_lots: int
    open_sell_lots: int
    max_position_lots: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order is refused: the limit (a config field or venue rule) and the numbers."""

    limit: str  # "max_order_notional", "min_notional", "max_open_orders", "max_position",
    # "max_total_position_notional", "free_balance"
    message: str

    def __str__(self) -> str:
        return f"{self.limit}: {self.message}"


def reduces_position(position_lots: int, side: Side, size_lots: int) -> bool:
    """Whether filling the order moves the position strictly toward zero (|after| < |before|)."""
    return abs(position_lots + side.sign * size_lots) < abs(position_lots)


def refuse_reason(
    market: Market,
    side: Side,
    price_ticks: int,
    size_lots: int,
    exposure: Exposure,
    limits: RiskLimits,
    *,
    open_orders: int,
    total_position_notional: Decimal,
    free_quote: Decimal,
    free_base: Decimal,
    reduces_exposure: bool = False,
) -> Refusal | None:
    """The first limit the order breaks, or None. `reduces_exposure`: the sender closes a position
    held elsewhere (a hedge, an unwind): no gross or shared limit applies; an order whose own fill
    moves the position toward zero skips the position limits (it still counts as an open order)."""
    notional = market.notional(price_ticks, size_lots)
    if notional > limits.max_order_notional:
        return Refusal("max_order_notional", f"order notional {notional} > {limits.max_order_notional}")
    if notional < market.min_notional:
        return Refusal(
            "min_notional", f"order notional {notional} < venue min_notional {market.min_notional}"
        )
    if not reduces_exposure and open_orders >= limits.max_open_orders:
        # a hedge or an unwind is never one too many; anything else is (the count is a runaway fuse)
        return Refusal("max_open_orders", f"open orders {open_orders} at {limits.max_open_orders}")
    if not reduces_exposure and not reduces_position(exposure.position_lots, side, size_lots):
        refusal = _position_refusal(side, size_lots, notional, exposure, limits, total_position_notional)
        if refusal is not None:
            return refusal
    if side is Side.BUY:
        lock = notional * (1 + max(market.maker_fee_bps, market.taker_fee_bps, Decimal(0)) / 10_000)
        if lock > free_quote:
            return Refusal("free_balance", f"needs {lock} {market.quote}, free {free_quote}")
    elif market.size(size_lots) > free_base:
        return Refusal("free_balance", f"needs {market.size(size_lots)} {market.base}, free {free_base}")
    return None


def _position_refusal(
    side: Side,
    size_lots: int,
    notional: Decimal,
    exposure: Exposure,
    limits: RiskLimits,
    total_position_notional: Decimal,
) -> Refusal | None:
    """The position limits of an order that adds exposure: the worst case counts our open orders
    on its side (every one of them filled)."""
    if side is Side.BUY:
        worst = exposure.position_lots + exposure.open_buy_lots + size_lots
        if worst > exposure.max_position_lots:
            return Refusal(
                "max_position", f"position would reach {worst} lots > {exposure.max_position_lots}"
            )
        adds = worst > 0
    else:
        worst = exposure.position_lots - exposure.open_sell_lots - size_lots
        if worst < -exposure.max_position_lots:
            return Refusal(
                "max_position", f"position would reach {worst} lots < -{exposure.max_position_lots}"
            )
        adds = worst < 0
    if adds and total_position_notional + notional > limits.max_total_position_notional:
        return Refusal(
            "max_total_position_notional",
            f"{total_position_notional} + {notional} > {limits.max_total_position_notional}",
        )
    return None


def largest_admissible_lots(admits: Callable[[int], bool], upper_lots: int) -> int:
    """The largest size in [0, upper_lots] that `admits` (a risk check that is monotone: every
    upper limit admits a smaller size when it admits a larger one), by bisection."""
    low, high = 0, upper_lots
    while low < high:
        mid = (low + high + 1) // 2
        if admits(mid):
            low = mid
        else:
            high = mid - 1
    return low
