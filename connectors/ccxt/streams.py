"""The venue's push side: ccxt.pro watch_* loops (or REST polling), stale-book watchdog, catch-up.

One supervised task per stream (bot.core.supervision). Any error ends the stream's run: it is
marked failed in StreamHealth (VenueStatus connected=False) and the supervisor runs it again after a
backoff with jitter; ccxt opens a new connection, resubscribes, and for books fetches a fresh REST
snapshot before applying deltas, i.e. a full resync. A lost connection is routine (the health line
is its WARNING); anything else is a death the supervisor logs at ERROR. Own orders and fills missed
while a private stream was down are caught up over REST before the stream counts as healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import ccxt

from bot.core.clock import NS_PER_S
from bot.core.domain import Market
from bot.core.events import BalanceUpdate
from bot.core.supervision import RestartPolicy, Supervisor, TaskState
from connectors.base import EventSink, VenueError
from connectors.ccxt import convert, queries, sanity, ws_clients
from connectors.ccxt.account_sync import AccountSync
from connectors.ccxt.health import StreamHealth
from connectors.ccxt.session import CcxtSession

log = logging.getLogger("mmbot.ccxt")

# A private stream still waiting (no error) this long after a reconnect has resubscribed.
RESUBSCRIBE_GRACE_S = 0.5


class StreamClosed(Exception):
    """ccxt cancelled the future a stream awaited (it closed that connection): a lost stream."""


# What a lost or refused connection raises: routine, reported by StreamHealth, not an ERROR.
ROUTINE_ERRORS: tuple[type[Exception], ...] = (ccxt.NetworkError, StreamClosed, VenueError)


def _cancelled_by_us() -> bool:
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


class StreamRunner:
    def __init__(
        self,
        session: CcxtSession,
        sync: AccountSync,
        symbols: Sequence[str],
        sink: EventSink,
        supervisor: Supervisor,
    ) -> None:
        self.session = session
        self.sync = sync
        self.exchange, self.rest = session.connected()
        self.name = session.name
        self.params = session.params
        self.clock = session.clock
        self.symbols = list(symbols)
        self.sink = sink
        self.health = StreamHealth(session.name, session.clock, sink)
        self.supervisor = supervisor
        self.policy = RestartPolicy(
            self.params.backoff_base_s, self.params.backoff_max_s, expected=ROUTINE_ERRORS
        )
        self.last_book_ns: dict[str, int] = {}
        self.stale: set[str] = set()
        self.resyncs = 0
        self._tasks: list[str] = []  # supervised task names
        self._catch_up_lock = asyncio.Lock()
        self._seen_public: dict[str, set[str]] = {}
        self.ready: dict[str, asyncio.Event] = {}
        self.started_ms = self.clock.now_ns() // 1_000_000

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        has = dict(self.exchange.has)
        if not self.params.use_websockets:
            has = {k: v for k, v in has.items() if not k.startswith("watch")}
        now = self.clock.now_ns()
        spawn = self._spawn
        for symbol in self.symbols:
            self.last_book_ns[symbol] = now
            book, trades = f"book:{symbol}", f"trades:{symbol}"
            if has.get("watchOrderBook"):
                spawn(book, partial(self._book_stream, symbol), reports_up=True)
            else:
                spawn(book, partial(self._poll, book, partial(self._poll_book, symbol)))
            if has.get("watchTrades"):
                spawn(trades, partial(self._trade_stream, symbol))
            elif has.get("fetchTrades"):
                spawn(trades, partial(self._poll, trades, partial(self._poll_trades, symbol)))
        if self.session.has_credentials:
            self._start_private(has)
        spawn("watchdog", self._watchdog)

    def _start_private(self, has: dict[str, Any]) -> None:
        spawn = self._spawn
        streams = (
            ("orders", "watchOrders", self.exchange.watch_orders, self._on_orders),
            ("fills", "watchMyTrades", self.exchange.watch_my_trades, self._on_my_trades),
            ("balance", "watchBalance", self.exchange.watch_balance, self._on_balance),
        )
        for key, flag, watch, handle in streams:
            if has.get(flag):
                self.ready[key] = asyncio.Event()
                spawn(key, partial(self._private_stream, key, watch, handle), reports_up=True)
        if not has.get("watchBalance"):
            spawn("balance", partial(self._poll, "balance", self._poll_balance))
        if not (has.get("watchOrders") and has.get("watchMyTrades")):
            # No push for own orders or fills: REST catch-up at the polling rate instead.
            spawn("catch-up", partial(self._poll, "catch-up", self.catch_up, self.params.poll_interval_s))
        # start_streams runs the first catch-up itself, once the private streams are up.
        interval_s = self.params.reconcile_interval_s
        spawn("reconcile", partial(self._poll, "reconcile", self.catch_up, interval_s, wait_first=True))

    def _task_name(self, key: str) -> str:
        return f"{self.name}:{key}"

    def _spawn(self, key: str, run: Callable[[], Awaitable[None]], *, reports_up: bool = False) -> None:
        """Run one stream under the supervisor; its death marks the stream lost first."""

        async def stream() -> None:
            ws_clients.forget_dial_backoff(self.exchange)  # the supervisor paces reconnects
            try:
                await run()
            except asyncio.CancelledError as exc:
                if _cancelled_by_us():
                    raise
                self._lost(key, "closed by ccxt")
                raise StreamClosed(f"{self.name}: {key} closed by ccxt") from exc
            except Exception as exc:
                self._lost(key, f"{type(exc).__name__}: {exc}")
                raise

        name = self._task_name(key)
        policy = dataclasses.replace(self.policy, reports_up=reports_up)
        self.supervisor.spawn(name, stream, policy, context=f"venue {self.name}, {key} stream")
        self._tasks.append(name)

    def _lost(self, key: str, detail: str) -> None:
        """A stream's run ended: pull quotes where it matters until it is back (and caught up)."""
        if key.startswith("book:"):
            symbol = key.removeprefix("book:")
            self.stale.add(symbol)
            self.health.fail(key, f"book stream {symbol} lost: {detail}")
        elif key in self.ready:
            self.health.fail(key, f"{key} stream lost: {detail}")
            self.ready[key].set()  # failed counts as settled for wait_ready
            self._drop_private_connections(key)
        else:
            status = self.supervisor.status(self._task_name(key))
            if status is not None and status.state is TaskState.UP:  # once per outage
                log.warning("%s: %s stream lost: %s", self.name, key, detail)

    async def stop(self) -> None:
        for name in self._tasks:
            await self.supervisor.cancel(name)
        self._tasks.clear()

    # ---- books -------------------------------------------------------------------------------

    def _emit_book(self, symbol: str, book: Any) -> bool:
        """Push the book; False (nothing pushed) when it holds an absurd or crossed level."""
        market = self.session.markets[symbol]
        depth = self.params.book_depth
        problem = sanity.book_problem(book, depth, float(market.tick_size), float(market.lot_size))
        if problem is not None:
            self.session.skip_message(f"{symbol} book update", problem + "; resyncing the book")
            return False
        now = self.clock.now_ns()
        self.last_book_ns[symbol] = now
        self.sink(convert.to_book_snapshot(market, book, depth, now))
        if symbol in self.stale:
            self.stale.discard(symbol)
            self.supervisor.up(self._task_name(f"book:{symbol}"), "book resynced")
        self.health.ok(f"book:{symbol}", "book resynced")
        return True

    async def _book_stream(self, symbol: str) -> None:
        while True:
            book = await self.exchange.watch_order_book(symbol)
            if not self._emit_book(symbol, book):
                # ccxt's copy of the book now holds the bad level: drop it and resnapshot.
                await self._force_resync(symbol)

    async def _poll_book(self, symbol: str) -> None:
        book = await self.rest.call(
            f"fetch_order_book {symbol}", lambda: self.exchange.fetch_order_book(symbol)
        )
        self._emit_book(symbol, book)

    async def _watchdog(self) -> None:
        """No book update for stale_book_s: pull quotes, then force a reconnect and resync."""
        stale_ns = int(self.params.stale_book_s * NS_PER_S)
        period = min(1.0, self.params.stale_book_s / 4)
        last_forced: dict[str, int] = {}
        while True:
            await asyncio.sleep(period)
            now = self.clock.now_ns()
            for symbol in self.symbols:
                idle_ns = now - self.last_book_ns[symbol]
                if idle_ns <= stale_ns:
                    continue
                self.stale.add(symbol)
                self.health.fail(
                    f"book:{symbol}", f"book {symbol} stale: no update for {idle_ns / NS_PER_S:.1f}s"
                )
                # (a lost stream is reconnecting already: dropping its new client would stop it)
                if now - last_forced.get(symbol, 0) > stale_ns and self._book_stream_up(symbol):
                    last_forced[symbol] = now
                    await self._force_resync(symbol)

    def _book_stream_up(self, symbol: str) -> bool:
        status = self.supervisor.status(self._task_name(f"book:{symbol}"))
        return status is None or status.state is TaskState.UP

    async def _force_resync(self, symbol: str) -> None:
        """Drop the websocket carrying this book: the stream loop reconnects and resnapshots."""
        for url, client in ws_clients.book_connections(self.exchange, symbol):
            self.resyncs += 1
            log.warning("%s: dropping stream connection for %s to resync", self.name, symbol)
            error = ccxt.NetworkError(f"{self.name}: {symbol} book stale, reconnecting")
            ws_clients.drop(self.exchange, url, client, error)
            with contextlib.suppress(Exception):
                await client.close()

    def _drop_private_connections(self, key: str) -> None:
        """A private stream's run ended: drop the connections of no public stream of ours.

        A private watch cancelled mid-authentication leaves ccxt's client believing it is
        subscribed, with a signed subscribe queued for whenever that connection opens (stale by
        then: Binance -1021, then KeyError 'spot' inside ccxt). A fresh client subscribes afresh.
        """
        for url, client in ws_clients.connections_without(self.exchange, self.symbols):
            error = ccxt.NetworkError(f"{self.name}: {key} stream lost, resubscribing")
            ws_clients.drop(self.exchange, url, client, error)
            ws_clients.close_later(client)

    # ---- public trades -----------------------------------------------------------------------

    async def _trade_stream(self, symbol: str) -> None:
        market = self.session.markets[symbol]
        while True:
            trades = await self.exchange.watch_trades(symbol)
            now = self.clock.now_ns()
            for trade in trades:
                self._emit_public_trade(market, trade, now)

    def _emit_public_trade(self, market: Market, trade: dict[str, Any], now: int) -> None:
        problem = sanity.trade_problem(trade, float(market.tick_size), float(market.lot_size))
        if problem is not None:
            self.session.skip_message(f"{market.symbol} trade", problem, trade)
            return
        self.sink(convert.to_public_trade(market, trade, now))

    async def _poll_trades(self, symbol: str) -> None:
        market = self.session.markets[symbol]
        trades = await self.rest.call(f"fetch_trades {symbol}", lambda: self.exchange.fetch_trades(symbol))
        seen = self._seen_public.setdefault(symbol, set())
        first_poll = not seen
        ids = set()
        now = self.clock.now_ns()
        for trade in trades:
            trade_id = str(trade.get("id"))
            ids.add(trade_id)
            if not first_poll and trade_id not in seen:
                self._emit_public_trade(market, trade, now)
        self._seen_public[symbol] = ids  # only the last page: bounded

    # ---- own orders, fills, balances -----------------------------------------------------------

    async def _private_stream(
        self,
        key: str,
        watch: Callable[[], Awaitable[Any]],
        handle: Callable[[Any], Awaitable[None]],
    ) -> None:
        """One run of a private watch_* loop; `ready[key]` is set once it has subscribed (or failed).

        "Subscribed" is a watch still pending, without error, RESUBSCRIBE_GRACE_S after the call:
        ccxt.pro has no generic subscription ack, and connect or auth errors surface sooner. A run
        after a death catches up over REST before the stream counts as healthy again.
        """
        ready = self.ready.setdefault(key, asyncio.Event())
        pending = asyncio.ensure_future(watch())
        try:
            if not ready.is_set() or self.health.failing(key):
                done, _ = await asyncio.wait({pending}, timeout=RESUBSCRIBE_GRACE_S)
                if not done:
                    ready.set()
                    await self._recovered(key)
            while True:
                result = await pending
                ready.set()
                await handle(result)
                await self._recovered(key)
                pending = asyncio.ensure_future(watch())
        finally:
            pending.cancel()

    async def wait_ready(self, timeout_s: float) -> None:
        """Until every private stream has subscribed or failed (bounded by `timeout_s`)."""
        events = [event.wait() for event in self.ready.values()]
        if not events:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*events), timeout_s)
        except TimeoutError:
            pending = [k for k, e in self.ready.items() if not e.is_set()]
            log.warning("%s: streams %s not subscribed after %.0fs", self.name, pending, timeout_s)

    async def _recovered(self, key: str) -> None:
        """After a reconnect: catch up what the stream missed over REST, then count it healthy.

        A failed catch-up (VenueError) ends this run: the stream reconnects and tries again."""
        if not self.health.failing(key):
            return
        await self.catch_up()
        self.health.ok(key, "resubscribed, caught up over REST")
        self.supervisor.up(self._task_name(key), "resubscribed, caught up over REST")

    async def _on_orders(self, orders: list[dict[str, Any]]) -> None:
        now = self.clock.now_ns()
        for order in orders:
            market = self.session.markets.get(order.get("symbol") or "")
            if market is None:
                continue
            problem = sanity.order_problem(order, float(market.tick_size), float(market.lot_size))
            if problem is not None:  # the REST catch-up reads the order's real state
                self.session.skip_message(f"{market.symbol} order update", problem, order)
                continue
            self.sync.emit_order(market, order, now)

    async def _on_my_trades(self, trades: list[dict[str, Any]]) -> None:
        for trade in trades:
            await self.sync.emit_fill(trade)

    async def _on_balance(self, balance: dict[str, Any]) -> None:
        problem = sanity.balance_problem(balance)
        if problem is not None:
            self.session.skip_message("balance update", problem, balance)
            return
        self.sink(BalanceUpdate(self.name, convert.to_balances(balance), self.clock.now_ns()))

    async def _poll_balance(self) -> None:
        balances = await queries.fetch_balances(self.session)
        self.sink(BalanceUpdate(self.name, balances, self.clock.now_ns()))

    async def catch_up(self) -> None:
        """REST pass over open orders, orders we think live, recent fills and balances."""
        async with self._catch_up_lock:
            await self.sync.catch_up(self.symbols, self.started_ms)

    # ---- polling -----------------------------------------------------------------------------

    async def _poll(
        self,
        key: str,
        job: Callable[[], Awaitable[None]],
        interval_s: float | None = None,
        *,
        wait_first: bool = False,
    ) -> None:
        interval = interval_s or self.params.poll_interval_s
        if wait_first:
            await asyncio.sleep(interval)
        while True:
            try:
                await job()
            except VenueError as exc:
                if key.startswith("book:"):
                    self.health.fail(key, f"{key} polling failed: {exc}")
                log.debug("%s: %s poll failed: %s", self.name, key, exc)
            await asyncio.sleep(interval)
