"""Venue adapter for any ccxt exchange: REST through ccxt.async_support, streams through ccxt.pro.

Prices and sizes leave as decimal strings built from ticks and lots and come back as ticks and
lots (connectors.ccxt.convert). Orders go out by our client order id (connectors.ccxt.orders), so
a create whose outcome is unknown is looked up before it is ever sent again. The venue owns the
session (connectors.ccxt.session) its helpers share: queries, orders, batch, account sync, streams.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import replace

import ccxt

from bot.core.backoff import Backoff
from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, OrderRequest, OrderState
from bot.core.events import OrderUpdate, VenueStatus
from bot.core.history import PriceHistory
from bot.core.supervision import Supervisor
from connectors.base import EventSink, VenueError, VenueUnavailable
from connectors.ccxt import batch, candles, convert, queries
from connectors.ccxt.account_sync import AccountSync
from connectors.ccxt.orders import ack, create_checked
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.rest import RestCaller, install_response_hook
from connectors.ccxt.session import CcxtSession, build_exchange
from connectors.ccxt.streams import StreamRunner
from connectors.ccxt.ws_clients import retrieve_orphan_errors

log = logging.getLogger("mmbot.ccxt")

STREAM_READY_TIMEOUT_S = 10.0


class CcxtVenue:
    """connectors.base.Venue over one ccxt exchange id (see CcxtVenueParams)."""

    def __init__(self, name: str, params: CcxtVenueParams, clock: Clock) -> None:
        self.name = name
        self.params = params
        self.clock = clock
        self.session = CcxtSession(name, params, clock)
        self.supports_batch = False
        self._batch_cancel = False
        self.streams: StreamRunner | None = None
        self.sync = AccountSync(self.session)
        self.message_guard = self.session.message_guard
        self.supervisor = Supervisor()  # the bot's, once it calls use_supervisor

    # ---- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        session = self.session
        if session.exchange is not None:
            return
        exchange = build_exchange(self.name, self.params)  # AuthError when an env var is missing
        exchange.options.setdefault("warnOnFetchOpenOrdersWithoutSymbol", False)
        session.exchange = exchange
        backoff = Backoff(self.params.backoff_base_s, self.params.backoff_max_s)
        session.rest = RestCaller(self.name, exchange, backoff, self.params.max_retries)
        install_response_hook(exchange)
        self.message_guard.install(exchange)
        retrieve_orphan_errors(exchange)
        try:
            await self.load_markets()
            if session.has_credentials:
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
            len(session.markets),
            "yes" if has.get("watchOrderBook") else "no (REST polling)",
            "yes" if self.supports_batch else "no",
            "trading" if session.has_credentials else "market data only (no credentials)",
        )

    async def close(self) -> None:
        if self.streams is not None:
            await self.streams.stop()
            self.streams = None
        exchange, self.session.exchange = self.session.exchange, None
        if exchange is not None:
            try:
                await exchange.close()
            except Exception as exc:  # closing must not mask the error that led here
                log.warning("%s: error while closing the exchange session: %s", self.name, exc)

    # ---- markets -----------------------------------------------------------------------------

    async def load_markets(self) -> dict[str, Market]:
        session = self.session
        if session.markets:
            return dict(session.markets)
        exchange, rest = session.connected()
        raw = await rest.call("load_markets", lambda: exchange.load_markets())
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
        session.markets = markets
        return dict(markets)

    def _with_fee_overrides(self, market: Market) -> Market:
        """ccxt reports an exchange's default tier; an account's real rates come from the config."""
        p = self.params
        return dataclasses.replace(
            market,
            maker_fee_bps=market.maker_fee_bps if p.maker_fee_bps is None else p.maker_fee_bps,
            taker_fee_bps=market.taker_fee_bps if p.taker_fee_bps is None else p.taker_fee_bps,
        )

    # ---- streams -----------------------------------------------------------------------------

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """bot.core.supervision.UsesSupervisor: stream tasks run under the bot's supervisor."""
        self.supervisor = supervisor

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        session = self.session
        session.connected()
        for symbol in symbols:
            session.market(symbol)
        if self.streams is not None:
            await self.streams.stop()
        session.sink = sink
        self.streams = StreamRunner(session, self.sync, symbols, sink, self.supervisor)
        self.streams.start()
        # Return once own orders and fills are streaming, so nothing placed next goes unseen;
        # then one REST pass covers whatever happened before the subscription.
        await self.streams.wait_ready(STREAM_READY_TIMEOUT_S)
        if session.has_credentials:
            try:
                await self.streams.catch_up()
            except VenueError as exc:
                log.warning("%s: initial catch-up failed (the periodic one will retry): %s", self.name, exc)
        if self.streams.health.connected:
            sink(VenueStatus(self.name, True, f"streaming {len(symbols)} markets", self.clock.now_ns()))

    async def stream_markets(self, symbols: Sequence[str]) -> None:
        """connectors.base.StreamedMarkets: change the streamed markets in place (hot reload)."""
        if self.streams is None:
            raise VenueUnavailable(self.name, "stream_markets: start_streams() first")
        for symbol in symbols:
            self.session.market(symbol)
        await self.streams.stream_markets(symbols)

    @property
    def stale_symbols(self) -> frozenset[str]:
        """Markets whose book is lost or stale right now (quotes must stay pulled)."""
        return frozenset(self.streams.stale) if self.streams is not None else frozenset()

    # ---- orders ------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        session = self.session
        exchange, rest = session.trading("place_order")
        market = session.market(request.symbol)
        await session.budget.acquire()
        session.tracker.placed(request.client_order_id, market.symbol)
        try:
            order = await create_checked(session, exchange, rest, market, request)
        except VenueUnavailable:
            raise  # outcome unknown: stays in tracker.live, so catch-up asks the venue about it
        except VenueError:
            session.tracker.live.pop(request.client_order_id, None)
            raise
        return ack(session, market, request, order)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        session = self.session
        exchange, rest = session.trading("cancel_order")
        market = session.market(symbol)
        await session.budget.acquire()
        order_id = session.tracker.oid_for(client_order_id) or client_order_id
        order = await rest.call(
            f"cancel_order {client_order_id} {symbol}",
            lambda: exchange.cancel_order(order_id, symbol, {"clientOrderId": client_order_id}),
        )
        # Binance-style acks name the cancel request's own id as clientOrderId: we know ours.
        update = replace(
            convert.to_order_update(market, order, self.clock.now_ns()), client_order_id=client_order_id
        )
        if update.state.is_live and order.get("status") is None:
            update = replace(update, state=OrderState.CANCELLED)  # bare ack: id only
        session.tracker.on_update(update)
        return update

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        if self.supports_batch and len(requests) > 1:
            try:
                return await batch.place_batch(self.session, requests)
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
            results = await batch.cancel_batch(self.session, orders[0][0], [cid for _, cid in orders])
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
        exchange, rest = self.session.trading("cancel_all_orders_after")
        if not exchange.has.get("cancelAllOrdersAfter"):
            return False
        await rest.call(
            f"cancel_all_orders_after {timeout_s}s",
            lambda: exchange.cancel_all_orders_after(int(timeout_s * 1000)),
        )
        return True

    # ---- queries -----------------------------------------------------------------------------

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        return await queries.fetch_order(self.session, symbol, client_order_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        return await queries.fetch_open_orders(self.session, symbol)

    async def fetch_balances(self) -> dict[str, Balance]:
        return await queries.fetch_balances(self.session)

    async def price_history(self, symbol: str, since_ns: int, interval_s: int = 60) -> PriceHistory:
        """connectors.base.PriceHistorySource: the exchange's candle closes (connectors.ccxt.candles)."""
        return await candles.price_history(self.session, symbol, since_ns, interval_s)

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        session = self.session
        session.require_credentials("fetch_fills")
        streamed = self.streams.account_symbols if self.streams else []
        symbols = [symbol] if symbol is not None else list(streamed)
        since_ms = since_ns // convert.NS_PER_MS if since_ns is not None else None
        fills: list[Fill] = []
        seen: set[str] = set()
        now = self.clock.now_ns()
        for sym in symbols:
            market = session.market(sym)
            for trade in await queries.fetch_trades_raw(session, sym, since_ms):
                trade_id = str(trade.get("id"))
                if trade_id in seen:
                    continue
                seen.add(trade_id)
                cid = await self.sync.trade_client_order_id(market, trade)
                fills.append(convert.to_fill(market, trade, cid, now))
        fills.sort(key=lambda f: (f.exchange_ts_ns, f.venue_trade_id))
        return fills
