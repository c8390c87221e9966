"""The venue's push side: ccxt.pro watch_* loops (or REST polling), stale-book watchdog, catch-up.

One task per stream. A private stream error marks it failed in StreamHealth (VenueStatus
connected=False: the venue's quotes are pulled); a book stream error or a stalled book marks only
that market's book not live (BookStatus, connectors.ccxt.book_watch). The loop simply calls
watch_* again: ccxt opens a new connection, resubscribes, and for books fetches a fresh REST
snapshot before applying deltas, i.e. a full resync. Own orders and fills missed while a private
stream was down are caught up over REST before the stream counts as healthy. The set of streamed
markets can change while running (`stream_markets`, hot reload): a removed market's book and
trade subscriptions end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import ccxt

from bot.core.domain import Market
from bot.core.events import BalanceUpdate
from connectors.base import EventSink, VenueError
from connectors.ccxt import convert, queries, sanity
from connectors.ccxt.account_sync import AccountSync
from connectors.ccxt.book_watch import BookWatch
from connectors.ccxt.health import BookFreshness, StreamHealth
from connectors.ccxt.pacing import Backoff, sleep_or_wake
from connectors.ccxt.session import CcxtSession

log = logging.getLogger("mmbot.ccxt")

# A private stream still waiting (no error) this long after a reconnect has resubscribed.
RESUBSCRIBE_GRACE_S = 0.5


def _stream_lost(exc: BaseException) -> bool:
    """ccxt cancels the futures of a client it closes: that is a lost stream, not our cancel."""
    if isinstance(exc, asyncio.CancelledError):
        task = asyncio.current_task()
        return task is not None and task.cancelling() == 0
    return isinstance(exc, ccxt.BaseError)


class StreamRunner:
    def __init__(
        self, session: CcxtSession, sync: AccountSync, symbols: Sequence[str], sink: EventSink
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
        self.watch = BookWatch(session, self.books, self._emit_book)
        self.backoff = Backoff(self.params.backoff_base_s, self.params.backoff_max_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._market_tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._has: dict[str, Any] = {}
        self._catch_up_lock = asyncio.Lock()
        self._seen_public: dict[str, set[str]] = {}
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
        self._spawn("watchdog", self.watch.run())

    def _start_market(self, symbol: str) -> None:
        has, spawn = self._has, partial(self._spawn, market=symbol)
        self.watch.watch(symbol)
        if has.get("watchOrderBook"):
            spawn(f"book:{symbol}", self._book_stream(symbol))
        else:
            spawn(f"book:{symbol}", self._poll(f"book:{symbol}", partial(self._poll_book, symbol)))
        if has.get("watchTrades"):
            spawn(f"trades:{symbol}", self._trade_stream(symbol))
        elif has.get("fetchTrades"):
            spawn(f"trades:{symbol}", self._poll(f"trades:{symbol}", partial(self._poll_trades, symbol)))

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
        tasks = self._market_tasks.pop(symbol, [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = [t for t in self._tasks if t not in tasks]
        await self.watch.unwatch(symbol, self._has)

    def _start_private(self, has: dict[str, Any]) -> None:
        spawn = self._spawn
        for key, flag in (("orders", "watchOrders"), ("fills", "watchMyTrades"), ("balance", "watchBalance")):
            if has.get(flag):
                self.ready[key] = asyncio.Event()
        if has.get("watchOrders"):
            spawn("orders", self._private_stream("orders", self.exchange.watch_orders, self._on_orders))
        if has.get("watchMyTrades"):
            spawn("fills", self._private_stream("fills", self.exchange.watch_my_trades, self._on_my_trades))
        if has.get("watchBalance"):
            spawn("balance", self._private_stream("balance", self.exchange.watch_balance, self._on_balance))
        else:
            spawn("balance", self._poll("balance", self._poll_balance))
        if not (has.get("watchOrders") and has.get("watchMyTrades")):
            # No push for own orders or fills: REST catch-up at the polling rate instead.
            spawn("catch-up", self._poll("catch-up", self.catch_up, self.params.poll_interval_s))
        # start_streams runs the first catch-up itself, once the private streams are up.
        every, wake = self.params.reconcile_interval_s, self.session.catch_up_wanted
        reconcile = self._poll("reconcile", self.catch_up, every, wait_first=True, wake=wake)
        spawn("reconcile", reconcile)

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None], market: str | None = None) -> None:
        task = asyncio.create_task(coro, name=f"{self.name}:{name}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        if market is not None:
            self._market_tasks.setdefault(market, []).append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: stream task %s died", self.name, task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
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
        self.books.live(symbol, "book resynced")
        return True

    async def _book_stream(self, symbol: str) -> None:
        attempt = 0
        while True:
            try:
                book = await self.exchange.watch_order_book(symbol)
            except (ccxt.BaseError, asyncio.CancelledError) as exc:
                if not _stream_lost(exc):
                    raise
                self.books.lost(symbol, f"book stream {symbol} lost: {type(exc).__name__}: {exc}")
                await asyncio.sleep(self.backoff.delay_s(attempt))
                attempt = min(attempt + 1, 10)
                continue
            except Exception as exc:  # not ccxt's own error: ccxt failed on a delta (price "abc")
                self.session.message_guard.ccxt_rejected(f"{symbol} book update", exc)
                await self.watch.force_resync(symbol)  # ccxt's book holds part of it: resnapshot
                await asyncio.sleep(self.backoff.delay_s(attempt))
                attempt = min(attempt + 1, 10)
                continue
            attempt = 0
            if not self._emit_book(symbol, book):
                # ccxt's copy of the book now holds the bad level: drop it and resnapshot.
                await self.watch.force_resync(symbol)

    async def _poll_book(self, symbol: str) -> None:
        book = await self.rest.call(
            f"fetch_order_book {symbol}", lambda: self.exchange.fetch_order_book(symbol)
        )
        self._emit_book(symbol, book)

    # ---- public trades -----------------------------------------------------------------------

    async def _trade_stream(self, symbol: str) -> None:
        market = self.session.markets[symbol]
        attempt = 0
        while True:
            try:
                trades = await self.exchange.watch_trades(symbol)
            except (ccxt.BaseError, asyncio.CancelledError) as exc:
                if not _stream_lost(exc):
                    raise
                if attempt == 0:
                    log.warning("%s: trade stream %s lost: %s", self.name, symbol, exc)
                await asyncio.sleep(self.backoff.delay_s(attempt))
                attempt = min(attempt + 1, 10)
                continue
            attempt = 0
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
        """Loop over one private watch_*; `ready[key]` is set once it has subscribed (or failed).

        "Subscribed" is a watch still pending, without error, RESUBSCRIBE_GRACE_S after the call:
        ccxt.pro has no generic subscription ack, and connect or auth errors surface sooner.
        """
        ready = self.ready.setdefault(key, asyncio.Event())
        attempt = 0
        pending: asyncio.Future[Any] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(watch())
                if not ready.is_set() or self.health.failing(key):
                    done, _ = await asyncio.wait({pending}, timeout=RESUBSCRIBE_GRACE_S)
                    if not done:
                        if not ready.is_set():
                            ready.set()
                        elif await self._recovered(key):
                            attempt = 0
                        else:
                            await asyncio.sleep(self.backoff.delay_s(attempt))
                            attempt = min(attempt + 1, 10)
                        continue
                try:
                    result = await pending
                except (ccxt.BaseError, asyncio.CancelledError) as exc:
                    if not _stream_lost(exc):
                        raise
                    pending = None
                    self.health.fail(key, f"{key} stream lost: {type(exc).__name__}: {exc}")
                    ready.set()
                    await asyncio.sleep(self.backoff.delay_s(attempt))
                    attempt = min(attempt + 1, 10)
                    continue
                pending = None
                ready.set()
                await handle(result)
                if self.health.failing(key) and await self._recovered(key):
                    attempt = 0
        finally:
            if pending is not None:
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

    async def _recovered(self, key: str) -> bool:
        """The stream resubscribed: catch up what it missed over REST, then count it healthy."""
        try:
            await self.catch_up()
        except VenueError as exc:
            log.warning("%s: catch-up after %s reconnect failed: %s", self.name, key, exc)
            return False
        self.health.ok(key, "resubscribed, caught up over REST")
        return True

    async def _on_orders(self, orders: list[dict[str, Any]]) -> None:
        now = self.clock.now_ns()
        for order in orders:
            market = self.session.markets.get(order.get("symbol") or "")
            if market is None:
                continue
            problem = sanity.order_problem(order, float(market.tick_size), float(market.lot_size))
            if self.session.message_guard.from_skipped_frame(order):
                problem = "parsed from a frame that was skipped"
            if problem is not None:  # the REST catch-up reads the order's real state
                self.session.skip_message(f"{market.symbol} order update", problem, order)
                continue
            self.sync.emit_order(market, order, now)

    async def _on_my_trades(self, trades: list[dict[str, Any]]) -> None:
        await self.sync.emit_stream_fills(trades)  # one held back wakes the REST catch-up

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
