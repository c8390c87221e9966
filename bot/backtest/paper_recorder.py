"""Records one market of a paper session at the mock venue's exchange, exactly, in the L2 format.

What a backtest should replay is the market without us: everyone else's liquidity, and the prints
their orders made, with our own orders added back by the replay's queue model. Recorded at the
exchange (a `TapeObserver` plus an exchange listener), nothing is lost to the feed's throttling:

- DEPTH rows for every level of others' liquidity that changed, after each exchange call that
  changed the book (our resting size taken out), at the call's time: a level cancelled and
  re-posted within one publication interval shows as two rows, so a replay knows its new order
  queues behind ours;
- TRADE rows for every print whose taker was not us, including the prints against our resting
  orders: they are the aggressors who came, and the public tape of any venue shows them. Prints
  we took are left out (a replay makes them from our orders);
- a SNAPSHOT row wherever the venue published its book, so a replay publishes at the same times
  (including publications where only our own orders had changed).

Every row is received one feed latency after the exchange made it (the venue's
`feed_latency_ms`), so a replay's local book at a publication's arrival is the book the venue
published.
"""

from __future__ import annotations

from pathlib import Path

from bot.backtest.recorder import RowBuffer
from bot.core.domain import Side
from bot.core.events import BookSnapshot, VenueEvent
from connectors.mock.venue import MockVenue
from connectors.replay.events import ASK, BID, DEPTH, SNAPSHOT, TRADE, DataMeta, EventData, save_events

_ALL_LEVELS = 1 << 30


class PaperRecorder:
    """Attach before the venue connects (its flow builds the first book at connect)."""

    def __init__(self, venue: MockVenue, symbol: str, *, chunk_rows: int = 1 << 16) -> None:
        self._exchange = venue.exchange
        market = self._exchange.markets[symbol]
        self.meta = DataMeta(venue.name, symbol, market.tick_size, market.lot_size)
        self.symbol = symbol
        self.account_id = venue.account_id
        self.feed_latency_ns = round(venue.params.feed_latency_ms * 1_000_000)
        self._rows = RowBuffer(chunk_rows)
        self._prev: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
        self._exchange.add_tape_observer(self)
        self._exchange.add_listener(self._on_exchange_event)

    def on_print(
        self,
        symbol: str,
        taker_side: Side,
        price_ticks: int,
        size_lots: int,
        ts_ns: int,
        taker: str,
        maker: str,
    ) -> None:
        if symbol != self.symbol or taker == self.account_id:
            return
        self._rows.append(TRADE, taker_side.sign, ts_ns, ts_ns + self.feed_latency_ns, price_ticks, size_lots)

    def on_book(self, symbol: str, ts_ns: int) -> None:
        if symbol != self.symbol:
            return
        own: dict[tuple[int, int], int] = {}
        for order in self._exchange.open_orders(self.account_id, symbol):
            key = (order.side.sign, order.price_ticks)
            own[key] = own.get(key, 0) + order.size_lots - order.filled_lots
        local_ns = ts_ns + self.feed_latency_ns
        for side, levels in zip((BID, ASK), self._exchange.depth(symbol, _ALL_LEVELS), strict=True):
            prev = self._prev[side]
            now: dict[int, int] = {}
            for price, lots in levels:
                others = lots - own.get((side, price), 0)
                if others > 0:
                    now[price] = others
            for price in prev.keys() - now.keys():
                self._rows.append(DEPTH, side, ts_ns, local_ns, price, 0)
            for price, lots in now.items():
                if prev.get(price) != lots:
                    self._rows.append(DEPTH, side, ts_ns, local_ns, price, lots)
            self._prev[side] = now

    def _on_exchange_event(self, account_id: str | None, event: VenueEvent) -> None:
        if not isinstance(event, BookSnapshot) or event.symbol != self.symbol:
            return
        best = event.bids[0][0] if event.bids else event.asks[0][0] if event.asks else 0
        if best:  # an empty book has no price to carry; a replay shows no empty book either
            ts = event.exchange_ts_ns
            self._rows.append(SNAPSHOT, BID, ts, ts + self.feed_latency_ns, best, 0)

    def __len__(self) -> int:
        return len(self._rows)

    def data(self) -> EventData:
        return self._rows.data(self.meta)

    def save(self, path: str | Path) -> Path:
        return save_events(path, self.data())
