"""The mock venue seen as one Binance spot account: shared state of the REST and websocket layers.

A `MockVenue` (matching engine, accounts, simulated flow and its driver) runs inside; the facade
calls its synchronous `MockExchange` directly and listens to its events:

- book snapshots (published every `book_publish_interval_ms`) become `depthUpdate` diffs with
  Binance's U/u update ids; `/api/v3/depth` serves exactly the view at `lastUpdateId`, so a
  client's snapshot + diffs always equal the published book;
- public trades become `trade` stream events;
- our account's order updates, fills and balance changes become `executionReport` /
  `outboundAccountPosition` events of the user data stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from bot.core.clock import LoopClock
from bot.core.domain import Fill, Market, OrderState
from bot.core.events import BalanceUpdate, BookSnapshot, FillEvent, OrderUpdate, PublicTrade, VenueEvent
from connectors.mock.exchange import MockExchange
from connectors.mock.facade import codec
from connectors.mock.facade.faults import BalanceHistory, FaultParams, Faults, UserStreamShaper
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import DEFAULT_ACCOUNT, MockVenue

log = logging.getLogger("mmbot.facade")

SUBSCRIBER_QUEUE = 10_000


@dataclass(slots=True)
class OrderMeta:
    """What Binance reports about an order and the engine does not keep."""

    symbol: str
    client_order_id: str
    order_type: str
    time_in_force: str
    created_ns: int
    cum_quote: Decimal = Decimal(0)


@dataclass(slots=True)
class PublishedBook:
    """The depth view clients can hold: the levels as of update id `last_update_id`."""

    bids: dict[int, int]
    asks: dict[int, int]
    last_update_id: int = 1


@dataclass(eq=False)
class Subscriber:
    """One websocket client: the streams it asked for and its outbound queue."""

    streams: set[str] = field(default_factory=set)
    user_data: bool = False
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    subscription_id: int = 0

    def send(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:  # a client this slow is dropped, as Binance does
            self.close()

    def close(self) -> None:
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class FacadeCore:
    def __init__(self, name: str, params: MockVenueParams, faults: FaultParams | None = None) -> None:
        self.name = name
        self.params = params
        self.clock = LoopClock()
        self.venue = MockVenue(name, params, self.clock)
        self.exchange: MockExchange = self.venue.exchange
        self.account = DEFAULT_ACCOUNT
        self.markets: dict[str, Market] = self.exchange.markets
        self.by_id: dict[str, Market] = {codec.market_id(s): m for s, m in self.markets.items()}
        self.faults = Faults.from_params(faults)
        self._user_out = UserStreamShaper(lambda: self.faults, self._fan_out_user)
        self.balance_history = BalanceHistory()
        self.acking: set[str] = set()
        """Client ids of new orders whose REST answer is being held back (ack_delay_ms)."""
        self.subscribers: set[Subscriber] = set()
        self.books: dict[str, PublishedBook] = {}
        self._trade_ids = dict.fromkeys(self.markets, 0)
        self._meta: OrderedDict[tuple[str, str], OrderMeta] = OrderedDict()
        self._cid_by_order_id: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._placing: OrderMeta | None = None
        self.cancel_client_order_id: str | None = None
        """Client id of the cancel request in progress (reported in `c`, the order's own in `C`)."""
        self.capture: list[Fill] | None = None
        """Fills of the REST call in progress (for the FULL order response)."""

    async def start(self) -> None:
        depth = self.params.book_depth
        for symbol in self.markets:
            self.books[symbol] = PublishedBook({}, {})
        self.exchange.add_listener(self._on_event)
        await self.venue.connect()  # builds the flow (initial ladder) and starts its driver
        for symbol, book in self.books.items():
            bids, asks = self.exchange.depth(symbol, depth)
            book.bids, book.asks = dict(bids), dict(asks)

    async def stop(self) -> None:
        self.exchange.remove_listener(self._on_event)
        await self.venue.close()
        for sub in list(self.subscribers):
            sub.close()

    def now_ns(self) -> int:
        return self.clock.now_ns()

    # ---- orders --------------------------------------------------------------------------------

    def begin_order(self, meta: OrderMeta) -> None:
        self._placing = meta
        self.capture = []

    def end_order(self) -> list[Fill]:
        fills = self.capture or []
        self._placing = None
        self.capture = None
        return fills

    def meta(self, symbol: str, client_order_id: str) -> OrderMeta:
        meta = self._meta.get((symbol, client_order_id))
        if meta is None:  # an order placed before the facade watched (none today): plain limit
            meta = OrderMeta(symbol, client_order_id, "LIMIT", "GTC", self.now_ns())
        return meta

    def client_order_id(self, order_id: int) -> tuple[str, str] | None:
        return self._cid_by_order_id.get(order_id)

    def order_json(self, update: OrderUpdate) -> dict[str, Any]:
        meta = self.meta(update.symbol, update.client_order_id)
        return codec.order_json(
            self.markets[update.symbol],
            update,
            order_type=meta.order_type,
            time_in_force=meta.time_in_force,
            created_ns=meta.created_ns,
            cum_quote=meta.cum_quote,
        )

    def _remember(self, update: OrderUpdate) -> OrderMeta:
        key = (update.symbol, update.client_order_id)
        meta = self._meta.get(key)
        if meta is None:
            placing = self._placing
            if placing is not None and (placing.symbol, placing.client_order_id) == key:
                meta = placing
            else:
                meta = OrderMeta(update.symbol, update.client_order_id, "LIMIT", "GTC", update.exchange_ts_ns)
            self._meta[key] = meta
            if update.venue_order_id:
                self._cid_by_order_id[int(update.venue_order_id)] = key
            limit = self.exchange.history_size + 1_000  # as long as the engine remembers closed ones
            while len(self._meta) > limit:
                self._meta.popitem(last=False)
            while len(self._cid_by_order_id) > limit:
                self._cid_by_order_id.popitem(last=False)
        return meta

    # ---- events from the engine ----------------------------------------------------------------

    def _on_event(self, account_id: str | None, event: VenueEvent) -> None:
        if account_id is None:
            if isinstance(event, BookSnapshot):
                self._publish_depth(event)
            elif isinstance(event, PublicTrade):
                self._publish_trade(event)
            return
        if account_id != self.account:
            return
        if isinstance(event, OrderUpdate):
            self._on_order_update(event)
        elif isinstance(event, FillEvent):
            self._on_fill(event.fill)
        elif isinstance(event, BalanceUpdate):
            self._on_balances(event)

    def _broadcast(self, stream: str, message: dict[str, Any]) -> None:
        text = None
        for sub in self.subscribers:
            if stream in sub.streams:
                text = text or _dumps(message)
                sub.send(text)

    def send_raw(self, stream: str, frame: str | dict[str, Any]) -> int:
        """Fault injection: one frame as given (malformed JSON, missing fields, absurd prices) to
        the subscribers of a market stream (`btcusdt@depth`) or of the user stream (`user`).

        A depth frame with "U": "next" gets the next update ids of the published book, so a client
        applies it in sequence. Returns how many clients it went to.
        """
        if isinstance(frame, dict) and frame.get("U") == "next":
            book = self.books[self.by_id[str(frame["s"])].symbol]
            book.last_update_id += 1
            frame = {**frame, "U": book.last_update_id, "u": book.last_update_id}
        sent = 0
        for sub in self.subscribers:
            if sub.user_data if stream == "user" else stream in sub.streams:
                if isinstance(frame, dict) and stream == "user":
                    sub.send(_dumps({"subscriptionId": sub.subscription_id, "event": frame}))
                else:
                    sub.send(frame if isinstance(frame, str) else _dumps(frame))
                sent += 1
        self.faults.raw_frames_sent += sent
        return sent

    def _broadcast_user(self, event: dict[str, Any]) -> None:
        self._user_out(event)

    def _fan_out_user(self, event: dict[str, Any]) -> None:
        for sub in self.subscribers:
            if sub.user_data:
                sub.send(_dumps({"subscriptionId": sub.subscription_id, "event": event}))

    def _publish_depth(self, snapshot: BookSnapshot) -> None:
        book = self.books[snapshot.symbol]
        new_bids, new_asks = dict(snapshot.bids), dict(snapshot.asks)
        bid_changes = _diff(book.bids, new_bids)
        ask_changes = _diff(book.asks, new_asks)
        n_changes = len(bid_changes) + len(ask_changes)
        if n_changes == 0:
            return
        first_id = book.last_update_id + 1
        book.last_update_id += n_changes
        book.bids, book.asks = new_bids, new_asks
        if self.faults.freeze_depth:
            return  # the frame is lost; the book moved on (REST serves it), as in a real stall
        market = self.markets[snapshot.symbol]
        stream_id = codec.market_id(snapshot.symbol).lower()
        self._broadcast(
            f"{stream_id}@depth",
            {
                "e": "depthUpdate",
                "E": codec.ms(snapshot.exchange_ts_ns),
                "s": codec.market_id(snapshot.symbol),
                "U": first_id,
                "u": book.last_update_id,
                "b": codec.levels(market, tuple(bid_changes)),
                "a": codec.levels(market, tuple(ask_changes)),
            },
        )

    def _publish_trade(self, trade: PublicTrade) -> None:
        self._trade_ids[trade.symbol] += 1
        market = self.markets[trade.symbol]
        ts = codec.ms(trade.exchange_ts_ns)
        self._broadcast(
            f"{codec.market_id(trade.symbol).lower()}@trade",
            {
                "e": "trade",
                "E": ts,
                "s": codec.market_id(trade.symbol),
                "t": self._trade_ids[trade.symbol],
                "p": codec.decimal_str(market.price(trade.price_ticks)),
                "q": codec.decimal_str(market.size(trade.size_lots)),
                "T": ts,
                "m": trade.aggressor.value == "sell",  # the buyer was the maker when a seller took
                "M": True,
            },
        )

    def _report(self, update: OrderUpdate, execution_type: str, fill: Fill | None = None) -> None:
        meta = self._remember(update)
        report = codec.execution_report(
            self.markets[update.symbol],
            update,
            execution_type=execution_type,
            order_type=meta.order_type,
            time_in_force=meta.time_in_force,
            created_ns=meta.created_ns,
            cum_quote=meta.cum_quote,
            fill=fill,
            cancel_client_order_id=self.cancel_client_order_id if execution_type == "CANCELED" else None,
        )
        faults = self.faults
        if fill is not None and faults.corrupt_trade_reports > 0:
            faults.corrupt_trade_reports -= 1
            faults.trade_reports_corrupted += 1
            faults.corrupted_trades.append((fill.symbol, fill.venue_trade_id))
            report.update(faults.trade_report_overrides)
        self._broadcast_user(report)

    def _on_order_update(self, update: OrderUpdate) -> None:
        # Fills were already reported as TRADE executions (the engine emits the fill first).
        kind = {
            "open": "NEW",
            "cancelled": "CANCELED",
            "expired": "EXPIRED",
            "rejected": "REJECTED",
        }.get(update.state.value)
        if kind is None:
            self._remember(update)
            return
        self._report(update, kind)

    def _on_fill(self, fill: Fill) -> None:
        if self.capture is not None:
            self.capture.append(fill)
        if fill.client_order_id in self.acking:
            self.faults.fills_before_ack += 1
        market = self.markets[fill.symbol]
        meta = self._meta.get((fill.symbol, fill.client_order_id))
        if meta is not None:
            meta.cum_quote += market.notional(fill.price_ticks, fill.size_lots)
        # The engine reports a fill before it moves the order on: the state after it is ours to set.
        update = self.exchange.fetch_order(self.account, fill.symbol, fill.client_order_id)
        done = update.filled_lots >= update.size_lots
        update = replace(update, state=OrderState.FILLED if done else OrderState.PARTIALLY_FILLED)
        self._report(update, "TRADE", fill)

    def _on_balances(self, event: BalanceUpdate) -> None:
        self.balance_history.record(self.now_ns(), self.exchange.balances(self.account))
        ts = codec.ms(event.exchange_ts_ns)
        self._broadcast_user(
            {
                "e": "outboundAccountPosition",
                "E": ts,
                "u": ts,
                "B": [
                    {"a": b.asset, "f": codec.decimal_str(b.free), "l": codec.decimal_str(b.locked)}
                    for b in event.balances.values()
                ],
            }
        )


def _diff(old: dict[int, int], new: dict[int, int]) -> list[tuple[int, int]]:
    """Levels to send so that `old` becomes `new`: changed or new sizes, and 0 for removed ones."""
    changes = [(price, size) for price, size in new.items() if old.get(price) != size]
    changes.extend((price, 0) for price in old if price not in new)
    return changes
