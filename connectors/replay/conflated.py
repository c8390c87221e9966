"""The replay venue's conflated feed (`book_feed = "top_moves"`): the bot is woken only when it
must see something, the rows between are consumed in compiled code (connectors/replay/scan.py).

What the bot sees, and when:
- a book (a `BookSnapshot`, our resting orders added as always) when the best bid or ask moved by
  more than `top_move_ticks` since the last book it saw, at the time of the row that moved it;
  otherwise at most `max_book_delay_ms` after the first change it has not seen (sizes, deeper
  levels), so the book it holds is never older than that;
- the public trades received since the last delivery, each with its own timestamps, just before
  that book (so at most `max_book_delay_ms` late);
- our fills, order and balance updates exactly when the exchange made them plus the feed latency,
  as in the default feed: the venue wakes with the first row received after one that could fill
  a resting order of ours (the instant the default feed would apply it).

The exchange side (matching, queue positions, fees) is the default feed's, row by row: only what
the bot is shown of the market is conflated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from bot.core.clock import Clock
from bot.core.events import PublicTrade
from connectors.replay import layout
from connectors.replay.events import DEPTH, SNAPSHOT
from connectors.replay.exchange import ReplayExchange, Timed
from connectors.replay.scan import (
    F_BOOK_ROW,
    F_CHANGED,
    F_NTRADES,
    F_PENDING_NS,
    F_SHOWN_ASK,
    F_SHOWN_BID,
    F_STOP_ROW,
    N_FS,
    SCAN_DEADLINE,
    SCAN_FULL,
    SCAN_MOVED,
    ex_next_fill_ns,
    lo_scan,
)

_TRADES_BUFFER = 4096


class ConflatedFeed:
    def __init__(
        self,
        ex: ReplayExchange,
        clock: Clock,
        loop: asyncio.AbstractEventLoop,
        *,
        top_move_ticks: int,
        max_delay_ns: int,
        schedule: Callable[[list[Timed]], None],
        deliver_trades: Callable[[list[PublicTrade]], bool],
        publish: Callable[[], None],
        finished: asyncio.Event,
    ) -> None:
        self.ex = ex
        self.clock = clock
        self.loop = loop
        self.top_move_ticks = top_move_ticks
        self.max_delay_ns = max_delay_ns
        self._schedule = schedule
        self._deliver_trades = deliver_trades
        self._publish = publish
        self.finished = finished
        self.fs = np.zeros(N_FS, dtype=np.int64)
        self.trades: np.ndarray = np.zeros(_TRADES_BUFFER, dtype=np.int64)
        self._local_ns = ex.s.rows[layout.C_LOCAL]
        self.book_kind = SNAPSHOT if ex.has_snapshot_rows else DEPTH
        self._due_ns: int | None = None  # when the scanned-ahead delivery is due (None: no rows left)
        self._wake_ns = 0
        self._handle: asyncio.TimerHandle | None = None
        self.wakes = 0
        self.deliveries = 0

    def start(self, now_ns: int) -> None:
        self.ex.subscribe(now_ns)
        self._remember_shown()
        self._scan()
        self.replan(now_ns)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def replan(self, now_ns: int | None = None) -> None:
        """Wake at the next delivery or at the first row that could fill an order of ours, whichever
        comes first (again after each request: a new resting order may fill sooner)."""
        now_ns = self.clock.now_ns() if now_ns is None else now_ns
        s = self.ex.s
        until = self._due_ns if self._due_ns is not None else layout.INF_NS
        fill_ns = int(ex_next_fill_ns(s.rows, s.ex_order, s.st, s.oi, s.act, until))
        if fill_ns < layout.INF_NS:
            # at the first instant a row is received from then on, as the default feed would
            k = int(np.searchsorted(self._local_ns, fill_ns))
            fill_ns = int(self._local_ns[k]) if k < len(self._local_ns) else fill_ns
        wake = min(until, fill_ns)
        if wake >= layout.INF_NS:
            if self._due_ns is None:
                self.stop()
                self.finished.set()
            return
        if self._handle is not None:
            if self._wake_ns <= wake:
                return
            self._handle.cancel()
        self._wake_ns = wake
        self._handle = self.loop.call_later(max(wake - now_ns, 0) / 1e9, self._step)

    def _step(self) -> None:
        self._handle = None
        self.wakes += 1
        # float loop time can land a nanosecond short of the deadline we slept for
        now = max(self.clock.now_ns(), self._wake_ns)
        self._schedule(self.ex.advance(now))
        if self._due_ns is not None and self._due_ns <= now:
            if not self._deliver():
                return  # the stream was closed
            self._scan()
        self.replan(now)

    def _scan(self) -> None:
        ex, fs = self.ex, self.fs
        s = ex.s
        status = SCAN_FULL
        while status == SCAN_FULL:  # more prints than the buffer holds before the next delivery
            if fs.item(F_NTRADES) >= len(self.trades):
                self.trades = np.concatenate([self.trades, np.zeros_like(self.trades)])
            status = lo_scan(
                s.rows, s.books, s.st, fs, self.trades, self.book_kind, self.top_move_ticks, self.max_delay_ns
            )
        # .item(): Python ints straight away, on every delivery
        rows = s.rows
        if status == SCAN_MOVED:
            self._due_ns = rows.item(layout.C_LOCAL, fs.item(F_STOP_ROW))
        elif status == SCAN_DEADLINE:
            self._due_ns = fs.item(F_PENDING_NS) + self.max_delay_ns
        elif fs.item(F_PENDING_NS) != 0:  # SCAN_END with rows not shown yet
            self._due_ns = rows.item(layout.C_LOCAL, fs.item(F_STOP_ROW))
        else:
            self._due_ns = None

    def _deliver(self) -> bool:
        """The prints since the last delivery, then the book if it changed."""
        ex, fs = self.ex, self.fs
        rows = ex.s.rows
        self.deliveries += 1
        stop = fs.item(F_STOP_ROW)
        ex.feed_latency_ns = rows.item(layout.C_LOCAL, stop) - rows.item(layout.C_EXCH, stop)
        n = fs.item(F_NTRADES)
        if n and not self._deliver_trades(ex.public_trades(self.trades[:n])):
            return False
        changed = fs.item(F_CHANGED) != 0
        fs[F_NTRADES] = fs[F_PENDING_NS] = fs[F_CHANGED] = 0
        if changed:
            ex.book_exch_ns = rows.item(layout.C_EXCH, fs.item(F_BOOK_ROW))
            self._remember_shown()
            self._publish()
        return True

    def _remember_shown(self) -> None:
        st = self.ex.s.st
        self.fs[F_SHOWN_BID] = st[layout.S_BEST + layout.B_LO]
        self.fs[F_SHOWN_ASK] = st[layout.S_BEST + layout.B_LO + 1]
