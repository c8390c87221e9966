"""Venue adapter for any ccxt exchange: REST through ccxt.async_support, streams through ccxt.pro.

Prices and sizes leave as decimal strings built from ticks and lots and come back as ticks and
lots (connectors.ccxt.convert). Our client order ids go to the exchange as `clientOrderId`, so
every order can be looked up by the id we chose, which is what makes an unknown-outcome create safe:
it is checked by client id before it is ever sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import ccxt

from bot.clock import Clock
from bot.domain import Balance, BalanceUpdate, Fill, FillEvent, Market, OrderRequest, OrderState, OrderUpdate
from connectors.base import (
    AuthError,
    EventSink,
    OrderNotFound,
    OrderRejected,
    VenueError,
    VenueUnavailable,
)
from connectors.ccxt import convert
from connectors.ccxt.pacing import Backoff, OrderBudget
from connectors.ccxt.rest import RestCaller, install_response_hook
from connectors.ccxt.session import build_exchange
from connectors.ccxt.streams import StreamRunner
from connectors.ccxt.tracking import OrderTracker
from connectors.ccxt_params import CcxtVenueParams

log = logging.getLogger("mmbot.ccxt")

# REST catch-up of fills starts this far before the newest fill already emitted.
FILL_LOOKBACK_MS = 60_000
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
        self._sink: EventSink | None = None

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
                markets[symbol] = market
        if not markets:
            raise VenueError(self.name, f"{self.params.exchange} lists no spot market with a tick/lot grid")
        self.markets = markets
        return dict(markets)

    def _market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise OrderRejected(self.name, f"unknown market {symbol!r} (call load_markets first)")
        return market

    # ---- streams -----------------------------------------------------------------------------

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        self._require_exchange()
        for symbol in symbols:
            self._market(symbol)
        if self.streams is not None:
            await self.streams.stop()
        self._sink = sink
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

    @property
    def stale_symbols(self) -> frozenset[str]:
        """Markets whose book is lost or stale right now (quotes must stay pulled)."""
        return frozenset(self.streams.stale) if self.streams is not None else frozenset()

    def emit_order(self, market: Market, order: dict[str, Any], now_ns: int) -> OrderUpdate:
        update = convert.to_order_update(market, order, now_ns)
        if not update.client_order_id and update.venue_order_id:
            cid = self.tracker.cid_for(update.venue_order_id)
            if cid:
                update = replace(update, client_order_id=cid)
        self.tracker.on_update(update)
        if self._sink is not None:
            self._sink(update)
        return update

    async def emit_fill(self, trade: dict[str, Any]) -> bool:
        """Push one of our trades as a FillEvent unless it was already pushed; True if pushed."""
        market = self.markets.get(trade.get("symbol"))
        trade_id = trade.get("id")
        if market is None or trade_id is None or self._sink is None:
            return False
        # Trade ids are unique per market on most exchanges (Binance): key them by symbol too.
        fill_key = f"{market.symbol}:{trade_id}"
        if not self.tracker.claim_fill(fill_key):
            return False
        try:
            cid = await self._trade_client_order_id(market, trade)
        except VenueError as exc:
            self.tracker.release_fill(fill_key)  # the next catch-up emits it
            log.warning("%s: fill %s held back, its order is unknown yet: %s", self.name, trade_id, exc)
            return False
        now = self.clock.now_ns()
        self._sink(FillEvent(convert.to_fill(market, trade, cid, now), now))
        self.tracker.fill_emitted(market.symbol, trade.get("timestamp"))
        return True

    async def _trade_client_order_id(self, market: Market, trade: dict[str, Any]) -> str:
        cid = convert.trade_client_order_id(trade)
        if cid:
            return cid
        order_id = trade.get("order")
        if order_id is None:
            return ""
        order_id = str(order_id)
        cid = self.tracker.cid_for(order_id)
        if cid is None:
            order = await self.rest.call(
                f"fetch_order {order_id} {market.symbol}",
                lambda: self.exchange.fetch_order(order_id, market.symbol),
            )
            cid = order.get("clientOrderId") or ""
            self.tracker.remember(cid, order_id)
        return cid

    async def catch_up(self, symbols: Sequence[str], since_floor_ms: int) -> None:
        """REST pass that closes any gap the streams left (reconnects, missed events).

        Fills older than `since_floor_ms` (the streams' start) minus FILL_LOOKBACK_MS are left to
        the start-up reconciliation, which owns history.
        """
        if self._sink is None:
            return
        now = self.clock.now_ns()
        open_cids: set[str] = set()
        for update in await self.fetch_open_orders():
            open_cids.add(update.client_order_id)
            if self.tracker.changed(update):
                self.tracker.on_update(update)
                self._sink(update)
        self.tracker.prune_seen(open_cids)
        for cid, symbol in list(self.tracker.live.items()):
            if cid in open_cids or symbol not in symbols:
                continue
            try:
                update = await self.fetch_order(symbol, cid)
            except OrderNotFound:
                continue  # the order manager settles orders the venue never saw
            self.tracker.on_update(update)
            self._sink(update)
        for symbol in symbols:
            since_ms = max(self.tracker.last_fill_ms.get(symbol, 0), since_floor_ms) - FILL_LOOKBACK_MS
            for trade in await self._fetch_trades_raw(symbol, since_ms):
                if (trade.get("timestamp") or 0) >= since_ms:
                    await self.emit_fill(trade)
        balances = await self.fetch_balances()
        self._sink(BalanceUpdate(self.name, balances, now))

    # ---- orders ------------------------------------------------------------------------------

    def _create_args(self, market: Market, request: OrderRequest) -> tuple[Any, ...]:
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        if request.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = "GTC"
        return (
            market.symbol,
            "limit",
            request.side.value,
            _decimal_str(market.size(request.size_lots)),
            _decimal_str(market.price(request.price_ticks)),
            params,
        )

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        self._require_credentials("place_order")
        exchange = self._require_exchange()
        market = self._market(request.symbol)
        await self.budget.acquire()
        self.tracker.placed(request.client_order_id, market.symbol)
        try:
            order = await self._create_checked(exchange, market, request)
        except VenueUnavailable:
            raise  # outcome unknown: stays in tracker.live, so catch-up asks the venue about it
        except VenueError:
            self.tracker.live.pop(request.client_order_id, None)
            raise
        return self._ack(market, request, order)

    def _ack(self, market: Market, request: OrderRequest, order: dict[str, Any]) -> OrderUpdate:
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
        args = self._create_args(market, request)
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
                    found = await self._lookup_after_unknown(market, cid)
                    if found is not None:
                        return found
                if not mapped.retryable or attempt >= self.rest.max_retries:
                    log.log(logging.WARNING if mapped.retryable else logging.DEBUG, "%s", mapped.error)
                    raise mapped.error from exc
                await self.rest.pause(attempt, mapped, what)
                attempt += 1
                if mapped.not_executed:
                    continue
                found = await self._lookup_after_unknown(market, cid)
                if found is not None:
                    log.warning(
                        "%s: %s outcome was unknown: the venue has it, not re-sending", self.name, what
                    )
                    return found
                log.warning("%s: %s did not reach the venue: re-sending", self.name, what)
                checked_absent = True

    async def _lookup_after_unknown(self, market: Market, cid: str) -> dict[str, Any] | None:
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
        self._require_credentials("cancel_order")
        exchange = self._require_exchange()
        market = self._market(symbol)
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
                return await self._place_batch(requests)
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

    async def _place_batch(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        self._require_credentials("place_orders")
        exchange = self._require_exchange()
        markets = [self._market(r.symbol) for r in requests]
        batch = []
        for market, request in zip(markets, requests, strict=True):
            symbol, type_, side, amount, price, params = self._create_args(market, request)
            batch.append(
                {
                    "symbol": symbol,
                    "type": type_,
                    "side": side,
                    "amount": amount,
                    "price": price,
                    "params": params,
                }
            )
        await self.budget.acquire(len(requests))
        for request in requests:
            self.tracker.placed(request.client_order_id, request.symbol)
        self.rest.forget_response()
        try:
            orders = await exchange.create_orders(batch)
        except ccxt.NotSupported:
            for request in requests:
                self.tracker.live.pop(request.client_order_id, None)
            raise
        except ccxt.BaseError as exc:
            mapped = self.rest.map(exc, f"create_orders x{len(requests)}", is_create=True)
            if mapped.not_executed:
                for request in requests:
                    self.tracker.live.pop(request.client_order_id, None)
                return [mapped.error for _ in requests]
            # Outcome unknown for the whole batch: ask about each order by its client id.
            return [
                await self._resolve_unknown(m, r, mapped.error)
                for m, r in zip(markets, requests, strict=True)
            ]
        results: list[OrderUpdate | VenueError] = []
        by_cid = {o.get("clientOrderId"): o for o in orders if o.get("clientOrderId")}
        for i, (market, request) in enumerate(zip(markets, requests, strict=True)):
            order = by_cid.get(request.client_order_id) or (orders[i] if i < len(orders) else None)
            if order is not None and order.get("id") is not None:
                results.append(self._ack(market, request, order))
            else:
                self.tracker.live.pop(request.client_order_id, None)
                info = order.get("info") if order is not None else "no result"
                results.append(OrderRejected(self.name, f"create {request.client_order_id}: {info}"))
        return results

    async def _resolve_unknown(
        self, market: Market, request: OrderRequest, error: VenueError
    ) -> OrderUpdate | VenueError:
        try:
            found = await self._lookup_after_unknown(market, request.client_order_id)
        except VenueUnavailable as exc:
            return exc
        if found is None:
            self.tracker.live.pop(request.client_order_id, None)
            return OrderRejected(
                self.name, f"create {request.client_order_id} never reached the venue: {error}"
            )
        return self._ack(market, request, found)

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        symbols = {symbol for symbol, _ in orders}
        if self._batch_cancel and len(orders) > 1 and len(symbols) == 1:
            results = await self._cancel_batch(orders[0][0], [cid for _, cid in orders])
            if results is not None:
                return results
        out: list[OrderUpdate | VenueError] = []
        for symbol, cid in orders:
            try:
                out.append(await self.cancel_order(symbol, cid))
            except VenueError as exc:
                out.append(exc)
        return out

    async def _cancel_batch(self, symbol: str, cids: list[str]) -> list[OrderUpdate | VenueError] | None:
        """One cancelOrders call; None when the exchange refuses batches here (use single calls)."""
        self._require_credentials("cancel_orders")
        exchange = self._require_exchange()
        market = self._market(symbol)
        await self.budget.acquire(len(cids))
        ids = [self.tracker.oid_for(cid) or cid for cid in cids]
        try:
            orders = await self.rest.call(
                f"cancel_orders x{len(cids)} {symbol}",
                lambda: exchange.cancel_orders(ids, symbol, {"clientOrderIds": cids}),
            )
        except VenueError as exc:
            if isinstance(exc.__cause__, ccxt.NotSupported | ccxt.BadRequest):
                log.info(
                    "%s: batch cancel refused on %s (%s): single calls from now on", self.name, symbol, exc
                )
                self._batch_cancel = False
                return None
            return [exc for _ in cids]
        by_cid = {o.get("clientOrderId"): o for o in orders if isinstance(o, dict)}
        results: list[OrderUpdate | VenueError] = []
        now = self.clock.now_ns()
        for cid in cids:
            order = by_cid.get(cid)
            if order is None or order.get("id") is None:
                results.append(OrderNotFound(self.name, f"cancel {cid}: not in the batch result"))
                continue
            update = convert.to_order_update(market, order, now)
            self.tracker.on_update(update)
            results.append(update)
        return results

    async def cancel_all_orders_after(self, timeout_s: float) -> bool:
        """Arm the venue's dead-man's switch (0 disarms); False where the exchange has none."""
        self._require_credentials("cancel_all_orders_after")
        exchange = self._require_exchange()
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
        market = self._market(symbol)
        order = await self._fetch_order_raw(market, client_order_id)
        update = convert.to_order_update(market, order, self.clock.now_ns())
        if not update.client_order_id:
            update = replace(update, client_order_id=client_order_id)
        self.tracker.remember(update.client_order_id, update.venue_order_id)
        return update

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        self._require_credentials("fetch_open_orders")
        exchange = self._require_exchange()
        if symbol is not None:
            self._market(symbol)
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
        self._require_credentials("fetch_balances")
        exchange = self._require_exchange()
        balance = await self.rest.call("fetch_balance", lambda: exchange.fetch_balance())
        return convert.to_balances(balance)

    async def _fetch_trades_raw(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
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
            market = self._market(sym)
            for trade in await self._fetch_trades_raw(sym, since_ms):
                trade_id = str(trade.get("id"))
                if trade_id in seen:
                    continue
                seen.add(trade_id)
                cid = await self._trade_client_order_id(market, trade)
                fills.append(convert.to_fill(market, trade, cid, now))
        fills.sort(key=lambda f: (f.exchange_ts_ns, f.venue_trade_id))
        return fills
