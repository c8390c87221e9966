"""Binance spot JSON shapes of our domain objects, and Binance's error codes.

Numbers go out as decimal strings (as Binance sends them); timestamps in milliseconds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.core.domain import Fill, Market, OrderState, Side
from bot.core.events import OrderUpdate

NS_PER_MS = 1_000_000
MAX_PRICE = Decimal("1000000000")  # PRICE_FILTER and LOT_SIZE maxima of every symbol
MAX_QTY = Decimal("1000000000")

STATUS = {
    OrderState.PENDING_NEW: "NEW",
    OrderState.OPEN: "NEW",
    OrderState.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderState.FILLED: "FILLED",
    OrderState.PENDING_CANCEL: "PENDING_CANCEL",
    OrderState.CANCELLED: "CANCELED",
    OrderState.REJECTED: "REJECTED",
    OrderState.EXPIRED: "EXPIRED",
}


class BinanceError(Exception):
    """An error answer: HTTP status, Binance code and message (and headers, e.g. Retry-After)."""

    def __init__(self, http_status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{http_status} {code} {msg}")
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def missing_param(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def bad_param(name: str, why: str) -> BinanceError:
    return BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; {why}.")


def decimal_str(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def market_id(symbol: str) -> str:
    return symbol.replace("/", "")


def ms(ts_ns: int) -> int:
    return ts_ns // NS_PER_MS


def symbol_info(market: Market) -> dict[str, Any]:
    """One entry of exchangeInfo.symbols with the filters ccxt reads precision and limits from."""
    tick = decimal_str(market.tick_size)
    lot = decimal_str(market.lot_size)
    return {
        "symbol": market_id(market.symbol),
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": decimal_str(MAX_PRICE),
                "tickSize": tick,
            },
            {"filterType": "LOT_SIZE", "minQty": lot, "maxQty": decimal_str(MAX_QTY), "stepSize": lot},
            {
                "filterType": "NOTIONAL",
                "minNotional": decimal_str(market.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
    }


def levels(market: Market, side: tuple[tuple[int, int], ...]) -> list[list[str]]:
    return [[decimal_str(market.price(p)), decimal_str(market.size(q))] for p, q in side]


def order_json(
    market: Market,
    update: OrderUpdate,
    *,
    order_type: str,
    time_in_force: str,
    created_ns: int,
    cum_quote: Decimal,
) -> dict[str, Any]:
    """GET/POST/DELETE /api/v3/order answer (the RESULT shape)."""
    return {
        "symbol": market_id(market.symbol),
        "orderId": int(update.venue_order_id or 0),
        "orderListId": -1,
        "clientOrderId": update.client_order_id,
        "transactTime": ms(update.exchange_ts_ns),
        "price": decimal_str(market.price(update.price_ticks)),
        "origQty": decimal_str(market.size(update.size_lots)),
        "executedQty": decimal_str(market.size(update.filled_lots)),
        "cummulativeQuoteQty": decimal_str(cum_quote),
        "origQuoteOrderQty": "0",
        "status": STATUS[update.state],
        "timeInForce": time_in_force,
        "type": order_type,
        "side": update.side.value.upper(),
        "stopPrice": "0",
        "icebergQty": "0",
        "time": ms(created_ns),
        "updateTime": ms(update.exchange_ts_ns),
        "workingTime": ms(created_ns),
        "isWorking": not update.state.is_terminal,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def fill_json(market: Market, fill: Fill) -> dict[str, Any]:
    """One element of GET /api/v3/myTrades."""
    price = market.price(fill.price_ticks)
    qty = market.size(fill.size_lots)
    return {
        "symbol": market_id(market.symbol),
        "id": int(fill.venue_trade_id),
        "orderId": int(fill.venue_order_id),
        "orderListId": -1,
        "price": decimal_str(price),
        "qty": decimal_str(qty),
        "quoteQty": decimal_str(price * qty),
        "commission": decimal_str(fill.fee),
        "commissionAsset": fill.fee_asset,
        "time": ms(fill.exchange_ts_ns),
        "isBuyer": fill.side is Side.BUY,
        "isMaker": fill.is_maker,
        "isBestMatch": True,
    }


def execution_report(
    market: Market,
    update: OrderUpdate,
    *,
    execution_type: str,
    order_type: str,
    time_in_force: str,
    created_ns: int,
    cum_quote: Decimal,
    fill: Fill | None = None,
    cancel_client_order_id: str | None = None,
) -> dict[str, Any]:
    """A user-data `executionReport` event (one per state change, one per trade).

    As on Binance, a cancel's report carries the cancel request's id in `c` and the order's own
    client id in `C`.
    """
    last_price = market.price(fill.price_ticks) if fill else Decimal(0)
    last_qty = market.size(fill.size_lots) if fill else Decimal(0)
    ts = ms(update.exchange_ts_ns)
    return {
        "e": "executionReport",
        "E": ts,
        "s": market_id(market.symbol),
        "c": cancel_client_order_id or update.client_order_id,
        "S": update.side.value.upper(),
        "o": order_type,
        "f": time_in_force,
        "q": decimal_str(market.size(update.size_lots)),
        "p": decimal_str(market.price(update.price_ticks)),
        "P": "0",
        "F": "0",
        "g": -1,
        "C": update.client_order_id if cancel_client_order_id else "",
        "x": execution_type,
        "X": STATUS[update.state],
        "r": "NONE",
        "i": int(update.venue_order_id or 0),
        "l": decimal_str(last_qty),
        "z": decimal_str(market.size(update.filled_lots)),
        "L": decimal_str(last_price),
        "n": decimal_str(fill.fee) if fill else "0",
        "N": fill.fee_asset if fill else None,
        "T": ts,
        "t": int(fill.venue_trade_id) if fill else -1,
        "I": 0,
        "w": not update.state.is_terminal,
        "m": fill.is_maker if fill else False,
        "M": False,
        "O": ms(created_ns),
        "Z": decimal_str(cum_quote),
        "Y": decimal_str(last_price * last_qty),
        "Q": "0",
        "W": ms(created_ns),
        "V": "EXPIRE_MAKER",
    }
