"""ccxt's unified structures to our domain types, exactly: ticks and lots from decimal strings.

ccxt hands numbers over as floats. Every float here came from a short decimal string on the wire,
and `repr` gives that string back, so `Decimal(repr(x))` recovers it without binary drift.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import ccxt

from bot.core.domain import Balance, Fill, Market, OrderState, Side
from bot.core.events import BookSnapshot, OrderUpdate, PublicTrade

log = logging.getLogger("mmbot.ccxt")

NS_PER_MS = 1_000_000

_STATUS = {
    "open": OrderState.OPEN,
    "closed": OrderState.FILLED,
    "canceled": OrderState.CANCELLED,
    "cancelled": OrderState.CANCELLED,
    "canceling": OrderState.PENDING_CANCEL,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}


def plain(value: Decimal) -> Decimal:
    """Trailing zeros dropped without going to an exponent: 5.0 -> 5, 10 stays 10 (not 1E+1)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal from what ccxt returns (float, int, numeric string)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def precision_step(value: Any, precision_mode: int) -> Decimal | None:
    """Tick or lot size from a ccxt precision entry; None when it has none or it is not a grid."""
    if value is None:
        return None
    if precision_mode == ccxt.TICK_SIZE:
        step = to_decimal(value)
    elif precision_mode == ccxt.DECIMAL_PLACES:
        places = to_decimal(value)
        if places != places.to_integral_value():
            return None
        step = Decimal(1).scaleb(-int(places))
    else:  # SIGNIFICANT_DIGITS: the grid depends on the price, not representable as one tick
        return None
    return plain(step) if step > 0 else None


def to_market(venue: str, ccxt_market: Mapping[str, Any], precision_mode: int) -> Market | None:
    """Our Market for a ccxt market; None (logged) when its precision gives no fixed grid."""
    symbol = ccxt_market["symbol"]
    precision = ccxt_market.get("precision") or {}
    tick = precision_step(precision.get("price"), precision_mode)
    lot = precision_step(precision.get("amount"), precision_mode)
    if tick is None or lot is None:
        log.debug("%s: skipped %s: precision %r gives no fixed tick/lot grid", venue, symbol, precision)
        return None
    cost_min = ((ccxt_market.get("limits") or {}).get("cost") or {}).get("min")
    maker = ccxt_market.get("maker")
    taker = ccxt_market.get("taker")
    return Market(
        venue=venue,
        symbol=symbol,
        base=ccxt_market["base"],
        quote=ccxt_market["quote"],
        tick_size=tick,
        lot_size=lot,
        min_notional=plain(to_decimal(cost_min)) if cost_min is not None else Decimal(0),
        maker_fee_bps=plain(to_decimal(maker) * 10_000) if maker is not None else Decimal(0),
        taker_fee_bps=plain(to_decimal(taker) * 10_000) if taker is not None else Decimal(0),
    )


def grid_units(value: Any, step: Decimal) -> int:
    """Nearest whole number of `step` in a ccxt number (prices to ticks, amounts to lots)."""
    if value is None:
        return 0
    return int((to_decimal(value) / step).to_integral_value(rounding=ROUND_HALF_EVEN))


def ms_to_ns(ms: Any, default_ns: int) -> int:
    return int(ms) * NS_PER_MS if ms is not None else default_ns


def _levels(side: Any, tick: float, lot: float, depth: int) -> tuple[tuple[int, int], ...]:
    # Hot path: float division is correctly rounded, and round() snaps 10000.999999 to the grid.
    return tuple((round(level[0] / tick), round(level[1] / lot)) for level in side[:depth])


def to_book_snapshot(market: Market, book: Mapping[str, Any], depth: int, local_ns: int) -> BookSnapshot:
    tick = float(market.tick_size)
    lot = float(market.lot_size)
    return BookSnapshot(
        venue=market.venue,
        symbol=market.symbol,
        bids=_levels(book["bids"], tick, lot, depth),
        asks=_levels(book["asks"], tick, lot, depth),
        exchange_ts_ns=ms_to_ns(book.get("timestamp"), local_ns),
        local_ts_ns=local_ns,
    )


def to_public_trade(market: Market, trade: Mapping[str, Any], local_ns: int) -> PublicTrade:
    return PublicTrade(
        venue=market.venue,
        symbol=market.symbol,
        aggressor=Side(trade["side"]),
        price_ticks=round(trade["price"] / float(market.tick_size)),
        size_lots=round(trade["amount"] / float(market.lot_size)),
        exchange_ts_ns=ms_to_ns(trade.get("timestamp"), local_ns),
        local_ts_ns=local_ns,
    )


def order_state(order: Mapping[str, Any]) -> OrderState:
    status = order.get("status")
    state = _STATUS.get(status) if isinstance(status, str) else None
    if state is None:
        return OrderState.OPEN
    filled = order.get("filled")
    if state is OrderState.OPEN and filled:
        return OrderState.PARTIALLY_FILLED
    return state


def to_order_update(market: Market, order: Mapping[str, Any], local_ns: int) -> OrderUpdate:
    ts = order.get("lastUpdateTimestamp") or order.get("lastTradeTimestamp") or order.get("timestamp")
    venue_id = order.get("id")
    return OrderUpdate(
        venue=market.venue,
        symbol=market.symbol,
        client_order_id=order.get("clientOrderId") or "",
        venue_order_id=str(venue_id) if venue_id is not None else None,
        state=order_state(order),
        side=Side(order["side"]),
        price_ticks=grid_units(order.get("price"), market.tick_size),
        size_lots=grid_units(order.get("amount"), market.lot_size),
        filled_lots=grid_units(order.get("filled"), market.lot_size),
        exchange_ts_ns=ms_to_ns(ts, local_ns),
    )


def to_fill(market: Market, trade: Mapping[str, Any], client_order_id: str, local_ns: int) -> Fill:
    fee = trade.get("fee") or {}
    cost = fee.get("cost")
    return Fill(
        venue=market.venue,
        symbol=market.symbol,
        venue_trade_id=str(trade["id"]),
        venue_order_id=str(trade.get("order") or ""),
        client_order_id=client_order_id,
        side=Side(trade["side"]),
        price_ticks=grid_units(trade.get("price"), market.tick_size),
        size_lots=grid_units(trade.get("amount"), market.lot_size),
        fee=to_decimal(cost) if cost is not None else Decimal(0),
        fee_asset=fee.get("currency") or market.quote,
        is_maker=trade.get("takerOrMaker") == "maker",
        exchange_ts_ns=ms_to_ns(trade.get("timestamp"), local_ns),
    )


def trade_client_order_id(trade: Mapping[str, Any]) -> str | None:
    """The client order id a trade carries, when the exchange puts it there (unified or raw)."""
    cid = trade.get("clientOrderId")
    if cid:
        return str(cid)
    info = trade.get("info")
    if isinstance(info, Mapping):
        for key in ("clientOrderId", "c", "clOrdId", "client_oid", "clientOid"):
            value = info.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def to_balances(balance: Mapping[str, Any]) -> dict[str, Balance]:
    """Assets of a ccxt balance structure (its per-asset entries {free, used, total})."""
    out: dict[str, Balance] = {}
    skip = {"info", "free", "used", "total", "timestamp", "datetime", "debt"}
    for asset, entry in balance.items():
        if asset in skip or not isinstance(entry, Mapping):
            continue
        free = entry.get("free")
        used = entry.get("used")
        if free is None and used is None:
            continue
        out[asset] = Balance(
            asset,
            plain(to_decimal(free)) if free is not None else Decimal(0),
            plain(to_decimal(used)) if used is not None else Decimal(0),
        )
    return out
