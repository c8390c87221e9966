"""Venue adapter for any ccxt exchange: REST through ccxt.async_support, streams through ccxt.pro.

Prices and sizes leave as decimal strings built from ticks and lots and come back as ticks and
lots (connectors.ccxt.convert). Our client order ids go to the exchange as `clientOrderId`, so
every order can be looked up by the id we chose, which is what makes an unknown-outcome create safe:
it is checked by client id before it is ever sent again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import ccxt

from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, OrderRequest, OrderState
from bot.core.events import OrderUpdate, VenueStatus
from connectors.base import (
    AuthError,
    EventSink,
    OrderNotFound,
    OrderRejected,
    VenueError,
    VenueUnavailable,
)
from connectors.ccxt import batch, convert
from connectors.ccxt.account_sync import AccountSync
from connectors.ccxt.message_guard import MessageGuard
from connectors.ccxt.pacing import Backoff, OrderBudget
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.rest import RestCaller, install_response_hook
from connectors.ccxt.session import build_exchange
from connectors.ccxt.streams import StreamRunner
from connectors.ccxt.tracking import OrderTracker

log = logging.getLogger("mmbot.ccxt")

_FILL_PAGE = 500
STREAM_READY_TIMEOUT_S = 10.0
_MAX_FILL_PAGES = 20


def _decimal_str(value: Any) -> str:
    return format(value.normalize(), "f")


class CcxtVenue:
    """connectors.base.Venue over one ccxt exchange id (see CcxtVenueParams)."""

    def __init__(self, name: str, params: CcxtVenueParams, clock: Clock) -> None:
        self.name = name
        self.params = params
        self.clock = clock
        self.exchange: Any = None
        self.supports_batch = False
        self._batch_cancel = False
        self.has_credentials = bool(params.api_key_env)
        self.markets: dict[str, Market] = {}
        self.tracker = OrderTracker()
        self.budget = OrderBudget(clock, params.order_rate_per_s, params.order_burst)
        self.rest: RestCaller = None  # type: ignore[assignment]  # set by connect()
        self.streams: StreamRunner | None = None
        self.sync = AccountSync(self)
        self.sink: EventSink | None = None
        """Where events go (set by start_streams)."""
        self.message_guard = MessageGuard(name)
        self.skipped_messages = 0
        """Parsed messages refused by connectors.ccxt.sanity (frames ccxt could not parse: message_guard)."""

    # ---- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        if self.exchange is not None:
            return
        exchange = build_exchange(self.name, self.params)  # AuthError when an env var is missing
        exchange.options.setdefault("warnOnFetchOpenOrdersWithoutSymbol", False)
        self.exchange = exchange
        backoff = Backoff(self.params.backoff_base_s, self.params.backoff_max_s)
        self.rest = RestCaller(self.name, exchange, backoff, self.params.max_retries)
        install_response_hook(exchange)
        self.message_guard.install(exchange)
        try:
            await self.load_markets()
            if self.has_credentials:
                await self.fetch_balances()  # proves the key and the signature before trading
        except BaseException:
            await self.close()
            raise
        has = exchange.has
        self.supports_batch = bool(has.get("createOrders"))
        self._batch_cancel = bool(has.get("cancelOrders"))
        log.info(
            "%s: connected to %s%s: %d markets, streams %s, batch orders %s, %s",
            self.name,
            self.params.exchange,
            " (sandbox)" if self.params.sandbox else "",
            len(self.markets),
            "yes" if has.get("watchOrderBook") else "no (REST polling)",
            "yes" if self.supports_batch else "no",
            "trading" if self.has_credentials else "market data only (no credentials)",
        )

    async def close(self) -> None:
        if self.streams is not None:
            await self.streams.stop()
            self.streams = None
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            try:
                await exchange.close()
            except Exception as exc:  # closing must not mask the error that led here
                log.warning("%s: error while closing the exchange session: %s", self.name, exc)

    def _require_exchange(self) -> Any:
        if self.exchange is None:
            raise VenueUnavailable(self.name, "not connected: call connect() first")
        return self.exchange

    def trading_exchange(self, what: str) -> Any:
        """The ccxt exchange, for a call that needs credentials."""
        self._require_credentials(what)
        return self._require_exchange()

    def _require_credentials(self, what: str) -> None:
        if not self.has_credentials:
            raise AuthError(self.name, f"{what} needs credentials: set api_key_env and secret_env")

    # ---- markets -----------------------------------------------------------------------------

    async def load_markets(self) -> dict[str, Market]:
        if self.markets:
            return dict(self.markets)
        exchange = self._require_exchange()
        raw = await self.rest.call("load_markets", lambda: exchange.load_markets())
        markets: dict[str, Market] = {}
        for symbol, ccxt_market in raw.items():
            if not ccxt_market.get("spot", ccxt_market.get("type") == "spot"):
                continue
            if ccxt_market.get("active") is False:
                continue
            market = convert.to_market(self.name, ccxt_market, exchange.precisionMode)
            if market is not None:
                markets[symbol] = self._with_fee_overrides(market)
        if not markets:
            raise VenueError(self.name, f"{self.params.exchange} lists no spot market with a tick/lot grid")
        self.markets = markets
        return dict(markets)

    def _with_fee_overrides(self, market: Market) -> Market:
        """ccxt reports an exchange's default tier; an account's real rates come from the config."""
        p = self.params
        return dataclasses.replace(
            market,
            maker_fee_bps=market.maker_fee_bps if p.maker_fee_bps is None else p.maker_fee_bps,
            taker_fee_bps=market.taker_fee_bps if p.taker_fee_bps is None else p.taker_fee_bps,
        )

    def market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise OrderRejected(self.name, f"unknown market {symbol!r} (call load_markets first)")
        return market

    # ---- streams -----------------------------------------------------------------------------

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        self._require_exchange()
        for symbol in symbols:
            self.market(symbol)
        if self.streams is not None:
            await self.streams.stop()
        self.sink = sink
        self.streams = StreamRunner(self, symbols, sink)
        self.streams.start()
        # Return once own orders and fills are streaming, so nothing placed next goes unseen;
        # then one REST pass covers whatever happened before the subscription.
        await self.streams.wait_ready(STREAM_READY_TIMEOUT_S)
        if self.has_credentials:
            try:
                await self.streams.catch_up()
            except VenueError as exc:
                log.warning("%s: initial catch-up failed (the periodic one will retry): %s", self.name, exc)
        if self.streams.health.connected:
            sink(VenueStatus(self.name, True, f"streaming {len(symbols)} markets", self.clock.now_ns()))

    @property
    def stale_symbols(self) -> frozenset[str]:
        """Markets whose book is lost or stale right now (quotes must stay pulled)."""
        return frozenset(self.streams.stale) if self.streams is not None else frozenset()

    # ---- orders ------------------------------------------------------------------------------

    def create_args(self, market: Market, request: OrderRequest) -> tuple[Any, ...]:
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        if request.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = "IOC" if request.immediate_or_cancel else "GTC"
        return (
            market.symbol,
            "limit",
            request.side.value,
            _decimal_str(market.size(request.size_lots)),
            _decimal_str(market.price(request.price_ticks)),
            params,
        )

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        exchange = self.trading_exchange("place_order")
        market = self.market(request.symbol)
        await self.budget.acquire()
        self.tracker.placed(request.client_order_id, market.symbol)
        try:
            order = await self._create_checked(exchange, market, request)
        except VenueUnavailable:
            raise  # outcome unknown: stays in tracker.live, so catch-up asks the venue about it
        except VenueError:
            self.tracker.live.pop(request.client_order_id, None)
            raise
        return self.ack(market, request, order)

    def ack(self, market: Market, request: OrderRequest, order: dict[str, Any]) -> OrderUpdate:
        update = convert.to_order_update(market, order, self.clock.now_ns())
        # Some exchanges ack with little more than an id: the request fills in what is missing.
        update = replace(
            update,
            client_order_id=update.client_order_id or request.client_order_id,
            side=request.side,
            price_ticks=update.price_ticks or request.price_ticks,
            size_lots=update.size_lots or request.size_lots,
        )
        self.tracker.on_update(update)
        return update

    async def _create_checked(self, exchange: Any, market: Market, request: OrderRequest) -> dict[str, Any]:
        """create_order with retries; never re-sends a create whose outcome is unknown unchecked."""
        cid = request.client_order_id
        what = f"create_order {cid} {market.symbol}"
        args = self.create_args(market, request)
        attempt = 0
        checked_absent = False
        while True:
            self.rest.forget_response()
            try:
                return await exchange.create_order(*args)
            except ccxt.BaseError as exc:
                mapped = self.rest.map(exc, what, is_create=True)
                if checked_absent and isinstance(mapped.error, OrderRejected):
                    # The re-send was refused (a duplicate id?): the first send may have landed late.
                    found = await self.lookup_by_client_id(market, cid)
                    if found is not None:
                        return found
                if not mapped.retryable or attempt >= self.rest.max_retries:
                    log.log(logging.WARNING if mapped.retryable else logging.DEBUG, "%s", mapped.error)
                    raise mapped.error from exc
                await self.rest.pause(attempt, mapped, what)
                attempt += 1
                if mapped.not_executed:
                    continue
                found = await self.lookup_by_client_id(market, cid)
                if found is not None:
                    log.warning(
                        "%s: %s outcome was unknown: the venue has it, not re-sending", self.name, what
                    )
                    return found
                log.warning("%s: %s did not reach the venue: re-sending", self.name, what)
                checked_absent = True

    async def lookup_by_client_id(self, market: Market, cid: str) -> dict[str, Any] | None:
        """The venue's order for our client id, None if it has none; raises if it cannot tell."""
        try:
            return await self._fetch_order_raw(market, cid)
        except OrderNotFound:
            return None
        except VenueError as exc:
            raise VenueUnavailable(
                self.name, f"create {cid}: outcome unknown and the lookup by client id failed: {exc}"
            ) from exc

    async def _fetch_order_raw(self, market: Market, cid: str) -> dict[str, Any]:
        exchange = self._require_exchange()
        order_id = self.tracker.oid_for(cid) or cid
        return await self.rest.call(
            f"fetch_order {cid} {market.symbol}",
            lambda: exchange.fetch_order(order_id, market.symbol, {"clientOrderId": cid}),
        )

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        exchange = self.trading_exchange("cancel_order")
        market = self.market(symbol)
        await self.budget.acquire()
        order_id = self.tracker.oid_for(client_order_id) or client_order_id
        order = await self.rest.call(
            f"cancel_order {client_order_id} {symbol}",
            lambda: exchange.cancel_order(order_id, symbol, {"clientOrderId": client_order_id}),
        )
        # Binance-style acks name the cancel request's own id as clientOrderId: we know ours.
        update = replace(
            convert.to_order_update(market, order, self.clock.now_ns()), client_order_id=client_order_id
        )
        if update.state.is_live and order.get("status") is None:
            update = replace(update, state=OrderState.CANCELLED)  # bare ack: id only
        self.tracker.on_update(update)
        return update

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        if self.supports_batch and len(requests) > 1:
            try:
                return await batch.place_batch(self, requests)
            except ccxt.NotSupported as exc:
                log.info("%s: batch create not supported here (%s): single calls from now on", self.name, exc)
                self.supports_batch = False
        results: list[OrderUpdate | VenueError] = []
        for request in requests:
            try:
                results.append(await self.place_order(request))
            except VenueError as exc:
                results.append(exc)
        return results

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        symbols = {symbol for symbol, _ in orders}
        if self._batch_cancel and len(orders) > 1 and len(symbols) == 1:
            results = await batch.cancel_batch(self, orders[0][0], [cid for _, cid in orders])
            if results is not None:
                return results
            log.info("%s: batch cancel refused here: single calls from now on", self.name)
            self._batch_cancel = False
        out: list[OrderUpdate | VenueError] = []
        for symbol, cid in orders:
            try:
                out.append(await self.cancel_order(symbol, cid))
            except VenueError as exc:
                out.append(exc)
        return out

    async def cancel_all_orders_after(self, timeout_s: float) -> bool:
        """Arm the venue's dead-man's switch (0 disarms); False where the exchange has none."""
        exchange = self.trading_exchange("cancel_all_orders_after")
        if not exchange.has.get("cancelAllOrdersAfter"):
            return False
        await self.rest.call(
            f"cancel_all_orders_after {timeout_s}s",
            lambda: exchange.cancel_all_orders_after(int(timeout_s * 1000)),
        )
        return True

    # ---- queries -----------------------------------------------------------------------------

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        self._require_credentials("fetch_order")
        market = self.market(symbol)
        order = await self._fetch_order_raw(market, client_order_id)
        update = convert.to_order_update(market, order, self.clock.now_ns())
        if not update.client_order_id:
            update = replace(update, client_order_id=client_order_id)
        self.tracker.remember(update.client_order_id, update.venue_order_id)
        return update

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        exchange = self.trading_exchange("fetch_open_orders")
        if symbol is not None:
            self.market(symbol)
        orders = await self.rest.call(
            f"fetch_open_orders {symbol or 'all'}", lambda: exchange.fetch_open_orders(symbol)
        )
        now = self.clock.now_ns()
        out = []
        for order in orders:
            market = self.markets.get(order.get("symbol"))
            if market is not None:
                update = convert.to_order_update(market, order, now)
                self.tracker.remember(update.client_order_id, update.venue_order_id)
                out.append(update)
        return out

    async def fetch_balances(self) -> dict[str, Balance]:
        exchange = self.trading_exchange("fetch_balances")
        balance = await self.rest.call("fetch_balance", lambda: exchange.fetch_balance())
        return convert.to_balances(balance)

    async def fetch_trades_raw(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
        exchange = self._require_exchange()
        out: list[dict[str, Any]] = []
        for _ in range(_MAX_FILL_PAGES):
            page = await self.rest.call(
                f"fetch_my_trades {symbol}",
                lambda s=since_ms: exchange.fetch_my_trades(symbol, s, _FILL_PAGE),
            )
            out.extend(page)
            if len(page) < _FILL_PAGE or since_ms is None:
                break
            newest = max(t.get("timestamp") or 0 for t in page)
            if newest <= since_ms:
                break
            since_ms = newest  # inclusive: same-millisecond trades repeat and are deduplicated
        return out

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        self._require_credentials("fetch_fills")
        symbols = [symbol] if symbol is not None else list(self.streams.symbols if self.streams else [])
        since_ms = since_ns // convert.NS_PER_MS if since_ns is not None else None
        fills: list[Fill] = []
        seen: set[str] = set()
        now = self.clock.now_ns()
        for sym in symbols:
            market = self.market(sym)
            for trade in await self.fetch_trades_raw(sym, since_ms):
                trade_id = str(trade.get("id"))
                if trade_id in seen:
                    continue
                seen.add(trade_id)
                cid = await self.sync.trade_client_order_id(market, trade)
                fills.append(convert.to_fill(market, trade, cid, now))
        fills.sort(key=lambda f: (f.exchange_ts_ns, f.venue_trade_id))
        return fills
