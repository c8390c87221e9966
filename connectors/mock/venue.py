"""`MockVenue`: the `Venue` port over the simulated exchange, with latencies, on any asyncio loop.

Runs the same on the wall clock (paper trading) and on `VirtualTimeEventLoop` (simulations): all
waiting goes through asyncio.sleep / call_later and every timestamp comes from the injected clock.
Requests reach the matching engine one `order_latency_ms` after the call and the answer comes back
one more later; stream events reach the sink `feed_latency_ms` after the exchange made them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, OrderRequest
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, PublicTrade, VenueEvent, VenueStatus
from bot.core.history import HistoryUnavailable, PriceHistory
from connectors.base import EventSink, OrderRejected, VenueError, VenueUnavailable, outcome_of
from connectors.mock import candles
from connectors.mock.exchange import MockExchange
from connectors.mock.flow import OrderFlow
from connectors.mock.params import MockVenueParams
from connectors.stream_order import InOrderDelivery

T = TypeVar("T")

DEFAULT_ACCOUNT = "main"


class MockVenue:
    """A simulated exchange with our one account, its own order flow, and realistic delays."""

    supports_batch = True

    def __init__(
        self, name: str, params: MockVenueParams, clock: Clock, *, account_id: str = DEFAULT_ACCOUNT
    ) -> None:
        self.name = name
        self.params = params
        self.clock = clock
        self.account_id = account_id
        self.exchange = MockExchange(name, [m.to_market(name) for m in params.markets])
        self.exchange.open_account(account_id, params.initial_balances)
        self.exchange.add_listener(self._on_exchange_event)
        self.flow: OrderFlow | None = None
        self._order_latency_s = params.order_latency_ms / 1000
        self._feed_latency_s = params.feed_latency_ms / 1000
        self._stream: InOrderDelivery[VenueEvent] = InOrderDelivery(self._deliver)
        self._sink: EventSink | None = None
        self._symbols: frozenset[str] = frozenset()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False

    # ---- lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._connected:
            return
        self._loop = asyncio.get_running_loop()
        if self.flow is None:
            self.flow = OrderFlow(self.exchange, self.params.markets, self.params.seed, self.clock.now_ns())
        self._tasks = [
            self._loop.create_task(self._run_flow(self.flow), name=f"{self.name}-flow"),
            self._loop.create_task(self._publish_books(), name=f"{self.name}-books"),
        ]
        self._connected = True

    async def close(self) -> None:
        self._connected = False
        self._sink = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def load_markets(self) -> dict[str, Market]:
        return self.exchange.markets

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        self._require_connected()
        unknown = set(symbols) - self.exchange.markets.keys()
        if unknown:
            raise VenueError(self.name, f"start_streams: no such markets {sorted(unknown)}")
        self._symbols = frozenset(symbols)
        self._sink = sink
        status = VenueStatus(self.name, True, f"streaming {len(self._symbols)} markets", self.clock.now_ns())
        self._schedule_delivery(status)

    def fair_price(self, symbol: str, ts_ns: int | None = None) -> float:
        """Latent fair price of the simulated flow (see `OrderFlow.fair_price`)."""
        if self.flow is None:
            raise RuntimeError(f"{self.name}: connect() first, the order flow starts with it")
        return self.flow.fair_price(symbol, ts_ns)

    def shock_fair_price(self, symbol: str, factor: float) -> float:
        """Multiply the latent fair price by `factor` now (see `OrderFlow.shock_fair_price`)."""
        if self.flow is None:
            raise RuntimeError(f"{self.name}: connect() first, the order flow starts with it")
        return self.flow.shock_fair_price(symbol, factor, self.clock.now_ns())

    # ---- trading -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        return await self._round_trip(lambda: self._place(request))

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        return await self._round_trip(
            lambda: self.exchange.cancel_order(self.account_id, symbol, client_order_id, self.clock.now_ns())
        )

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        return await self._round_trip(lambda: [outcome_of(partial(self._place, r)) for r in requests])

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        def cancel_each() -> list[OrderUpdate | VenueError]:
            now = self.clock.now_ns()
            cancel = self.exchange.cancel_order
            return [outcome_of(partial(cancel, self.account_id, s, c, now)) for s, c in orders]

        return await self._round_trip(cancel_each)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        return await self._round_trip(
            lambda: self.exchange.fetch_order(self.account_id, symbol, client_order_id)
        )

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        return await self._round_trip(lambda: self.exchange.open_orders(self.account_id, symbol))

    async def fetch_balances(self) -> dict[str, Balance]:
        return await self._round_trip(lambda: self.exchange.balances(self.account_id))

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        return await self._round_trip(lambda: self.exchange.fills(self.account_id, symbol, since_ns))

    async def price_history(self, symbol: str, since_ns: int, interval_s: int = 60) -> PriceHistory:
        """connectors.base.PriceHistorySource: closes of the exchange's own 1-minute bars (aggregated
        for longer intervals) since it started, at most `MockExchange.bars`' capacity."""

        def closes() -> PriceHistory:  # read when the request reaches the exchange
            return candles.price_history(self.exchange, symbol, since_ns, interval_s, self.clock.now_ns())

        try:
            return await self._round_trip(closes)
        except VenueError as exc:  # not connected
            raise HistoryUnavailable(f"{self.name}: price history of {symbol}: {exc}") from exc

    # ---- internals -----------------------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise VenueUnavailable(self.name, "not connected")

    def _place(self, request: OrderRequest) -> OrderUpdate:
        if request.venue != self.name:
            raise OrderRejected(self.name, f"{request.client_order_id}: addressed to venue {request.venue!r}")
        return self.exchange.place_request(self.account_id, request, self.clock.now_ns())

    async def _round_trip(self, call: Callable[[], T]) -> T:
        """Run `call` on the exchange one latency from now; answer (or raise) one latency later."""
        self._require_connected()
        await asyncio.sleep(self._order_latency_s)
        self._require_connected()
        try:
            return call()
        finally:
            await asyncio.sleep(self._order_latency_s)

    async def _run_flow(self, flow: OrderFlow) -> None:
        clock = self.clock
        while True:
            next_ns = flow.next_event_ns()
            if next_ns is None:
                return
            delay_ns = next_ns - clock.now_ns()
            if delay_ns > 0:
                await asyncio.sleep(delay_ns / 1e9)
            # float loop time can land a nanosecond short of the deadline we slept for
            flow.advance_to(max(clock.now_ns(), next_ns))

    async def _publish_books(self) -> None:
        interval_s = self.params.book_publish_interval_ms / 1000
        depth = self.params.book_depth
        while True:
            await asyncio.sleep(interval_s)
            self.exchange.publish_books(self.clock.now_ns(), depth)

    def _on_exchange_event(self, account_id: str | None, event: VenueEvent) -> None:
        if self._sink is None or self._loop is None:
            return
        if account_id is None:  # a public event: BookSnapshot or PublicTrade
            if isinstance(event, BookSnapshot | PublicTrade) and event.symbol not in self._symbols:
                return
        elif account_id != self.account_id:
            return
        self._schedule_delivery(event)

    def _schedule_delivery(self, event: VenueEvent) -> None:
        assert self._loop is not None
        self._stream.schedule(self._loop, self._feed_latency_s, event)

    def _deliver(self, event: VenueEvent) -> None:
        sink = self._sink
        if sink is None:
            return
        if isinstance(event, BookSnapshot | PublicTrade | FillEvent | VenueStatus):
            event = dataclasses.replace(event, local_ts_ns=self.clock.now_ns())
        sink(event)
