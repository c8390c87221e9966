"""`ReplayVenue`: the `Venue` port over a recorded L2 event file, on the simulated clock.

The bot sees the file as a live feed: every row reaches it at its local timestamp (the file's
feed latency), trades as `PublicTrade`, the book as a `BookSnapshot` wherever the file says the
venue published it (at SNAPSHOT rows; without them, after a batch of depth rows that changed its
top levels), our own resting orders included as a real feed shows them. Our orders reach the
replayed exchange one order latency after the call and the answer comes back one more later
(constant, or lognormal draws taken in turn); they are matched there by the replay core's queue
model. Private-stream events (fills, order and balance updates) reach the bot one feed latency
after the exchange made them: with the market row that caused them, or after the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, OrderRequest
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, PublicTrade, VenueEvent, VenueStatus
from connectors.base import EventSink, OrderRejected, VenueError, VenueUnavailable, outcome_of
from connectors.replay import layout
from connectors.replay.conflated import ConflatedFeed
from connectors.replay.events import EventData, load_events
from connectors.replay.exchange import ReplayExchange, Timed
from connectors.replay.fast import latency_samples
from connectors.replay.params import ReplayVenueParams
from connectors.replay.recorded_latency import (
    PRIVATE,
    ROUND,
    LatencyModel,
    RecordedLatency,
    RequestKeys,
    SyntheticLatency,
    load_timing,
)
from connectors.stream_order import InOrderDelivery

T = TypeVar("T")

_LATENCY_DRAWS = 4096


class ReplayVenue:
    supports_batch = True

    def __init__(
        self, name: str, params: ReplayVenueParams, clock: Clock, *, data: EventData | None = None
    ) -> None:
        """`data` injects already-loaded events (tests, sweeps); else `params.data` is read at connect."""
        self.name = name
        self.params = params
        self.clock = clock
        self._data = data
        self.exchange: ReplayExchange | None = None
        mean_ns = params.order_latency_ms * 1e6
        self._latencies = latency_samples(
            mean_ns, params.order_latency_jitter_ms * 1e6, _LATENCY_DRAWS, params.seed
        )
        self._latency_k = 0
        self.latency: LatencyModel = SyntheticLatency(self._next_latency_ns)
        self._keys = RequestKeys()
        self._batch_ns = round(params.feed_batch_ms * 1e6)
        self._sink: EventSink | None = None
        self._published: tuple[object, object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.feed: ConflatedFeed | None = None  # book_feed = "top_moves"
        self._connected = False
        self._last_private_ns = 0
        self._private: InOrderDelivery[VenueEvent] = InOrderDelivery(self._deliver)
        self.finished = asyncio.Event()
        """Set when the last row of the file has reached the bot (or, replaying a session with its
        timing, where the session's bot stopped)."""
        self.snapshots_published = 0

    @property
    def rows_received(self) -> int:
        """Rows of the file consumed on the bot's side so far (progress of a backtest)."""
        ex = self.exchange
        return 0 if ex is None else int(ex.s.st[layout.S_LOCUR])

    # ---- lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        self._loop = asyncio.get_running_loop()
        if self.exchange is None:
            data = self._data if self._data is not None else load_events(Path(self.params.data))
            self.exchange = ReplayExchange(self.name, data, self.params)
        if self.params.session_timing is not None and not isinstance(self.latency, RecordedLatency):
            self.latency = RecordedLatency(load_timing(Path(self.params.session_timing)), self.latency)
        self._connected = True

    async def close(self) -> None:
        self._connected = False
        self._sink = None
        if self.feed is not None:
            self.feed.stop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def load_markets(self) -> dict[str, Market]:
        ex = self._require_connected()
        return {ex.market.symbol: ex.market}

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        ex = self._require_connected()
        unknown = set(symbols) - {ex.market.symbol}
        if unknown:
            raise VenueError(self.name, f"start_streams: the event file has no markets {sorted(unknown)}")
        self._sink = sink
        assert self._loop is not None
        # on the stream like the rest of it: one feed latency later
        status = VenueStatus(self.name, True, f"replaying {ex.market.symbol}", self.clock.now_ns())
        self._loop.call_later(ex.feed_latency_ns / 1e9, self._deliver, status)
        if self.params.book_feed == "top_moves":
            self.feed = ConflatedFeed(
                ex, self.clock, self._loop,
                top_move_ticks=self.params.top_move_ticks,
                max_delay_ns=round(self.params.max_book_delay_ms * 1e6),
                schedule=self._schedule, deliver_trades=self._deliver_trades, publish=self._publish,
                finished=self.finished,
            )  # fmt: skip
            self.feed.start(self.clock.now_ns())
        else:
            self._task = self._loop.create_task(self._replay(ex), name=f"{self.name}-replay")
        await self._streams_started()

    def requote_rounds(self) -> list[tuple[str, int, tuple[int, ...]]]:
        """ReplaysRequoteRounds: the session's requote rounds and order syncs, with
        session_timing (else none). The bot redoes them, having seen what the session's bot had:
        the rows received by then (their exchange time: when the session's venue handed them on)."""
        if not isinstance(self.latency, RecordedLatency) or not self.latency.rounds:
            return []
        ex = self._require_connected()
        ex.s.rows[layout.C_LOCAL] = ex.s.rows[layout.C_EXCH]  # before the first row is replayed
        ex.feed_latency_ns = 0
        self.latency.aligned = True
        rounds = self.latency.rounds
        stops = [at_ns for kind, at_ns, slots in rounds if kind == ROUND and not slots]
        if stops and self._loop is not None:  # the session's bot stopped there: a backtest stops too
            self._loop.call_later(max(stops[-1] - self.clock.now_ns(), 0) / 1e9, self.finished.set)
        return rounds

    async def _streams_started(self) -> None:
        """With a session's timing: return when the session's streams had started (its bot began
        quoting then, on the rows received meanwhile), not at once."""
        key = self._keys.query("start_streams")
        if isinstance(self.latency, RecordedLatency):
            started_ns = self.latency.streams_started_ns(key)
            if started_ns is not None and started_ns > self.clock.now_ns():
                await asyncio.sleep((started_ns - self.clock.now_ns()) / 1e9)

    # ---- trading -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        return await self._round_trip(
            lambda ex, now, back: self._place(ex, request, now, back),
            RequestKeys.order("place", request.client_order_id),
        )

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        return await self._round_trip(
            lambda ex, now, back: self._cancel(ex, symbol, client_order_id, now, back),
            RequestKeys.order("cancel", client_order_id),
        )

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        return await self._round_trip(
            lambda ex, now, back: [outcome_of(partial(self._place, ex, r, now, back)) for r in requests],
            RequestKeys.order("place", requests[0].client_order_id if requests else ""),
        )

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        return await self._round_trip(
            lambda ex, now, back: [outcome_of(partial(self._cancel, ex, s, c, now, back)) for s, c in orders],
            RequestKeys.order("cancel", orders[0][1] if orders else ""),
        )

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        return await self._round_trip(
            lambda ex, now, back: ex.fetch_order(symbol, client_order_id), self._keys.query("fetch_order")
        )

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        return await self._round_trip(
            lambda ex, now, back: ex.open_orders(symbol), self._keys.query("fetch_open_orders")
        )

    async def fetch_balances(self) -> dict[str, Balance]:
        return await self._round_trip(lambda ex, now, back: ex.balances(), self._keys.query("fetch_balances"))

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        return await self._round_trip(
            lambda ex, now, back: ex.fills(symbol, since_ns), self._keys.query("fetch_fills")
        )

    # ---- internals -----------------------------------------------------------------------------

    def _require_connected(self) -> ReplayExchange:
        if not self._connected or self.exchange is None:
            raise VenueUnavailable(self.name, "not connected")
        return self.exchange

    def _place(self, ex: ReplayExchange, request: OrderRequest, now: int, back: int) -> OrderUpdate:
        if request.venue != self.name:
            raise OrderRejected(self.name, f"{request.client_order_id}: addressed to venue {request.venue!r}")
        update, events = ex.place(request, now, back)
        self._schedule(events)
        return update

    def _cancel(self, ex: ReplayExchange, symbol: str, cid: str, now: int, back: int) -> OrderUpdate:
        update, events = ex.cancel(symbol, cid, now, back)
        self._schedule(events)
        return update

    def _next_latency_ns(self) -> int:
        lat = self._latencies[self._latency_k % len(self._latencies)]
        self._latency_k += 1
        return lat

    async def _round_trip(self, call: Callable[[ReplayExchange, int, int], T], key: str) -> T:
        """Run `call` on the replayed exchange one latency from now; answer one latency later
        (the latency model's trip: `key` names the request to a session's recorded timing)."""
        self._require_connected()
        called_ns = self.clock.now_ns()
        trip = self.latency.trip(key, called_ns)
        await asyncio.sleep((trip.arrive_ns - called_ns) / 1e9)
        ex = self._require_connected()
        # a recorded arrival is exact; a synthetic one is where the loop's float time lands
        now = max(self.clock.now_ns(), trip.arrive_ns) if trip.exact else self.clock.now_ns()
        back_ns = trip.respond_ns - (now if trip.exact else trip.arrive_ns)
        self._schedule(ex.advance(now))  # every row made up to now first: no look-ahead
        try:
            # what the request changed reaches the private stream with the feed, like the rest of it
            # a session's own answers reached its bot as they were made, not one feed latency later
            return call(ex, now, now if trip.exact else now + ex.feed_latency_ns)
        finally:
            if self.feed is not None:
                self.feed.replan(now)  # a new resting order may fill before the feed's next wake
            await asyncio.sleep(max(back_ns, 0) / 1e9)

    async def _replay(self, ex: ReplayExchange) -> None:
        clock = self.clock
        last_ns = clock.now_ns()
        ex.subscribe(last_ns)
        while True:
            next_ns = ex.next_local_ns()
            if next_ns is None:
                break
            wake_ns = max(next_ns, last_ns + self._batch_ns)
            delay_ns = wake_ns - clock.now_ns()
            if delay_ns > 0:
                await asyncio.sleep(delay_ns / 1e9)
            # float loop time can land a nanosecond short of the deadline we slept for
            now = max(clock.now_ns(), wake_ns)
            last_ns = now
            self._schedule(ex.advance(now))
            trades = ex.apply_local(now)
            sink = self._sink
            if sink is None:
                return
            for trade in trades:
                sink(trade)
            if ex.publish:
                self._publish()
        self.finished.set()

    def _deliver_trades(self, trades: list[PublicTrade]) -> bool:
        sink = self._sink
        if sink is None:
            return False
        for trade in trades:
            sink(trade)
        return True

    def _publish(self) -> None:
        """A BookSnapshot of the local book with our orders, on the file's own cadence: a feed
        shows changes of our orders with the venue's next publication, and so does the replay."""
        ex, sink = self.exchange, self._sink
        if ex is None or sink is None:
            return
        bids, asks = ex.top_of_book(self.params.book_depth)
        if not (bids or asks):
            return  # a feed has no book to show before its first level
        if not ex.has_snapshot_rows and (bids, asks) == self._published:
            return  # without the venue's own publications, show what changed on top only
        self._published = (bids, asks)
        self.snapshots_published += 1
        sink(BookSnapshot(self.name, ex.market.symbol, bids, asks, ex.book_exch_ns, self.clock.now_ns()))

    def _schedule(self, events: list[Timed]) -> None:
        """Private-stream events, delivered in order at their times."""
        if not events:
            return
        assert self._loop is not None
        now = self.clock.now_ns()
        latency = self.latency if isinstance(self.latency, RecordedLatency) and self.latency.aligned else None
        for at_ns, event in events:
            at_ns = max(at_ns, self._last_private_ns)
            if latency is not None:  # no earlier than the session's bot got it
                at_ns = max(at_ns, latency.delivered_ns(self._keys.query(PRIVATE)))
            self._last_private_ns = at_ns
            self._private.schedule(self._loop, max(at_ns - now, 0) / 1e9, event)

    def _deliver(self, event: VenueEvent) -> None:
        sink = self._sink
        if sink is None:
            return
        if isinstance(event, FillEvent):
            event = dataclasses.replace(event, local_ts_ns=self.clock.now_ns())
        sink(event)
