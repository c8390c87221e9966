"""Connectivity of one venue's streams and freshness of each of its books, as events.

Two scopes, because they pull different quotes: a lost private stream (own orders, fills,
balances) makes every market of the venue unsafe to quote (VenueStatus), while a lost or stalled
book only makes its own market unsafe (BookStatus). One quiet book must not pull the others.
"""

from __future__ import annotations

import logging

from bot.core.clock import Clock
from bot.core.events import BookStatus, VenueStatus
from connectors.base import EventSink

log = logging.getLogger("mmbot.ccxt")


class StreamHealth:
    """A set of named problems (`orders`, `fills`, ...): any problem means disconnected.

    Emits VenueStatus(connected=False) when the first problem appears and VenueStatus(True) when
    the last one clears, so the engine pulls the venue's quotes exactly while a stream is lost.
    """

    def __init__(self, venue: str, clock: Clock, sink: EventSink) -> None:
        self.venue = venue
        self.clock = clock
        self.sink = sink
        self.problems: dict[str, str] = {}
        self.connected = True
        self.disconnects = 0

    def fail(self, key: str, detail: str) -> None:
        if self.problems.get(key) == detail:
            return
        if key not in self.problems:
            log.warning("%s: %s", self.venue, detail)
        self.problems[key] = detail
        if self.connected:
            self.connected = False
            self.disconnects += 1
            self.sink(VenueStatus(self.venue, False, detail, self.clock.now_ns()))

    def ok(self, key: str, detail: str = "") -> None:
        if key not in self.problems:
            return
        del self.problems[key]
        log.info("%s: %s recovered%s", self.venue, key, f" ({detail})" if detail else "")
        if not self.problems and not self.connected:
            self.connected = True
            self.sink(
                VenueStatus(self.venue, True, f"{key} recovered: {detail or 'resynced'}", self.clock.now_ns())
            )

    def failing(self, key: str) -> bool:
        return key in self.problems


class BookFreshness:
    """Which books of the venue are not live (lost or stalled), with why; BookStatus on changes."""

    def __init__(self, venue: str, clock: Clock, sink: EventSink) -> None:
        self.venue = venue
        self.clock = clock
        self.sink = sink
        self.stale: dict[str, str] = {}  # symbol -> why its book is not live
        self.pulls = 0  # live -> not live transitions: each one pulls that market's quotes

    def lost(self, symbol: str, detail: str) -> None:
        if symbol in self.stale:
            self.stale[symbol] = detail
            return
        log.warning("%s: %s", self.venue, detail)
        self.stale[symbol] = detail
        self.pulls += 1
        self.sink(BookStatus(self.venue, symbol, False, detail, self.clock.now_ns()))

    def live(self, symbol: str, detail: str) -> None:
        if self.stale.pop(symbol, None) is None:
            return
        log.info("%s: book %s live again (%s)", self.venue, symbol, detail)
        self.sink(BookStatus(self.venue, symbol, True, detail, self.clock.now_ns()))

    def forget(self, symbol: str) -> None:
        """The market is no longer streamed: no verdict on its book any more (and no event)."""
        self.stale.pop(symbol, None)

    def is_stale(self, symbol: str) -> bool:
        return symbol in self.stale
