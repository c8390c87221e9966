"""Binance's syntax rules for request parameters, and the filters of a price or a quantity.

Binance checks each parameter against a legal pattern before anything else (-1100, naming the
pattern), then the symbol's filters (-1013). Everything here raises `BinanceError`; nothing a
client sends can get past it as a Python exception (a 500).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.core.domain import Market
from connectors.mock.facade.codec import BinanceError, missing_param

_DECIMAL = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_SYMBOL = r"^[A-Z0-9-_.]{1,20}$"
_CLIENT_ORDER_ID = r"^[a-zA-Z0-9-_]{1,36}$"
_PATTERNS = {pattern: re.compile(pattern) for pattern in (_DECIMAL, _SYMBOL, _CLIENT_ORDER_ID)}


def illegal(name: str, pattern: str) -> BinanceError:
    return BinanceError(
        400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'."
    )


def _checked(params: dict[str, str], name: str, pattern: str) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _PATTERNS[pattern].match(raw):
        raise illegal(name, pattern)
    return raw


def symbol_id(params: dict[str, str]) -> str:
    """The `symbol` parameter, upper-cased (Binance's ids are upper case)."""
    raw = params.get("symbol")
    if not raw:
        raise missing_param("symbol")
    market_id = raw.upper()
    if not _PATTERNS[_SYMBOL].match(market_id):
        raise illegal("symbol", _SYMBOL)
    return market_id


def client_order_id(params: dict[str, str], name: str = "newClientOrderId") -> str | None:
    return _checked(params, name, _CLIENT_ORDER_ID)


def on_grid(
    market: Market,
    params: dict[str, str],
    name: str,
    filter_name: str,
    to_units: Callable[[Decimal], int],
    maximum: Decimal,
) -> int:
    """Ticks or lots of a price or quantity parameter that passes its filter."""
    raw = _checked(params, name, _DECIMAL)
    if raw is None:
        raise missing_param(name)
    value = Decimal(raw)  # cannot fail: the pattern admits plain decimals only (no NaN, no exponent)
    if value <= 0 or value > maximum:
        raise BinanceError(400, -1013, f"Filter failure: {filter_name}")
    try:
        return to_units(value)
    except ValueError:
        raise BinanceError(400, -1013, f"Filter failure: {filter_name}") from None


def int_param(params: dict[str, str], name: str, default: int | None, low: int, high: int | None) -> Any:
    """An integer parameter in [low, high] (None: no upper bound); `default` when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.") from None
    if value < low or (high is not None and value > high):
        raise BinanceError(400, -1100, f"Parameter '{name}' is out of range.")
    return value
