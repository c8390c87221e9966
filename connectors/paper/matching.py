"""One market's simulated matching on live data: the replay core's exchange side, fed row by row.

`ReplayExchange` (connectors/replay/exchange.py) matches our orders against a recorded file; here
the same class is fed the live book and tape as they arrive, one depth or trade row at a time, so
our orders meet the live market through the very code a backtest uses: the queue model (a
resting order fills when prints at or through its price exceed the volume ahead of it), an
opposite level posted at or through its price, taker orders walking the visible book, fees and
balances in exact Decimals. Every row carries the simulation's own clock, which is also what a
recording of the session stamps (connectors/paper/recording.py), so a replay of it with the same
latency meets the same rows before each request and makes the same fills.

The price window of the core's book arrays is centred on the first price seen and moved when the
market drifts near its edge.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from bot.core.domain import Market, OrderRequest, OrderState, Side
from bot.core.events import OrderUpdate
from connectors.base import VenueError
from connectors.replay import layout
from connectors.replay.arrays import R_LOCAL_TS
from connectors.replay.events import ASK, BID, DEPTH, RESYNC, TRADE, DataMeta, EventData, make_event_data
from connectors.replay.exchange import ReplayExchange, Timed
from connectors.replay.exchange_side import ex_row
from connectors.replay.params import ReplayVenueParams

if TYPE_CHECKING:
    from connectors.paper.params import PaperVenueParams

WINDOW_HALF_TICKS = 50_000
_EDGE_TICKS = WINDOW_HALF_TICKS // 4


def _seed_data(market: Market, price_ticks: int, ts_ns: int) -> EventData:
    """Two marker rows spanning the window: the core sizes its book arrays from the data's prices."""
    lo, hi = max(price_ticks - WINDOW_HALF_TICKS, 1), price_ticks + WINDOW_HALF_TICKS
    meta = DataMeta(market.venue, market.symbol, market.tick_size, market.lot_size)
    return make_event_data(
        meta, kind=np.array([RESYNC, RESYNC]), side=np.ones(2), exch_ts_ns=np.array([ts_ns] * 2),
        local_ts_ns=np.array([ts_ns] * 2), price_ticks=np.array([lo, hi]), size_lots=np.zeros(2),
    )  # fmt: skip


def warm_up(markets: Iterable[Market], params: PaperVenueParams) -> None:
    """Run a throwaway matching through a book row, a print, an order and its cancel, so the
    replay core's compiled functions are loaded before the live data flows: loaded on the first
    live book instead, they stalled the event loop for most of a second between the first book
    and the bot's first quote, a stall a replay of the session does not have."""
    for market in list(markets)[:1]:
        fees = params.matching_params(market.maker_fee_bps, market.taker_fee_bps, market.min_notional)
        matching, price = LiveMatching(market, fees, 1000, 0), 1000
        matching.apply(DEPTH, BID, price, 1, 1)
        matching.apply(DEPTH, ASK, price + 2, 1, 1)
        matching.apply(TRADE, ASK, price, 1, 2)
        request = OrderRequest("warm-up", market.venue, market.symbol, Side.BUY, price - 1, 1)
        with contextlib.suppress(VenueError):  # balances may refuse it: the rows compiled anyway
            matching.place_at(request, 3)
            matching.cancel_at(market.symbol, request.client_order_id, 4)


