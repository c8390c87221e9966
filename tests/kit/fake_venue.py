"""`FakeVenue`: an in-memory, deterministic `Venue` for kernel and strategy tests.

No matching engine, no latency, no background task. The book is what the test sets; a post-only
order that would cross it is refused; an immediate order (IOC, or a limit that crosses) takes
from its levels best first at or better than its limit and uses them up; a resting order fills
when the test says so (`fill`). Our resting orders show in the published book, as on a real
feed. Every call answers at once; the stream events it caused reach the sink on the loop's next
turn, in the order they happened, after the answer. Balances follow the mock venue's accounts
(connectors/mock/accounts.py): fees in the quote asset, a buy locks its notional plus the worst
fee, a sell its base size. Our own orders never trade with each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.core.clock import Clock, FixedClock
from bot.core.domain import Balance, Fill, Market, OrderRequest, OrderState, Side
from bot.core.events import BalanceUpdate, BookSnapshot, FillEvent, OrderUpdate, VenueEvent, VenueStatus
from connectors.base import (
    EventSink,
    InsufficientBalance,
    OrderNotFound,
    OrderRejected,
    PostOnlyWouldCross,
    VenueError,
    VenueUnavailable,
)
from connectors.mock.accounts import Account, InsufficientFunds, lock_amount, lock_asset
from tests.kit import stubs

Levels = tuple[tuple[int, int], ...]


@dataclass(slots=True)
class _Order:
    """One of our orders: what the venue would answer about it now, and what it still holds locked."""

    last: OrderUpdate
    lock_left: Decimal

    @property
    def left_lots(self) -> int:
        return self.last.size_lots - self.last.filled_lots

    @property
    def is_live(self) -> bool:
        return self.last.state.is_live


class FakeVenue:
    """A `Venue` whose book and fills the test controls; `calls` lists the port calls made."""

    supports_batch = True

    def __init__(
        self,
        name: str = stubs.VENUE,
        markets: Iterable[Market] | None = None,
        balances: Mapping[str, Decimal | str | int] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Default: the stubs' BTC/USDT market on this venue, 100 000 USDT and 2 BTC, time at 0."""
        self.name = name
        self.clock = clock or FixedClock()
        self.markets = {m.symbol: m for m in (markets or [stubs.market(venue=name)])}
        if any(m.venue != name for m in self.markets.values()):
            raise ValueError(f"{name}: every market must be of this venue")
        amounts = {"USDT": Decimal(100_000), "BTC": Decimal(2)} if balances is None else balances
        assets = {a for m in self.markets.values() for a in (m.base, m.quote)}
        self.account = Account("main", {a: Decimal(v) for a, v in amounts.items()}, sorted(assets))
        self.calls: list[str] = []
        """Names of the port methods called, in order: what the code under test asked for."""
        self._books: dict[str, tuple[Levels, Levels]] = {s: ((), ()) for s in self.markets}
        self._orders: dict[str, _Order] = {}  # every order placed, open or closed, by client id
        self._fills: list[Fill] = []
        self._next_id = 1
        self._connected = False
        self._sink: EventSink | None = None
        self._streamed: frozenset[str] = frozenset()

    # ---- test controls -------------------------------------------------------------------------

    def set_book(self, symbol: str, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]) -> None:
        """Levels of others as (price_ticks, size_lots), best first; published when streaming."""
        self._market(symbol)
        self._books[symbol] = (tuple(bids), tuple(asks))
        self._publish(symbol)

    def fill(self, client_order_id: str, size_lots: int | None = None) -> Fill:
        """A taker trades `size_lots` (default: all that is left) with our resting order, at its price."""
        order = self._orders.get(client_order_id)
        if order is None or not order.is_live:
            raise ValueError(f"{self.name}: no resting order {client_order_id!r} to fill")
        lots = order.left_lots if size_lots is None else size_lots
        if not 0 < lots <= order.left_lots:
            raise ValueError(f"{self.name}: {client_order_id} cannot fill {lots} lots")
        now = self.clock.now_ns()
        events: list[VenueEvent] = []
        fill = self._execute(order, order.last.price_ticks, lots, True, now, events)
        self._emit(*events, self._balance_update(now))
        self._publish(order.last.symbol)
        return fill

    # ---- lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> None:
        self.calls.append("connect")
        self._connected = True

    async def close(self) -> None:
        self.calls.append("close")
        self._connected = False
        self._sink = None

    async def load_markets(self) -> dict[str, Market]:
        self._called("load_markets")
        return dict(self.markets)

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        self._called("start_streams")
        unknown = set(symbols) - self.markets.keys()
        if unknown:
            raise VenueError(self.name, f"start_streams: no such markets {sorted(unknown)}")
        self._sink, self._streamed = sink, frozenset(symbols)
        now = self.clock.now_ns()
        self._emit(VenueStatus(self.name, True, f"streaming {len(symbols)} markets", now))
        for symbol in sorted(self._streamed):
            self._publish(symbol)

    # ---- trading -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        self._called("place_order")
        return self._place(request)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        self._called("cancel_order")
        return self._cancel(symbol, client_order_id)

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        self._called("place_orders")
        return [self._try(self._place, r) for r in requests]

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        self._called("cancel_orders")
        return [self._try(self._cancel, s, c) for s, c in orders]

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        self._called("fetch_order")
        order = self._orders.get(client_order_id)
        if order is None or order.last.symbol != symbol:
            raise OrderNotFound(self.name, f"{symbol} {client_order_id}: unknown order")
        return order.last

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        self._called("fetch_open_orders")
        return [o.last for o in self._orders.values() if o.is_live and symbol in (None, o.last.symbol)]

    async def fetch_balances(self) -> dict[str, Balance]:
        self._called("fetch_balances")
        return self.account.balances()

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        self._called("fetch_fills")
        return [
            f
            for f in self._fills
            if symbol in (None, f.symbol) and (since_ns is None or f.exchange_ts_ns >= since_ns)
        ]

    # ---- internals -----------------------------------------------------------------------------

    def _called(self, method: str) -> None:
        self.calls.append(method)
        if not self._connected:
            raise VenueUnavailable(self.name, "not connected")

    def _market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise OrderRejected(self.name, f"unknown symbol {symbol!r}")
        return market

    @staticmethod
    def _try(call: Callable[..., OrderUpdate], *args: object) -> OrderUpdate | VenueError:
        try:
            return call(*args)
        except VenueError as exc:
            return exc

    def _check_new(self, request: OrderRequest) -> Market:
        cid = request.client_order_id
        if request.venue != self.name:
            raise OrderRejected(self.name, f"{cid}: addressed to venue {request.venue!r}")
        market = self._market(request.symbol)
        if cid in self._orders and self._orders[cid].is_live:
            raise OrderRejected(self.name, f"{cid}: duplicate client_order_id of a live order")
        if market.notional(request.price_ticks, request.size_lots) < market.min_notional:
            raise OrderRejected(self.name, f"{cid}: notional below min_notional {market.min_notional}")
        if request.post_only and self._crossed_levels(request, ours=True):
            raise PostOnlyWouldCross(self.name, f"{cid}: post-only order would cross")
        return market

    def _crossed_levels(self, request: OrderRequest, *, ours: bool) -> list[tuple[int, int]]:
        """The opposite side's levels at or better than the order's limit, best first; with our
        own resting orders in them when `ours` (a post-only order must not cross those either)."""
        bids, asks = self._levels(request.symbol, ours=ours)
        if request.side is Side.BUY:
            return [lvl for lvl in asks if lvl[0] <= request.price_ticks]
        return [lvl for lvl in bids if lvl[0] >= request.price_ticks]

    def _levels(self, symbol: str, *, ours: bool) -> tuple[Levels, Levels]:
        """The set book, with our resting orders added when `ours`, best first."""
        if not ours:
            return self._books[symbol]
        bids, asks = (dict(levels) for levels in self._books[symbol])
        for o in self._orders.values():
            if o.is_live and o.last.symbol == symbol:
                side = bids if o.last.side is Side.BUY else asks
                side[o.last.price_ticks] = side.get(o.last.price_ticks, 0) + o.left_lots
        return tuple(sorted(bids.items(), reverse=True)), tuple(sorted(asks.items()))

    def _place(self, request: OrderRequest) -> OrderUpdate:
        market = self._check_new(request)
        side, now = request.side, self.clock.now_ns()
        lock = lock_amount(market, side, request.price_ticks, request.size_lots)
        try:
            self.account.lock(lock_asset(market, side), lock)
        except InsufficientFunds as exc:
            raise InsufficientBalance(self.name, f"{request.client_order_id}: {exc}") from None
        ack = stubs.order_update(
            request.client_order_id, OrderState.OPEN, side=side, price_ticks=request.price_ticks,
            size_lots=request.size_lots, venue_order_id=str(self._next_id), ts_ns=now, venue=self.name,
            symbol=request.symbol,
        )  # fmt: skip
        self._next_id += 1
        order = self._orders[request.client_order_id] = _Order(ack, lock)
        events: list[VenueEvent] = [ack]
        self._take(order, request, now, events)
        if order.is_live and request.immediate_or_cancel:
            self._close(order, OrderState.EXPIRED, now, events, "unfilled remainder of an immediate order")
        self._emit(*events, self._balance_update(now))
        self._publish(request.symbol)
        return order.last

    def _take(self, order: _Order, request: OrderRequest, now: int, events: list[VenueEvent]) -> None:
        """Trade the order's crossing part against the set book, which loses what was taken."""
        crossed = self._crossed_levels(request, ours=False)
        if not crossed:
            return
        taken: dict[int, int] = {}
        for price, lots in crossed:
            lots = min(lots, order.left_lots)
            if lots == 0:
                break
            taken[price] = lots
            self._execute(order, price, lots, False, now, events)
        bids, asks = self._books[request.symbol]

        def left(levels: Levels) -> Levels:
            return tuple((p, n - taken.get(p, 0)) for p, n in levels if n > taken.get(p, 0))

        self._books[request.symbol] = (left(bids), asks) if request.side is Side.SELL else (bids, left(asks))

    def _execute(
        self, order: _Order, price: int, lots: int, is_maker: bool, now: int, events: list[VenueEvent]
    ) -> Fill:
        o = order.last
        market = self.markets[o.symbol]
        fee = market.fee(price, lots, is_maker=is_maker)
        lock_used = lock_amount(market, o.side, o.price_ticks, lots)
        self.account.settle_fill(market, o.side, price, lots, fee, lock_used)
        order.lock_left -= lock_used
        fill = Fill(
            self.name, o.symbol, str(len(self._fills) + 1), o.venue_order_id or "", o.client_order_id,
            o.side, price, lots, fee, market.quote, is_maker, now,
        )  # fmt: skip
        self._fills.append(fill)
        events.append(FillEvent(fill, now))
        order.last = replace(o, filled_lots=o.filled_lots + lots, exchange_ts_ns=now)
        if order.left_lots == 0:
            self._close(order, OrderState.FILLED, now, events, None)
        else:
            order.last = replace(order.last, state=OrderState.PARTIALLY_FILLED)
            events.append(order.last)
        return fill

    def _cancel(self, symbol: str, client_order_id: str) -> OrderUpdate:
        self._market(symbol)
        order = self._orders.get(client_order_id)
        if order is None or order.last.symbol != symbol or not order.is_live:
            raise OrderNotFound(self.name, f"{symbol} {client_order_id}: no open order")
        now = self.clock.now_ns()
        events: list[VenueEvent] = []
        self._close(order, OrderState.CANCELLED, now, events, None)
        self._emit(*events, self._balance_update(now))
        self._publish(symbol)
        return order.last

    def _close(
        self, order: _Order, state: OrderState, now: int, events: list[VenueEvent], reason: str | None
    ) -> None:
        if order.lock_left:
            self.account.release(
                lock_asset(self.markets[order.last.symbol], order.last.side), order.lock_left
            )
            order.lock_left = Decimal(0)
        order.last = replace(order.last, state=state, exchange_ts_ns=now, reason=reason)
        events.append(order.last)

    def _balance_update(self, now: int) -> BalanceUpdate:
        return BalanceUpdate(self.name, self.account.balances(), now)

    def _publish(self, symbol: str) -> None:
        """The set book with our resting orders added, as a feed shows it."""
        if symbol not in self._streamed:
            return
        bids, asks = self._levels(symbol, ours=True)
        now = self.clock.now_ns()
        self._emit(BookSnapshot(self.name, symbol, bids, asks, now, now))

    def _emit(self, *events: VenueEvent) -> None:
        if self._sink is None:
            return
        loop = asyncio.get_running_loop()
        for event in events:
            loop.call_soon(self._deliver, event)

    def _deliver(self, event: VenueEvent) -> None:
        if self._sink is not None:
            self._sink(event)
