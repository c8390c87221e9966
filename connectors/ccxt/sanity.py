"""Checks of what ccxt parsed from a venue message before it becomes a domain event.

ccxt passes through whatever the exchange sent once it parses: a negative or NaN price, a level
at 1e300, a book update that crosses the book, a fill without a side. Each check returns None
for a sane structure, else a short reason; the caller logs one WARNING naming the message and
skips it (REST catch-up or a book resync restores the truth), so nothing absurd reaches the book,
the order manager or the store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

log = logging.getLogger("mmbot.ccxt")

# Ticks and lots stay exact in float64 (the vectorized core) and in int64 arrays below this.
MAX_UNITS = 2**53
_SIDES = ("buy", "sell")
_SHOWN_CHARS = 200


def _number(value: Any) -> float | None:
    """A finite float of a ccxt number (float, int, numeric string), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(Decimal(str(value))) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: Any, step: float, name: str) -> str | None:
    number = _number(value)
    if number is None or number <= 0:
        return f"{name} {value!r} is not a positive number"
    if number / step >= MAX_UNITS:
        return f"{name} {value!r} is out of range"
    return None


def book_problem(book: Mapping[str, Any], depth: int, tick: float, lot: float) -> str | None:
    """The top `depth` levels a BookSnapshot would carry: positive, in range, not crossed."""
    sides = []
    for name in ("bids", "asks"):
        levels = book.get(name)
        if not isinstance(levels, list | tuple):
            return f"{name} is not a list of levels"
        top = levels[:depth]
        for level in top:
            if not isinstance(level, list | tuple) or len(level) < 2:
                return f"{name} level {level!r} is not [price, size]"
            problem = _positive(level[0], tick, "price") or _positive(level[1], lot, "size")
            if problem:
                return f"{name}: {problem}"
        sides.append(top)
    bids, asks = sides
    if bids and asks and float(bids[0][0]) >= float(asks[0][0]):
        return f"crossed: best bid {bids[0][0]} >= best ask {asks[0][0]}"
    return None


def trade_problem(trade: Mapping[str, Any], tick: float, lot: float) -> str | None:
    """A public trade or one of ours: a side, a positive price and amount, a finite fee."""
    if trade.get("side") not in _SIDES:
        return f"side {trade.get('side')!r} is not buy or sell"
    problem = _positive(trade.get("price"), tick, "price") or _positive(trade.get("amount"), lot, "amount")
    if problem:
        return problem
    fee = trade.get("fee")
    if isinstance(fee, Mapping) and fee.get("cost") is not None and _number(fee["cost"]) is None:
        return f"fee {fee['cost']!r} is not a number"
    return None


def fee_problem(trade: Mapping[str, Any]) -> str | None:
    """The fee a trade from the stream must carry to be stored: a finite cost, and its asset unless 0.

    ccxt turns a fee it cannot read (cost "abc") into `{"cost": None, "currency": None}`, the same
    structure as no fee at all; stored, that is a fill with fee 0 the venue contradicts. From the
    stream such a trade is held back: the venue's REST record of it is stored instead.
    """
    fee = trade.get("fee")
    cost = fee.get("cost") if isinstance(fee, Mapping) else None
    number = _number(cost)
    if number is None:
        return f"fee {cost!r} is not a number"
    currency = fee.get("currency") if isinstance(fee, Mapping) else None
    if number != 0 and not (isinstance(currency, str) and currency):
        return f"fee {cost!r} has no asset"
    return None


def order_problem(order: Mapping[str, Any], tick: float, lot: float) -> str | None:
    """One of our orders: side, a positive amount, a price (0/None for market orders), filled <= amount."""
    if order.get("side") not in _SIDES:
        return f"side {order.get('side')!r} is not buy or sell"
    problem = _positive(order.get("amount"), lot, "amount")
    if problem:
        return problem
    price = order.get("price")
    if price is not None and price != 0 and (problem := _positive(price, tick, "price")):
        return problem
    filled = order.get("filled")
    if filled is not None:
        number = _number(filled)
        if number is None or number < 0 or number > float(order["amount"]) * (1 + 1e-9):
            return f"filled {filled!r} is not between 0 and the amount {order['amount']!r}"
    return None


def balance_problem(balance: Mapping[str, Any]) -> str | None:
    """Per-asset free/used amounts: finite and not negative."""
    for asset, entry in balance.items():
        if not isinstance(entry, Mapping) or asset in ("info", "free", "used", "total"):
            continue
        for key in ("free", "used"):
            value = entry.get(key)
            number = _number(value)
            if value is not None and (number is None or number < 0):
                return f"{asset} {key} {value!r} is not a non-negative number"
    return None


def skip(venue: str, what: str, problem: str, structure: Mapping[str, Any] | None = None) -> None:
    """The one WARNING of a skipped message: what it was, why, and the venue's own text of it."""
    if structure is None:
        log.warning("%s: malformed %s skipped (%s)", venue, what, problem)
        return
    info = structure.get("info")
    text = " ".join(str(info if info is not None else structure).split())
    shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."
    log.warning("%s: malformed %s skipped (%s): %s", venue, what, problem, shown)
