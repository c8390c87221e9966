"""Pre-trade risk checks: pure functions, one refusal reason or None."""

from __future__ import annotations

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
) -> str | None:
    notional = market.notional(price_ticks, size_lots)
    if notional > limits.max_order_notional:
        return f"order notional {notional} > max_order_notional {limits.max_order_notional}"
    if notional < market.min_notional:
        return f"order notional {notional} < venue min_notional {market.min_notional}"
    if open_orders >= limits.max_open_orders:
        return f"open orders {open_orders} at max_open_orders {limits.max_open_orders}"
    if side is Side.BUY:
        worst = exposure.position_lots + exposure.open_buy_lots + size_lots
        if worst > exposure.max_position_lots:
            return f"position would reach {worst} lots > max {exposure.max_position_lots}"
        if worst > 0 and total_position_notional + notional > limits.max_total_position_notional:
            return f"total position notional would exceed {limits.max_total_position_notional}"
        lock = notional * (1 + max(market.maker_fee_bps, market.taker_fee_bps, Decimal(0)) / 10_000)
        if lock > free_quote:
            return f"needs {lock} {market.quote}, free {free_quote}"
    else:
        worst = exposure.position_lots - exposure.open_sell_lots - size_lots
        if worst < -exposure.max_position_lots:
            return f"position would reach {worst} lots < -max {exposure.max_position_lots}"
        if worst < 0 and total_position_notional + notional > limits.max_total_position_notional:
            return f"total position notional would exceed {limits.max_total_position_notional}"
        if market.size(size_lots) > free_base:
            return f"needs {market.size(size_lots)} {market.base}, free {free_base}"
    return None
