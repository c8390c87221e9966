"""`PaperVenue`: our orders simulated against a real exchange's live book and tape, no API keys.

The public data comes from a ccxt venue without credentials (connectors/ccxt/venue.py): the same
supervised book and trade streams, resync and staleness watchdog as a live run, its BookStatus and
VenueStatus events passed on unchanged, so quotes are pulled on a lost or stale book exactly as
they would be live. Each book update and print is also fed to the market's simulated matching
(connectors/paper/matching.py: the replay core's queue and latency models), which makes our
fills; the bot sees the exchange's book with our resting paper orders added, as a real feed
would show them. Requests reach the matching one order latency after the call and the answer
comes back one more later, as in a replay.

The account is written to the bot's store after every change (connectors/paper/account_state.py);
`record_dir`: the session's data and request timing, for a replay (connectors/paper/recording.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, OrderRequest
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, PublicTrade, VenueEvent
from bot.core.history import PriceHistory
from bot.core.supervision import Supervisor
from connectors.base import EventSink, OrderNotFound, OrderRejected, VenueError, VenueUnavailable, outcome_of
from connectors.ccxt.venue import CcxtVenue
from connectors.mock.accounts import Account
from connectors.paper import account_state as state_codec
from connectors.paper.account_state import KeyedState
from connectors.paper.matching import LiveMatching, warm_up
from connectors.paper.own_book import with_own_orders
from connectors.paper.params import PaperVenueParams
from connectors.paper.recording import MarketRecording
from connectors.paper.restore import Restorer, restore_account
from connectors.replay.events import ASK, BID, DEPTH, SNAPSHOT, TRADE
from connectors.replay.exchange import Timed
from connectors.replay.fast import latency_samples
from connectors.replay.recorded_latency import PRIVATE, RequestKeys, TimingLog
from connectors.stream_order import InOrderDelivery

log = logging.getLogger("mmbot.paper")
T = TypeVar("T")

_LATENCY_DRAWS = 4096
_CLOSED_KEPT = 500
_FILLS_KEPT = 2000


class PaperVenue:
    supports_batch = True

    def __init__(self, name: str, params: PaperVenueParams, clock: Clock) -> None:
        self.name = name
        self.params = params
        self.clock = clock
        self.feed = CcxtVenue(name, params.feed_params(), clock)
        mean_ns = params.order_latency_ms * 1e6
        self._latencies = latency_samples(
            mean_ns, params.order_latency_jitter_ms * 1e6, _LATENCY_DRAWS, params.seed
        )
        self._latency_k = 0
        self.account = Account("main", params.initial_balances)
        self.markets: dict[str, Market] = {}
        self.matching: dict[str, LiveMatching] = {}
        self._books: dict[str, dict[int, dict[int, int]]] = {}
        self.restorer = Restorer(name, self.account)
        self._closed: OrderedDict[str, OrderUpdate] = OrderedDict()
        self._fills: deque[Fill] = deque(maxlen=_FILLS_KEPT)
        self._state: KeyedState | None = None
        self._sink: EventSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._private: InOrderDelivery[VenueEvent] = InOrderDelivery(self._deliver)
        self._last_ns = self._request_ns = 0
        self._connected = False
        self.recordings: dict[str, MarketRecording] = {}
        self._keys = RequestKeys()
        self._taking_in = False  # a `_taken_in` is queued
        self.timing: TimingLog | None = None  # with record_dir: every round trip's times

    # ---- wiring --------------------------------------------------------------------------------

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """bot.core.supervision.UsesSupervisor: the feed's streams run under the bot's supervisor."""
        self.feed.use_supervisor(supervisor)

    def use_keyed_state(self, state: KeyedState) -> None:
        """connectors.paper.account_state.UsesKeyedState: where the paper account is kept."""
        self._state = state

    @property
    def stale_symbols(self) -> frozenset[str]:
        return self.feed.stale_symbols

    # ---- lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        self._loop = asyncio.get_running_loop()
        if self.params.record_dir is not None and self.timing is None:
            # from the first request: a replay makes the start-up's queries when the session did
            self.timing = TimingLog.in_dir(Path(self.params.record_dir), self.name)
        await self.feed.connect()
        self.markets = await self.feed.load_markets()
        warm_up(self.markets.values(), self.params)
        if self._state is None:
            log.warning(
                "%s: paper account kept in memory only (no store): a restart starts afresh", self.name
            )
        else:
            self._restore(self._state)
        self._connected = True

    def _restore(self, state: KeyedState) -> None:
        restored = restore_account(self.name, state)
        self._fills.extend(restored.fills)
        if restored.account is None or restored.restorer is None:
            return  # the account's first start
        self.account, self.restorer = restored.account, restored.restorer
        self._closed.update((u.client_order_id, u) for u in restored.closed)
        log.info(
            "%s: paper account restored: %d open orders, %d fills kept",
            self.name, self.restorer.open_count(), len(self._fills),
        )  # fmt: skip

    async def close(self) -> None:
        self._connected = False
        self._sink = None
        await self.feed.close()
        for recording in self.recordings.values():
            recording.save()
        if self.timing is not None:
            self.timing.save()
        self._save(fills=True)

    async def load_markets(self) -> dict[str, Market]:
        self._require_connected()
        return dict(self.markets)

    async def price_history(self, symbol: str, since_ns: int, interval_s: int = 60) -> PriceHistory:
        """connectors.base.PriceHistorySource: the real exchange's candles (public, no keys)."""
        return await self.feed.price_history(symbol, since_ns, interval_s)

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        self._require_connected()
        self._sink = sink
        if self.params.record_dir is not None:
            out, rows = Path(self.params.record_dir), self.params.record_rotate_rows
            for symbol in [s for s in symbols if s not in self.recordings]:
                self.recordings[symbol] = MarketRecording(out, self.markets[symbol], rows)
        called_ns = self.clock.now_ns()
        await self.feed.start_streams(symbols, self._on_feed)
        if self.timing is not None:  # the bot's engine starts when this returns: a replay waits too
            self.timing.add(self._keys.query("start_streams"), called_ns, *[self.clock.now_ns()] * 2)

    async def stream_markets(self, symbols: Sequence[str]) -> None:
        """connectors.base.StreamedMarkets: a new market's matching starts with its first book."""
        await self.feed.stream_markets(symbols)

    # ---- the live feed -------------------------------------------------------------------------

    def _stamp(self, *, request: bool = False) -> int:
        """The simulation's clock, never backwards; a row comes after a request made at the same
        time (a replay applies rows up to a request's time first); rows received together share it."""
        ts = max(self.clock.now_ns(), self._last_ns, 0 if request else self._request_ns + 1)
        self._last_ns = ts
        if request:
            self._request_ns = ts
        return ts

    def _on_feed(self, event: VenueEvent) -> None:
        if self.recordings and not self._taking_in and self._loop is not None:
            self._taking_in = True  # queued before the bot's wake-up: runs just before it
            self._loop.call_soon(self._taken_in)
        if isinstance(event, BookSnapshot):
            self._on_book(event)
        elif isinstance(event, PublicTrade):
            self._on_trade(event)
        elif self._sink is not None:
            self._sink(event)  # BookStatus, VenueStatus: the feed's health is the venue's

    def _on_book(self, snap: BookSnapshot) -> None:
        ts = self._stamp()
        matching = self.matching.get(snap.symbol)
        first = matching is None
        if matching is None:
            matching = self._open_market(snap, ts)
            if matching is None:
                return
        recording = self.recordings.get(snap.symbol)
        book = self._books[snap.symbol]
        events: list[Timed] = []
        for side, levels in ((BID, snap.bids), (ASK, snap.asks)):
            new, prev = dict(levels), book[side]
            changed = [(p, 0) for p in prev if p not in new]
            changed += [(p, lots) for p, lots in new.items() if prev.get(p) != lots]
            for price, lots in changed:
                if lots:
                    prev[price] = lots
                else:
                    del prev[price]
                events += matching.apply(DEPTH, side, price, lots, ts)
                if recording is not None:
                    recording.add(DEPTH, side, ts, price, lots)
        if first:
            matching.requeue_at_back()
        if recording is not None:
            best = (snap.bids or snap.asks)[0][0] if (snap.bids or snap.asks) else 0
            if best:
                recording.add(SNAPSHOT, BID, ts, best, 0)
            recording.rotate_if_full(book, ts)
        if self._sink is not None:
            self._sink(with_own_orders(snap, matching.open_orders(), self.params.book_depth))
        self._emit(events)

    def _open_market(self, snap: BookSnapshot, ts: int) -> LiveMatching | None:
        top = snap.bids or snap.asks
        market = self.markets.get(snap.symbol)
        if not top or market is None:
            return None  # nothing to centre the book on yet
        params = self.params.matching_params(market.maker_fee_bps, market.taker_fee_bps, market.min_notional)
        matching = LiveMatching(market, params, top[0][0], ts)
        matching.account = self.account
        self.restorer.reopen(matching, ts)
        self.matching[snap.symbol] = matching
        self._books[snap.symbol] = {BID: {}, ASK: {}}
        return matching

    def _on_trade(self, trade: PublicTrade) -> None:
        matching = self.matching.get(trade.symbol)
        events: list[Timed] = []
        if matching is not None:  # before the first book: nothing of ours rests, nothing recorded
            ts = self._stamp()
            events = matching.apply(TRADE, trade.aggressor.sign, trade.price_ticks, trade.size_lots, ts)
            recording = self.recordings.get(trade.symbol)
            if recording is not None:
                recording.add(TRADE, trade.aggressor.sign, ts, trade.price_ticks, trade.size_lots)
        if self._sink is not None:
            self._sink(trade)
        self._emit(events)

    # ---- our orders ----------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        key = RequestKeys.order("place", request.client_order_id)
        return await self._round_trip(partial(self._place, request), key)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        key = RequestKeys.order("cancel", client_order_id)
        return await self._round_trip(partial(self._cancel, symbol, client_order_id), key)

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        key = RequestKeys.order("place", requests[0].client_order_id if requests else "")
        return await self._round_trip(
            lambda ts: [outcome_of(partial(self._place, r, ts)) for r in requests], key
        )

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        key = RequestKeys.order("cancel", orders[0][1] if orders else "")
        return await self._round_trip(
            lambda ts: [outcome_of(partial(self._cancel, s, c, ts)) for s, c in orders], key
        )

    def _place(self, request: OrderRequest, ts: int) -> OrderUpdate:
        if request.venue != self.name:
            raise OrderRejected(self.name, f"{request.client_order_id}: addressed to venue {request.venue!r}")
        matching = self.matching.get(request.symbol)
        if matching is None:
            raise VenueUnavailable(self.name, f"{request.symbol}: no live book yet")
        update, events = matching.place_at(request, ts)
        self._emit(events)
        return update

    def _cancel(self, symbol: str, client_order_id: str, ts: int) -> OrderUpdate:
        matching = self.matching.get(symbol)
        if matching is None:
            update = self.restorer.cancel_waiting(symbol, client_order_id, self.markets.get(symbol), ts)
            self._remember(update)
            return update
        update, events = matching.cancel_at(symbol, client_order_id, ts)
        self._emit(events)
        return update

    async def _round_trip(self, call: Callable[[int], T], key: str, *, query: bool = False) -> T:
        """`call` at the simulated matching one latency from now; the answer one latency later;
        queries too (nothing to save), as in a replay; the times kept under `key` (`timing`)."""
        self._require_connected()
        call_ns = self.clock.now_ns()
        latency_s = self._latencies[self._latency_k % len(self._latencies)] / 1e9
        self._latency_k += 1
        await asyncio.sleep(latency_s)
        self._require_connected()
        arrive_ns = self.clock.now_ns() if query else self._stamp(request=True)
        try:
            return call(0 if query else arrive_ns)  # a query stamps no time
        finally:
            if not query:
                self._save(fills=False)
            await asyncio.sleep(latency_s)
            if self.timing is not None:
                self.timing.add(key, call_ns, arrive_ns, self.clock.now_ns())

    def _emit(self, events: list[Timed]) -> None:
        """Private-stream events, in the order made; fills and closed orders are remembered."""
        if not events:
            return
        fills = False
        for _, event in events:
            if isinstance(event, FillEvent):
                self._fills.append(event.fill)
                fills = True
            elif isinstance(event, OrderUpdate):
                self._remember(event)
            if self._loop is not None:
                self._private.schedule(self._loop, 0.0, event)
        if fills:
            self._save(fills=True)

    def _remember(self, update: OrderUpdate) -> None:
        if not update.state.is_live:
            self._closed[update.client_order_id] = update
            while len(self._closed) > _CLOSED_KEPT:
                self._closed.popitem(last=False)

    def requote_round(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None:  # RecordsRequoteRounds
        if self.timing is not None:
            self.timing.add_round(self._keys.query(kind), now_ns, slots)

    def _taken_in(self) -> None:
        self._taking_in = False
        for recording in self.recordings.values():
            recording.taken_in(self.clock.now_ns())

    def _deliver(self, event: VenueEvent) -> None:
        if self._sink is not None:
            if self.timing is not None:  # the bot saw its fills and order changes then
                self.timing.add(self._keys.query(PRIVATE), *[self.clock.now_ns()] * 3)
            self._sink(event)

    def _save(self, *, fills: bool) -> None:
        state = self._state
        if state is None:
            return
        now = self.clock.now_ns()
        opens = [u for m in self.matching.values() for u in m.open_orders()] + self.restorer.waiting()
        ids = {**self.restorer.next_ids, **{s: m.next_ids() for s, m in self.matching.items()}}
        value = state_codec.encode_account(self.account, opens, self._closed.values(), ids)
        state.put(state_codec.account_key(self.name), value, now)
        if fills:
            state_codec.put_fills(state, self.name, self._fills, now)

    # ---- queries -------------------------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise VenueUnavailable(self.name, "not connected")

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        return await self._query(lambda _: self._order(symbol, client_order_id), "fetch_order")

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        return await self._query(lambda _: self._open_orders(symbol), "fetch_open_orders")

    async def fetch_balances(self) -> dict[str, Balance]:
        return await self._query(lambda _: self.account.balances(), "fetch_balances")

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        return await self._query(lambda _: self._fills_since(symbol, since_ns), "fetch_fills")

    async def _query(self, call: Callable[[int], T], kind: str) -> T:
        return await self._round_trip(call, self._keys.query(kind), query=True)

    def _order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        matching = self.matching.get(symbol)
        if matching is not None:
            try:
                return matching.fetch_order(symbol, client_order_id)
            except OrderNotFound:
                pass
        for update in self.restorer.waiting(symbol):
            if update.client_order_id == client_order_id:
                return update
        closed = self._closed.get(client_order_id)
        if closed is None or closed.symbol != symbol:
            raise OrderNotFound(self.name, f"{symbol} {client_order_id}: unknown order")
        return closed

    def _open_orders(self, symbol: str | None) -> list[OrderUpdate]:
        out = [u for s, m in self.matching.items() if symbol in (None, s) for u in m.open_orders()]
        return out + self.restorer.waiting(symbol)

    def _fills_since(self, symbol: str | None, since_ns: int | None) -> list[Fill]:
        since = -1 if since_ns is None else since_ns
        return [f for f in self._fills if symbol in (None, f.symbol) and f.exchange_ts_ns >= since]