class LiveMatching(ReplayExchange):
    """The replay exchange of one market, fed live rows (`apply`) instead of a file."""

    def __init__(self, market: Market, params: ReplayVenueParams, price_ticks: int, ts_ns: int) -> None:
        super().__init__(market.venue, _seed_data(market, price_ticks, ts_ns), params)
        self.market = market  # the exchange's own market (min notional, fees as configured)
        self._row = np.zeros((6, 1), dtype=np.int64)
        self.s.st[layout.S_EXCUR] = len(self.data)  # the seed rows are not market data

    def apply(self, kind: int, side: int, price_ticks: int, lots: int, ts_ns: int) -> list[Timed]:
        """One live row (DEPTH: a level's new size; TRADE: a print) at simulation time `ts_ns`;
        fills of our resting orders it caused come back, stamped at `ts_ns`."""
        self._keep_in_window(price_ticks)
        self.now_ns = max(self.now_ns, ts_ns)
        row, s = self._row, self.s
        row[layout.C_KIND, 0], row[layout.C_SIDE, 0] = kind, side
        row[layout.C_EXCH, 0] = row[layout.C_LOCAL, 0] = ts_ns
        row[layout.C_PRICE, 0], row[layout.C_SIZE, 0] = price_ticks, lots
        tail = int(s.st[layout.S_RESP_TAIL])
        ex_row(row, 0, s.books, s.st, s.fst, s.oi, s.of, s.act, s.resp, s.fills)
        for k in range(tail, int(s.st[layout.S_RESP_TAIL])):
            s.resp[k % layout.RING, R_LOCAL_TS] = ts_ns
        events: list[Timed] = []
        self._drain(events, respond_ns=None)
        return events

    def place_at(self, request: OrderRequest, ts_ns: int) -> tuple[OrderUpdate, list[Timed]]:
        self.now_ns = max(self.now_ns, ts_ns)
        return self.place(request, ts_ns, ts_ns)

    def cancel_at(self, symbol: str, client_order_id: str, ts_ns: int) -> tuple[OrderUpdate, list[Timed]]:
        self.now_ns = max(self.now_ns, ts_ns)
        return self.cancel(symbol, client_order_id, ts_ns, ts_ns)

    def adopt(self, update: OrderUpdate) -> None:
        """An order placed for its unfilled rest after a restart takes back its identity: its
        original size, what of it had filled, and its venue order id."""
        own = self._open[update.client_order_id]
        ratio = self.lot_ratio
        own.request = dataclasses.replace(own.request, size_lots=update.size_lots)
        own.filled_lots, own.filled_data_lots = update.filled_lots, update.filled_lots * ratio
        own.venue_order_id = update.venue_order_id or own.venue_order_id
        own.state = OrderState.PARTIALLY_FILLED if update.filled_lots else OrderState.OPEN
        oi = self.s.oi
        oi[own.slot, layout.O_QTY] = update.size_lots * ratio
        oi[own.slot, layout.O_EX_FILLED] = oi[own.slot, layout.O_LO_FILLED] = update.filled_lots * ratio

    def next_ids(self) -> list[int]:
        """[next venue order id, next trade id]: kept across restarts so ids never repeat."""
        return [self._next_order_id, self._next_trade_id]

    def start_ids(self, ids: list[int]) -> None:
        self._next_order_id, self._next_trade_id = int(ids[0]), int(ids[1])

    def _own_changed(self, ts_ns: int, own: object, lots: int) -> None:
        """No history of our resting size: the live matching publishes no local book of its own
        (the bot sees the exchange's), so nothing would ever read it."""

    def level_lots(self, side: int, price_ticks: int) -> int:
        """The simulated exchange's visible size at one price (others' liquidity only)."""
        st, books = self.s.st, self.s.books
        i = price_ticks - int(st[layout.S_BASE])
        row = layout.B_EX + (0 if side > 0 else 1)
        return int(books[row, i]) if 0 <= i < books.shape[1] else 0

    def requeue_at_back(self) -> None:
        """Every resting order of ours goes behind the visible size at its price (after a restart:
        what happened at its level while the bot was down is unknown, so assume the worst)."""
        oi, of = self.s.oi, self.s.of
        for k in range(int(self.s.st[layout.S_NACT])):
            slot = int(self.s.act[k])
            of[slot, layout.Q_AHEAD] = float(
                self.level_lots(int(oi[slot, layout.O_SIDE]), int(oi[slot, layout.O_PRICE]))
            )
            of[slot, layout.Q_TRADED] = 0.0

    def _keep_in_window(self, price_ticks: int) -> None:
        """Move the book window when a price comes near its edge (levels outside it are dropped)."""
        s = self.s
        base, width = int(s.st[layout.S_BASE]), s.books.shape[1]
        if _EDGE_TICKS <= price_ticks - base < width - _EDGE_TICKS:
            return
        new_base = max(price_ticks - width // 2, 1)
        if new_base == base:
            return  # prices near 0: the window already starts at the lowest price
        books = np.zeros_like(s.books)
        shift = new_base - base
        src_lo, src_hi = max(shift, 0), min(width, width + shift)
        if src_lo < src_hi:
            books[:, src_lo - shift : src_hi - shift] = s.books[:, src_lo:src_hi]
        s.books = books
        s.st[layout.S_BASE] = new_base
        for row in range(4):  # a best price outside the new window: the next best inside it
            best = int(s.st[layout.S_BEST + row])
            if best and not 0 <= best - new_base < width:
                filled = np.flatnonzero(books[row])
                s.st[layout.S_BEST + row] = (
                    0 if not len(filled) else new_base + int(filled[-1] if row % 2 == 0 else filled[0])
                )
