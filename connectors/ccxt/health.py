"""Connectivity of one venue's streams, folded into VenueStatus events on every transition."""

from __future__ import annotations

import logging

from bot.core.clock import Clock
from bot.core.events import VenueStatus
from connectors.base import EventSink

log = logging.getLogger("mmbot.ccxt")


class StreamHealth:
    """A set of named problems (`book:BTC/USDT`, `orders`, ...): any problem means disconnected.

    Emits VenueStatus(connected=False) when the first problem appears and VenueStatus(True) when
    the last one clears, so the engine pulls quotes exactly while a stream is lost or stale.
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
