"""The stale-book watchdog: a silent book is asked about over REST before its quotes are pulled.

A book stream that says nothing for `stale_book_s` is either quiet (nothing changed on the venue)
or stalled (updates are being lost on a connection that looks alive). Only the venue can tell
them apart, so the watchdog reads the REST book:

- the REST book's top `book_depth` levels equal the last book we streamed: the book is quiet. It
  stays live and the REST copy goes out as a fresh BookSnapshot (the book is known to be current
  as of now), so nothing downstream ages it either. Costs one REST book request per quiet market
  per `stale_book_s`.
- they differ and the stream still says nothing within a short grace (an update already on its
  way would arrive in that time): the stream lost updates. That market's book is not live
  (BookStatus: only its quotes are pulled) and its connection is dropped to resnapshot.
- the REST book cannot be read: the book cannot be confirmed, so it is not live either.

A book stream the supervisor is restarting (its connection was lost) reconnects and resnapshots by
itself: the watchdog marks its book not live but does not drop the new connection (that would only
stop it again); `stream_up` tells the two apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import ccxt

from bot.core.clock import NS_PER_S
from connectors.base import VenueError
from connectors.ccxt import convert, ws_clients
from connectors.ccxt.health import BookFreshness
from connectors.ccxt.session import CcxtSession

log = logging.getLogger("mmbot.ccxt")

# (what we watched with, ccxt's flag for ending it, its method)
_UNWATCH = (
    ("watchOrderBook", "unWatchOrderBook", "un_watch_order_book"),
    ("watchTrades", "unWatchTrades", "un_watch_trades"),
)

Levels = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


class BookWatch:
    """Per watched market: when its book last came, what it held; the watchdog loop over them."""

    def __init__(
        self,
        session: CcxtSession,
        freshness: BookFreshness,
        emit: Callable[[str, Any], bool],
        stream_up: Callable[[str], bool],
    ) -> None:
        self.session = session
        self.exchange, self.rest = session.connected()
        self.name = session.name
        self.clock = session.clock
        self.params = session.params
        self.freshness = freshness
        self.emit = emit  # pushes a ccxt book of a symbol as a BookSnapshot; False if refused
        self.stream_up = stream_up  # False while the supervisor restarts the symbol's book stream
        self.last_book_ns: dict[str, int] = {}
        self.last_levels: dict[str, Levels] = {}
        self.resyncs = 0
        self.confirmed_quiet: Counter[str] = Counter()  # silent books REST showed unchanged (kept live)
        self._last_forced: dict[str, int] = {}

    @property
    def stale_ns(self) -> int:
        return int(self.params.stale_book_s * NS_PER_S)

    def watch(self, symbol: str) -> None:
        self.last_book_ns[symbol] = self.clock.now_ns()

    async def unwatch(self, symbol: str, streamed: Mapping[str, Any]) -> None:
        """No more verdicts on `symbol`; its book and trade subscriptions end on the venue too
        (ccxt would keep them, and the venue keep sending). `streamed`: the `has` flags in use."""
        for table in (self.last_book_ns, self.last_levels, self._last_forced):
            table.pop(symbol, None)
        self.freshness.forget(symbol)
        has = self.exchange.has
        for watched, unwatch_flag, unwatch in _UNWATCH:
            if not (streamed.get(watched) and has.get(unwatch_flag)):
                continue
            try:
                await getattr(self.exchange, unwatch)(symbol)
            except ccxt.BaseError as exc:  # a connection already gone has nothing left to end
                log.info("%s: %s %s: %s", self.name, unwatch, symbol, exc)
        log.info("%s: stopped streaming %s", self.name, symbol)

    def seen(self, symbol: str, levels: Levels, now_ns: int) -> None:
        """A book of `symbol` went out (stream, poll or confirmation)."""
        if symbol in self.last_book_ns:
            self.last_book_ns[symbol] = now_ns
            self.last_levels[symbol] = levels

    async def run(self) -> None:
        period = min(1.0, self.params.stale_book_s / 4)
        while True:
            await asyncio.sleep(period)
            now = self.clock.now_ns()
            due = [s for s, last in self.last_book_ns.items() if now - last > self.stale_ns]
            if due:
                await asyncio.gather(*(self._check(symbol, now) for symbol in due))

    async def _check(self, symbol: str, now: int) -> None:
        since = self.last_book_ns.get(symbol)
        if since is None:
            return  # unwatched meanwhile
        idle_s = (now - since) / NS_PER_S
        if self.freshness.is_stale(symbol):
            await self._resync_again(symbol, now)
            return
        try:
            book = await self.rest.call(
                f"fetch_order_book {symbol}", lambda: self.exchange.fetch_order_book(symbol)
            )
        except VenueError as exc:
            detail = f"no update for {idle_s:.1f}s, REST book unreadable ({exc})"
            await self._lost(symbol, f"book {symbol} stale: {detail}")
            return
        if self.last_book_ns.get(symbol) != since or self.freshness.is_stale(symbol):
            # the stream spoke meanwhile (or the market was unwatched), or it was lost meanwhile:
            # then only its own resnapshot makes the book live again, not this read
            return
        market = self.session.markets[symbol]
        snap = convert.to_book_snapshot(market, book, self.params.book_depth, now)
        if (snap.bids, snap.asks) == self.last_levels.get(symbol):
            self.confirmed_quiet[symbol] += 1
            log.debug("%s: book %s quiet for %.1fs, unchanged on the venue", self.name, symbol, idle_s)
            self.emit(symbol, book)
            return
        await asyncio.sleep(min(0.5, self.params.stale_book_s / 4))
        if self.last_book_ns.get(symbol) != since:
            return  # the update was on its way
        detail = f"no update for {idle_s:.1f}s while the venue's book moved"
        await self._lost(symbol, f"book {symbol} stale: {detail}")

    async def _lost(self, symbol: str, detail: str) -> None:
        self.freshness.lost(symbol, detail)
        self._last_forced[symbol] = self.clock.now_ns()
        if self.stream_up(symbol):
            await self.force_resync(symbol)

    async def _resync_again(self, symbol: str, now: int) -> None:
        """Still not live: drop its connection again every stale_book_s until a book comes."""
        if now - self._last_forced.get(symbol, 0) > self.stale_ns and self.stream_up(symbol):
            self._last_forced[symbol] = now
            await self.force_resync(symbol)

    async def force_resync(self, symbol: str) -> None:
        """Drop the websocket carrying this book: the stream loop reconnects and resnapshots."""
        for url, client in ws_clients.book_connections(self.exchange, symbol):
            self.resyncs += 1
            log.warning("%s: dropping stream connection for %s to resync", self.name, symbol)
            error = ccxt.NetworkError(f"{self.name}: {symbol} book stale, reconnecting")
            ws_clients.drop(self.exchange, url, client, error)
            with contextlib.suppress(Exception):
                await client.close()
