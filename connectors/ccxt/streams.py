"""The venue's push side: ccxt.pro watch_* loops (or REST polling), stale-book watchdog, catch-up.

One supervised task per stream (bot.core.supervision). Any error ends the stream's run and the
supervisor runs it again after a backoff with jitter; ccxt opens a new connection, resubscribes,
and for books fetches a fresh REST snapshot before applying deltas, i.e. a full resync. A lost
private stream marks the venue disconnected (StreamHealth, VenueStatus: every quote of the venue
is pulled); a lost or stalled book marks only its market's book not live (BookFreshness,
BookStatus; the stall watchdog is connectors.ccxt.book_watch). A lost connection is routine (the
health line is its WARNING); anything else is a death the supervisor logs at ERROR. Own orders
and fills missed while a private stream was down are caught up over REST before the stream counts
as healthy. The set of streamed markets can change while running (`stream_markets`, hot reload):
a removed market's supervised tasks end and its book and trade subscriptions too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import ccxt

from bot.core.backoff import Backoff
from bot.core.supervision import RestartPolicy, Supervisor, TaskState
from connectors.base import EventSink, VenueError
from connectors.ccxt import convert, sanity, ws_clients
from connectors.ccxt.account_sync import AccountSync
from connectors.ccxt.book_watch import BookWatch
from connectors.ccxt.health import BookFreshness, StreamHealth
from connectors.ccxt.pacing import sleep_or_wake
from connectors.ccxt.session import CcxtSession
from connectors.ccxt.stream_handlers import StreamHandlers

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
        # Own orders and fills are caught up on every market ever streamed here: a market removed
        # by a reload can still see the last fills of orders it had.
        self.account_symbols = list(symbols)
        self.sink = sink
        self.health = StreamHealth(session.name, session.clock, sink)
        self.books = BookFreshness(session.name, session.clock, sink)
        self.watch = BookWatch(session, self.books, self._emit_book, self._book_stream_up)
        self.handlers = StreamHandlers(session, sync, sink)
        self.supervisor = supervisor
        self.policy = RestartPolicy(
            self.params.backoff_base_s, self.params.backoff_max_s, expected=ROUTINE_ERRORS
        )
        # Paces resnapshots after messages ccxt could not apply (they do not end the stream's run).
        self.backoff = Backoff(self.params.backoff_base_s, self.params.backoff_max_s)
        self._tasks: list[str] = []  # supervised task names
        self._market_tasks: dict[str, list[str]] = {}
        self._has: dict[str, Any] = {}
        self._catch_up_lock = asyncio.Lock()
        self.ready: dict[str, asyncio.Event] = {}
        self.started_ms = self.clock.now_ns() // 1_000_000

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def stale(self) -> frozenset[str]:
        """Markets whose book is not live right now (lost or stalled)."""
        return frozenset(self.books.stale)

    @property
    def last_book_ns(self) -> dict[str, int]:
        return self.watch.last_book_ns

    @property
    def resyncs(self) -> int:
        return self.watch.resyncs

    def start(self) -> None:
        has = dict(self.exchange.has)
        if not self.params.use_websockets:
            has = {k: v for k, v in has.items() if not k.startswith("watch")}
        self._has = has
        for symbol in self.symbols:
            self._start_market(symbol)
        if self.session.has_credentials:
            self._start_private(has)
        self._spawn("watchdog", self.watch.run)

    def _start_market(self, symbol: str) -> None:
        has, spawn = self._has, partial(self._spawn, market=symbol)
        handlers = self.handlers
        self.watch.watch(symbol)
        book, trades = f"book:{symbol}", f"trades:{symbol}"
        if has.get("watchOrderBook"):
            spawn(book, partial(self._book_stream, symbol), reports_up=True)
        else:
            spawn(book, partial(self._poll, book, partial(self._poll_book, symbol)))
        if has.get("watchTrades"):
            spawn(trades, partial(self._trade_stream, symbol))
        elif has.get("fetchTrades"):
            spawn(trades, partial(self._poll, trades, partial(handlers.poll_trades, symbol)))

    async def stream_markets(self, symbols: Sequence[str]) -> None:
        """Stream exactly `symbols` from now on: new ones start, removed ones stop (unsubscribed)."""
        wanted = list(dict.fromkeys(symbols))
        for symbol in [s for s in self.symbols if s not in wanted]:
            await self._stop_market(symbol)
        for symbol in [s for s in wanted if s not in self.symbols]:
            self._start_market(symbol)
            if symbol not in self.account_symbols:
                self.account_symbols.append(symbol)
        self.symbols = wanted

    async def _stop_market(self, symbol: str) -> None:
        """End the market's supervised tasks (the supervisor forgets them), then its subscriptions."""
        names = self._market_tasks.pop(symbol, [])
        for name in names:
            await self.supervisor.cancel(name)
        self._tasks = [n for n in self._tasks if n not in names]
        await self.watch.unwatch(symbol, self._has)

    def _start_private(self, has: dict[str, Any]) -> None:
        spawn, handlers = self._spawn, self.handlers
        streams = (
            ("orders", "watchOrders", self.exchange.watch_orders, handlers.on_orders),
            ("fills", "watchMyTrades", self.exchange.watch_my_trades, handlers.on_my_trades),
            ("balance", "watchBalance", self.exchange.watch_balance, handlers.on_balance),
        )
        for key, flag, watch, handle in streams:
            if has.get(flag):
                self.ready[key] = asyncio.Event()
                spawn(key, partial(self._private_stream, key, watch, handle), reports_up=True)
        if not has.get("watchBalance"):
            spawn("balance", partial(self._poll, "balance", handlers.poll_balance))
        if not (has.get("watchOrders") and has.get("watchMyTrades")):
            # No push for own orders or fills: REST catch-up at the polling rate instead.
            spawn("catch-up", partial(self._poll, "catch-up", self.catch_up, self.params.poll_interval_s))
        # start_streams runs the first catch-up itself, once the private streams are up. A skipped
        # frame or a held-back fill sets catch_up_wanted: the reconcile runs at once then.
        every, wake = self.params.reconcile_interval_s, self.session.catch_up_wanted
        spawn("reconcile", partial(self._poll, "reconcile", self.catch_up, every, wait_first=True, wake=wake))

    def _task_name(self, key: str) -> str:
        return f"{self.name}:{key}"

    def _spawn(
        self,
        key: str,
        run: Callable[[], Awaitable[None]],
        *,
        reports_up: bool = False,
        market: str | None = None,
    ) -> None:
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
        if market is not None:
            self._market_tasks.setdefault(market, []).append(name)

    def _lost(self, key: str, detail: str) -> None:
        """A stream's run ended: pull quotes where it matters until it is back (and caught up)."""
        if key.startswith("book:"):
            symbol = key.removeprefix("book:")
            self.books.lost(symbol, f"book stream {symbol} lost: {detail}")
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
        self._market_tasks.clear()

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
        snapshot = convert.to_book_snapshot(market, book, depth, now)
        self.watch.seen(symbol, (snapshot.bids, snapshot.asks), now)
        self.sink(snapshot)
        if self.books.is_stale(symbol):
            self.books.live(symbol, "book resynced")
            self.supervisor.up(self._task_name(f"book:{symbol}"), "book resynced")
        return True

    async def _book_stream(self, symbol: str) -> None:
        attempt = 0
        while True:
            try:
                book = await self.exchange.watch_order_book(symbol)
            except ccxt.BaseError:
                raise  # a lost connection (routine) or a real error: the supervisor's to handle
            except Exception as exc:  # not ccxt's own error: ccxt failed on a delta (price "abc")
                # One bad message, not a dead stream: no supervisor death (no ERROR), no restart.
                self.session.message_guard.ccxt_rejected(f"{symbol} book update", exc)
                await self.watch.force_resync(symbol)  # ccxt's book holds part of it: resnapshot
                await asyncio.sleep(self.backoff.delay_s(attempt))
                attempt = min(attempt + 1, 10)
                continue
            attempt = 0
            if not self._emit_book(symbol, book):
                # ccxt's copy of the book now holds the bad level: drop it and resnapshot.
                await self.watch.force_resync(symbol)

    def _book_stream_up(self, symbol: str) -> bool:
        """False while the supervisor restarts the book stream (it reconnects and resnapshots
        already: dropping its new connection would only stop it again)."""
        status = self.supervisor.status(self._task_name(f"book:{symbol}"))
        return status is None or status.state is TaskState.UP

    async def _poll_book(self, symbol: str) -> None:
        book = await self.rest.call(
            f"fetch_order_book {symbol}", lambda: self.exchange.fetch_order_book(symbol)
        )
        self._emit_book(symbol, book)

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
                self.handlers.emit_public_trade(market, trade, now)

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

    async def catch_up(self) -> None:
        """REST pass over open orders, orders we think live, recent fills and balances."""
        async with self._catch_up_lock:
            await self.sync.catch_up(self.account_symbols, self.started_ms)

    # ---- polling -----------------------------------------------------------------------------

    async def _poll(
        self,
        key: str,
        job: Callable[[], Awaitable[None]],
        interval_s: float | None = None,
        *,
        wait_first: bool = False,
        wake: asyncio.Event | None = None,
    ) -> None:
        """Run `job` every `interval_s`; `wake`, when set, runs it at once (then it is cleared)."""
        interval = interval_s or self.params.poll_interval_s
        pause = partial(sleep_or_wake, wake) if wake is not None else asyncio.sleep
        if wait_first:
            await pause(interval)
        while True:
            try:
                await job()
            except VenueError as exc:
                if key.startswith("book:"):
                    self.books.lost(key.removeprefix("book:"), f"{key} polling failed: {exc}")
                log.debug("%s: %s poll failed: %s", self.name, key, exc)
            await pause(interval)
