"""Binance spot REST API (`/api/v3/...`) over the facade core, with Binance's errors and statuses.

A signed endpoint acts on the account of the request's API key only: another account's orders are
unknown to it, as on Binance.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from aiohttp import web

from bot.core.domain import Market, Side
from bot.core.events import OrderUpdate
from connectors.base import InsufficientBalance, OrderNotFound, OrderRejected, PostOnlyWouldCross
from connectors.mock.facade import codec, klines, param_rules
from connectors.mock.facade.account import FacadeAccount, OrderMeta
from connectors.mock.facade.auth import KeyRing
from connectors.mock.facade.codec import BinanceError, missing_param
from connectors.mock.facade.core import FacadeCore
from connectors.mock.facade.gate import PublicHandler, RequestGate, SignedHandler
from connectors.mock.orders import OrderType

log = logging.getLogger("mmbot.facade")

_ORDER_TYPES = {"LIMIT": OrderType.LIMIT, "LIMIT_MAKER": OrderType.LIMIT_MAKER, "MARKET": OrderType.MARKET}
_MAX_TRADES = 1000


class RestApi:
    def __init__(self, core: FacadeCore, keys: KeyRing, request_limit_per_s: float | None) -> None:
        self.core = core
        self.gate = RequestGate(core, keys, request_limit_per_s)
        self._cancel_ids = itertools.count(1)
        self._order_ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        public: dict[str, PublicHandler] = {
            "/api/v3/ping": self.ping,
            "/api/v3/time": self.time,
            "/api/v3/exchangeInfo": self.exchange_info,
            "/api/v3/depth": self.depth,
            "/api/v3/klines": self.klines,
        }
        signed_get: dict[str, SignedHandler] = {
            "/api/v3/account": self.account,
            "/api/v3/openOrders": self.open_orders,
            "/api/v3/myTrades": self.my_trades,
            "/api/v3/order": self.query_order,
        }
        out = [web.get(path, self.gate.public(fn)) for path, fn in public.items()]
        out += [web.get(path, self.gate.signed(fn)) for path, fn in signed_get.items()]
        out += [
            web.post("/api/v3/order", self.gate.signed(self.new_order)),
            web.delete("/api/v3/order", self.gate.signed(self.cancel_order)),
            web.delete("/api/v3/openOrders", self.gate.signed(self.cancel_open_orders)),
        ]
        return out

    def _market(self, params: dict[str, str]) -> Market:
        market = self.core.by_id.get(param_rules.symbol_id(params))
        if market is None:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return market

    # ---- public --------------------------------------------------------------------------------

    async def ping(self, params: dict[str, str]) -> Any:
        return {}

    async def time(self, params: dict[str, str]) -> Any:
        return {"serverTime": self.core.now_ns() // codec.NS_PER_MS}

    async def exchange_info(self, params: dict[str, str]) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.core.now_ns() // codec.NS_PER_MS,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [codec.symbol_info(m) for m in self.core.markets.values()],
        }

    async def depth(self, params: dict[str, str]) -> Any:
        market = self._market(params)
        limit = param_rules.int_param(params, "limit", 100, 1, 5000)
        book = self.core.books[market.symbol]
        bids = tuple(sorted(book.bids.items(), reverse=True)[:limit])
        asks = tuple(sorted(book.asks.items())[:limit])
        return {
            "lastUpdateId": book.last_update_id,
            "bids": codec.levels(market, bids),
            "asks": codec.levels(market, asks),
        }

    async def klines(self, params: dict[str, str]) -> Any:
        return klines.klines(self.core.exchange, self._market(params), params, self.core.now_ns())

    # ---- account -------------------------------------------------------------------------------

    async def account(self, params: dict[str, str], account: FacadeAccount) -> Any:
        now_ms = self.core.now_ns() // codec.NS_PER_MS
        balances = account.balances()
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms,
            "accountType": "SPOT",
            "balances": [
                {"asset": b.asset, "free": codec.decimal_str(b.free), "locked": codec.decimal_str(b.locked)}
                for b in balances.values()
            ],
            "permissions": ["SPOT"],
            "uid": account.uid,
        }

    async def open_orders(self, params: dict[str, str], account: FacadeAccount) -> Any:
        symbol = self._market(params).symbol if params.get("symbol") else None
        return [account.order_json(u) for u in self.core.exchange.open_orders(account.account_id, symbol)]

    async def my_trades(self, params: dict[str, str], account: FacadeAccount) -> Any:
        market = self._market(params)
        limit = param_rules.int_param(params, "limit", 500, 1, _MAX_TRADES)
        start_ms = param_rules.int_param(params, "startTime", None, 0, None)
        end_ms = param_rules.int_param(params, "endTime", None, 0, None)
        from_id = param_rules.int_param(params, "fromId", None, 0, None)
        since_ns = start_ms * codec.NS_PER_MS if start_ms is not None else None
        fills = self.core.exchange.fills(account.account_id, market.symbol, since_ns)
        if end_ms is not None:
            fills = [f for f in fills if codec.ms(f.exchange_ts_ns) <= end_ms]
        if from_id is not None:
            fills = [f for f in fills if int(f.venue_trade_id) >= from_id]
        # From a start (time or id): the oldest first; without one: the most recent `limit`.
        fills = fills[:limit] if (start_ms is not None or from_id is not None) else fills[-limit:]
        return [codec.fill_json(market, f) for f in fills]

    # ---- orders --------------------------------------------------------------------------------

    def _find(self, market: Market, params: dict[str, str], account: FacadeAccount) -> str:
        """Client order id of the account's order a request names by orderId or origClientOrderId."""
        cid = params.get("origClientOrderId")
        if cid:
            return cid
        raw_id = params.get("orderId")
        if not raw_id:
            raise BinanceError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        try:
            key = account.client_order_id(int(raw_id))
        except ValueError:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'orderId'.") from None
        if key is None or key[0] != market.symbol:
            raise _unknown_order()
        return key[1]

    async def query_order(self, params: dict[str, str], account: FacadeAccount) -> Any:
        market = self._market(params)
        try:
            cid = self._find(market, params, account)
            update = self.core.exchange.fetch_order(account.account_id, market.symbol, cid)
        except (OrderNotFound, BinanceError) as exc:
            if isinstance(exc, BinanceError) and exc.code != -2011:
                raise
            raise BinanceError(400, -2013, "Order does not exist.") from None
        return account.order_json(update)

    async def new_order(self, params: dict[str, str], account: FacadeAccount) -> Any:
        core = self.core
        market = self._market(params)
        side = _side(params)
        type_name = (params.get("type") or "").upper()
        if not type_name:
            raise missing_param("type")
        order_type = _ORDER_TYPES.get(type_name)
        if order_type is None:
            raise BinanceError(400, -1116, "Invalid orderType.")
        tif = (params.get("timeInForce") or "").upper()
        if order_type is OrderType.LIMIT:
            if not tif:
                raise missing_param("timeInForce")
            if tif == "IOC":
                order_type = OrderType.IOC
            elif tif != "GTC":
                raise BinanceError(400, -1115, "Invalid timeInForce.")
        size_lots = param_rules.on_grid(
            market, params, "quantity", "LOT_SIZE", market.exact_lots, codec.MAX_QTY
        )
        price_ticks = None
        if order_type is not OrderType.MARKET:
            price_ticks = param_rules.on_grid(
                market, params, "price", "PRICE_FILTER", market.exact_ticks, codec.MAX_PRICE
            )
        cid = param_rules.client_order_id(params) or f"facade{next(self._order_ids)}"
        now = core.now_ns()
        account.begin_order(
            OrderMeta(market.symbol, cid, type_name, tif or ("GTC" if type_name != "MARKET" else ""), now)
        )
        try:
            update = core.exchange.place_order(
                account.account_id,
                market.symbol,
                cid,
                side,
                size_lots,
                now,
                price_ticks=price_ticks,
                order_type=order_type,
            )
        except PostOnlyWouldCross:
            raise BinanceError(400, -2010, "Order would immediately match and take.") from None
        except InsufficientBalance:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.") from None
        except OrderRejected as exc:
            raise _rejection(exc) from None
        finally:
            fills = account.end_order()
        if core.faults.ack_delay_ms > 0:
            account.acking.add(cid)  # fills of this order now reach the stream before its ack
            try:
                await asyncio.sleep(core.faults.ack_delay_ms / 1000)
            finally:
                account.acking.discard(cid)
        return self._order_answer(account, market, update, params.get("newOrderRespType"), fills)

    def _order_answer(
        self,
        account: FacadeAccount,
        market: Market,
        update: OrderUpdate,
        resp_type: str | None,
        fills: list[Any],
    ) -> Any:
        resp = (resp_type or "FULL").upper()
        if resp == "ACK":
            return {
                "symbol": codec.market_id(market.symbol),
                "orderId": int(update.venue_order_id or 0),
                "orderListId": -1,
                "clientOrderId": update.client_order_id,
                "transactTime": codec.ms(update.exchange_ts_ns),
            }
        answer = account.order_json(update)
        if resp == "FULL":
            answer["fills"] = [
                {
                    "price": codec.decimal_str(market.price(f.price_ticks)),
                    "qty": codec.decimal_str(market.size(f.size_lots)),
                    "commission": codec.decimal_str(f.fee),
                    "commissionAsset": f.fee_asset,
                    "tradeId": int(f.venue_trade_id),
                }
                for f in fills
            ]
        return answer

    async def cancel_order(self, params: dict[str, str], account: FacadeAccount) -> Any:
        market = self._market(params)
        cid = self._find(market, params, account)
        return self._cancel(account, market, cid, params.get("newClientOrderId"))

    def _cancel(
        self, account: FacadeAccount, market: Market, cid: str, cancel_cid: str | None
    ) -> dict[str, Any]:
        core = self.core
        account.cancel_client_order_id = cancel_cid or f"cancel{next(self._cancel_ids)}"
        try:
            update = core.exchange.cancel_order(account.account_id, market.symbol, cid, core.now_ns())
        except OrderNotFound:
            raise _unknown_order() from None
        finally:
            cancel_id, account.cancel_client_order_id = account.cancel_client_order_id, None
        answer = account.order_json(update)
        answer["origClientOrderId"] = cid
        answer["clientOrderId"] = cancel_id
        return answer

    async def cancel_open_orders(self, params: dict[str, str], account: FacadeAccount) -> Any:
        market = self._market(params)
        open_orders = self.core.exchange.open_orders(account.account_id, market.symbol)
        if not open_orders:
            raise BinanceError(400, -2011, "Unknown order sent.")
        return [self._cancel(account, market, u.client_order_id, None) for u in open_orders]


def _unknown_order() -> BinanceError:
    return BinanceError(400, -2011, "Unknown order sent.")


def _rejection(exc: OrderRejected) -> BinanceError:
    text = str(exc)
    if "duplicate" in text:
        return BinanceError(400, -2010, "Duplicate order sent.")
    if "min_notional" in text:
        return BinanceError(400, -1013, "Filter failure: NOTIONAL")
    return BinanceError(400, -2010, text.split(": ", 1)[-1])


def _side(params: dict[str, str]) -> Side:
    raw = (params.get("side") or "").upper()
    if not raw:
        raise missing_param("side")
    if raw not in ("BUY", "SELL"):
        raise BinanceError(400, -1117, "Invalid side.")
    return Side(raw.lower())
