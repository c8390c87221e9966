"""The mock venue seen as Binance spot: shared state of the REST and websocket layers.

A `MockVenue` (matching engine, accounts, simulated flow and its driver) runs inside; the facade
calls its synchronous `MockExchange` directly and listens to its events:

- book snapshots (published every `book_publish_interval_ms`) become `depthUpdate` diffs with
  Binance's U/u update ids; `/api/v3/depth` serves exactly the view at `lastUpdateId`, so a
  client's snapshot + diffs always equal the published book;
- public trades become `trade` stream events;
- each served account's order updates, fills and balance changes become `executionReport` /
  `outboundAccountPosition` events of that account's user data streams (facade/account.py).

Every served account opens with the venue's `initial_balances`; the first is the venue's own
account (`DEFAULT_ACCOUNT` unless named otherwise).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.clock import LoopClock
from bot.core.domain import Market
from bot.core.events import BookSnapshot, PublicTrade, VenueEvent
from connectors.mock.exchange import MockExchange
from connectors.mock.facade import codec
from connectors.mock.facade.account import FacadeAccount
from connectors.mock.facade.faults import FaultParams, Faults
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import DEFAULT_ACCOUNT, MockVenue

log = logging.getLogger("mmbot.facade")

SUBSCRIBER_QUEUE = 10_000


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
    user_account: str | None = None
    """The account whose user data this client subscribed to (None: no user data)."""
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    subscription_id: int = 0

    @property
    def user_data(self) -> bool:
        return self.user_account is not None

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
    def __init__(
        self,
        name: str,
        params: MockVenueParams,
        faults: FaultParams | None = None,
        account_ids: Sequence[str] = (DEFAULT_ACCOUNT,),
    ) -> None:
        if not account_ids or len(set(account_ids)) < len(account_ids):
            raise ValueError(f"account_ids must be non-empty and distinct, got {list(account_ids)}")
        self.name = name
        self.params = params
        self.clock = LoopClock()
        self.venue = MockVenue(name, params, self.clock, account_id=account_ids[0])
        self.exchange: MockExchange = self.venue.exchange
        for account_id in account_ids[1:]:
            self.exchange.open_account(account_id, params.initial_balances)
        self.markets: dict[str, Market] = self.exchange.markets
        self.by_id: dict[str, Market] = {codec.market_id(s): m for s, m in self.markets.items()}
        self.faults = Faults.from_params(faults)
        self.accounts: dict[str, FacadeAccount] = {
            account_id: FacadeAccount(
                account_id, uid, self.exchange, self.clock, lambda: self.faults, self._fan_out_user
            )
            for uid, account_id in enumerate(account_ids, start=1)
        }
        """Served accounts by account id, in the order given (the first is the venue's own)."""
        self.subscribers: set[Subscriber] = set()
        self.books: dict[str, PublishedBook] = {}
        self._trade_ids = dict.fromkeys(self.markets, 0)

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

    # ---- events from the engine ----------------------------------------------------------------

    def _on_event(self, account_id: str | None, event: VenueEvent) -> None:
        if account_id is None:
            if isinstance(event, BookSnapshot):
                self._publish_depth(event)
            elif isinstance(event, PublicTrade):
                self._publish_trade(event)
            return
        account = self.accounts.get(account_id)
        if account is not None:
            account.on_event(event)

    def _broadcast(self, stream: str, message: dict[str, Any]) -> None:
        text = None
        for sub in self.subscribers:
            if stream in sub.streams:
                text = text or _dumps(message)
                sub.send(text)

    def send_raw(self, stream: str, frame: str | dict[str, Any]) -> int:
        """Fault injection: one frame as given (malformed JSON, missing fields, absurd prices) to
        the subscribers of a market stream (`btcusdt@depth`) or of the user stream (`user`: every
        account's, `user:<account id>`: that account's).

        A depth frame with "U": "next" gets the next update ids of the published book, so a client
        applies it in sequence. Returns how many clients it went to.
        """
        if isinstance(frame, dict) and frame.get("U") == "next":
            book = self.books[self.by_id[str(frame["s"])].symbol]
            book.last_update_id += 1
            frame = {**frame, "U": book.last_update_id, "u": book.last_update_id}
        user, _, account_id = stream.partition(":")
        sent = 0
        for sub in self.subscribers:
            if user == "user":
                wanted = sub.user_data and account_id in ("", sub.user_account)
            else:
                wanted = stream in sub.streams
            if wanted:
                if isinstance(frame, dict) and user == "user":
                    sub.send(_dumps({"subscriptionId": sub.subscription_id, "event": frame}))
                else:
                    sub.send(frame if isinstance(frame, str) else _dumps(frame))
                sent += 1
        self.faults.raw_frames_sent += sent
        return sent

    def _fan_out_user(self, account_id: str, event: dict[str, Any]) -> None:
        for sub in self.subscribers:
            if sub.user_account == account_id:
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


def _diff(old: dict[int, int], new: dict[int, int]) -> list[tuple[int, int]]:
    """Levels to send so that `old` becomes `new`: changed or new sizes, and 0 for removed ones."""
    changes = [(price, size) for price, size in new.items() if old.get(price) != size]
    changes.extend((price, 0) for price in old if price not in new)
    return changes
