"""The exchange side of a replay: the recorded book plus our orders, matched by the replay core's
queue model, with exact Decimal balances and fees. Synchronous, time passed in by the venue.

Market rows are applied at their exchange time (`advance`); an order request reaching the
exchange at t first applies every row stamped at or before t, then acts on that book, so it never
trades with a row the exchange made later (no look-ahead). The local side (what the bot receives)
applies rows at their local time (`apply_local`) and is published as top-of-book snapshots with
our own resting orders, as they rested at the exchange time the snapshot shows, added back like a
real feed: at each SNAPSHOT row when the file has them, else after each batch of depth rows.

Answers are returned as `(deliver_ns, event)` pairs: fills of resting orders reach the bot with
the market row that caused them (that row's local time); what a request causes, at the caller's
`respond_ns`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from decimal import Decimal

import numpy as np

from bot.core.domain import Balance, Fill, OrderRequest, OrderState
from bot.core.events import BalanceUpdate, FillEvent, OrderUpdate, PublicTrade, VenueEvent
from connectors.base import InsufficientBalance, OrderNotFound, OrderRejected, PostOnlyWouldCross
from connectors.mock.accounts import Account, InsufficientFunds, lock_amount, lock_asset
from connectors.replay import layout
from connectors.replay.arrays import (
    RESP_COLUMNS,
    ex_advance_stamped,
    lo_advance,
    lo_skip_before,
    top_book,
)
from connectors.replay.events import DEPTH, SNAPSHOT, TRADE, EventData
from connectors.replay.exchange_side import ex_request
from connectors.replay.fast import ReplayParams, ReplayState
from connectors.replay.local_side import lo_response
from connectors.replay.own_order import OwnOrder, market_of
from connectors.replay.params import ReplayVenueParams
from connectors.replay.prints import public_trades

Timed = tuple[int, VenueEvent]
_NO_WAKE_NS = 1 << 60


class ReplayExchange:
    def __init__(
        self, venue: str, data: EventData, params: ReplayVenueParams, *, history_size: int = 10_000
    ) -> None:
        self.venue = venue
        self.params = params
        self.market = market_of(venue, data, params)
        self.data = data
        # the core works in data lots (queue positions too), finer than the trading lot or not
        self.lot_ratio = data.meta.lots_per_trading_lot
        core = ReplayParams(
            queue_model=params.queue_model,
            queue_power=params.queue_power,
            max_orders=params.max_orders,
            fill_on_crossing_book=params.fill_on_crossing_book,
            wake_interval_ns=_NO_WAKE_NS,  # the bot wakes itself; keeps the unused samples array tiny
        )
        self.s = s = ReplayState(data, core)
        s.resp = np.zeros((layout.RING, RESP_COLUMNS), dtype=np.int64)
        s.st[layout.S_RESP_LATENCY_ZERO] = 1  # answers stamped at exchange time: the venue adds latency
        m = self.market
        self.account = Account("main", params.initial_balances, [m.base, m.quote])
        self._open: dict[str, OwnOrder] = {}
        self._by_slot: dict[int, OwnOrder] = {}
        self._closed: OrderedDict[str, OrderUpdate] = OrderedDict()
        self._fills: deque[Fill] = deque(maxlen=history_size)
        self._history_size = history_size
        # changes of our resting size (ts_ns, side, price_ticks, lots): a snapshot shows the book
        # at an exchange time the exchange side may have moved past
        self._own_changes: deque[tuple[int, int, int, int]] = deque()
        self.has_snapshot_rows = bool((data.kind == SNAPSHOT).any())
        self._next_trade_id = 1
        self._next_order_id = 1
        self._levels = np.zeros((4, params.book_depth), dtype=np.int64)  # top_book's columns
        self.now_ns = 0
        self.book_exch_ns = 0  # exchange time of the book the local side shows
        self.feed_latency_ns = int(data.local_ts_ns[0] - data.exch_ts_ns[0]) if len(data) else 0
        """local − exchange time of the last row received"""
        self.publish = False  # the last `apply_local` received a publication of the book

    # ---- exchange side ---------------------------------------------------------------------

    def advance(self, ts_ns: int) -> list[Timed]:
        """Apply market rows made at or before `ts_ns`; fills of our resting orders come back."""
        if ts_ns > self.now_ns:
            self.now_ns = ts_ns
        s = self.s
        st = s.st
        cursor = int(st[layout.S_EXCUR])
        if cursor >= len(self.data):
            return []
        if (
            s.rows[layout.C_EXCH, s.ex_order[cursor]] > self.now_ns
            and st[layout.S_RESP_HEAD] == st[layout.S_RESP_TAIL]
        ):
            return []  # no row made by now and no answer waiting: the jitted call would do nothing
        ex_advance_stamped(
            self.now_ns, s.rows, s.ex_order, s.books, s.st, s.fst, s.oi, s.of, s.act, s.resp, s.fills
        )
        events: list[Timed] = []
        self._drain(events, respond_ns=None)
        return events

    def _reach(self, ts_ns: int) -> None:
        """The exchange's clock is at the request's arrival (as in the fast loop): a taker fill
        is stamped when the order reached the exchange, not at the last market row applied."""
        st = self.s.st
        if ts_ns > st[layout.S_EXNOW]:
            st[layout.S_EXNOW] = ts_ns

    def place(self, request: OrderRequest, ts_ns: int, respond_ns: int) -> tuple[OrderUpdate, list[Timed]]:
        """One order reaching the exchange at `ts_ns` (call `advance(ts_ns)` first)."""
        self._reach(ts_ns)
        m = self.market
        cid = request.client_order_id
        if request.symbol != m.symbol:
            raise OrderRejected(self.venue, f"{cid}: unknown symbol {request.symbol!r}")
        if cid in self._open:
            raise OrderRejected(self.venue, f"{cid}: duplicate client_order_id of a live order")
        if m.notional(request.price_ticks, request.size_lots) < m.min_notional:
            raise OrderRejected(self.venue, f"{cid}: notional below min_notional {m.min_notional}")
        slot = self._free_slot()
        if slot < 0:
            raise OrderRejected(self.venue, f"{cid}: {self.params.max_orders} orders open (max_orders)")
        lock = lock_amount(m, request.side, request.price_ticks, request.size_lots)
        asset = lock_asset(m, request.side)
        try:
            self.account.lock(asset, lock)
        except InsufficientFunds as exc:
            raise InsufficientBalance(self.venue, f"{cid}: {exc}") from None
        oi = self.s.oi
        oi[slot, layout.O_LO], oi[slot, layout.O_EX] = layout.LO_PENDING_NEW, layout.EX_PENDING
        oi[slot, layout.O_SIDE], oi[slot, layout.O_PRICE] = request.side.sign, request.price_ticks
        oi[slot, layout.O_QTY] = request.size_lots * self.lot_ratio
        oi[slot, layout.O_ID] = self._next_order_id
        oi[slot, layout.O_EX_FILLED] = oi[slot, layout.O_LO_FILLED] = oi[slot, layout.O_LAT] = 0
        oi[slot, layout.O_POST_ONLY] = int(request.post_only)
        own = OwnOrder(request, slot, str(self._next_order_id), lock, updated_ns=ts_ns)
        self._next_order_id += 1
        self._open[cid] = own
        self._by_slot[slot] = own
        events: list[Timed] = []
        answers = self._request(layout.REQ_NEW, slot, events, respond_ns)
        if layout.RESP_REJECTED in answers:
            self._forget(own)
            self.account.release(asset, lock)
            raise PostOnlyWouldCross(self.venue, f"{cid}: post-only order would cross")
        if request.immediate_or_cancel and own.state.is_live:
            self._request(layout.REQ_CANCEL, slot, events, respond_ns)
            self._close(
                own, OrderState.EXPIRED, respond_ns, events, "unfilled remainder of an immediate order"
            )
        elif own.state.is_live:
            own.resting = True
            self._own_changed(ts_ns, own, request.size_lots - own.filled_lots)
        events.append((respond_ns, self._balance_event()))
        return own.update(m), events

    def cancel(
        self, symbol: str, client_order_id: str, ts_ns: int, respond_ns: int
    ) -> tuple[OrderUpdate, list[Timed]]:
        own = self._open.get(client_order_id) if symbol == self.market.symbol else None
        if own is None:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: no open order")
        self._reach(ts_ns)
        events: list[Timed] = []
        answers = self._request(layout.REQ_CANCEL, own.slot, events, respond_ns)
        if layout.RESP_CANCELLED in answers:
            self._own_changed(ts_ns, own, -(own.request.size_lots - own.filled_lots))
            own.resting = False
            self._close(own, OrderState.CANCELLED, respond_ns, events, None)
            events.append((respond_ns, self._balance_event()))
        return own.update(self.market), events

    # ---- views -----------------------------------------------------------------------------

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        own = self._open.get(client_order_id)
        if own is not None and symbol == self.market.symbol:
            return own.update(self.market)
        closed = self._closed.get(client_order_id)
        if closed is None or closed.symbol != symbol:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: unknown order")
        return closed

    def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        if symbol not in (None, self.market.symbol):
            return []
        return [o.update(self.market) for o in self._open.values()]

    def balances(self) -> dict[str, Balance]:
        return self.account.balances()

    def fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        return [
            f
            for f in self._fills
            if (symbol is None or f.symbol == symbol) and (since_ns is None or f.exchange_ts_ns >= since_ns)
        ]

    # ---- local side ------------------------------------------------------------------------

    def next_local_ns(self) -> int | None:
        s = self.s
        i = int(s.st[layout.S_LOCUR])
        return int(s.rows[layout.C_LOCAL, i]) if i < len(self.data) else None

    def subscribe(self, ts_ns: int) -> None:
        """A stream starting at `ts_ns` carries what the venue makes from then on: the rows made
        before only build the local book (nothing is published for them)."""
        s = self.s
        lo_skip_before(ts_ns, s.rows, s.books, s.st)

    def apply_local(self, ts_ns: int) -> list[PublicTrade]:
        """Rows received at or before `ts_ns` reach the local book; their trades come back."""
        s = self.s
        first = int(s.st[layout.S_LOCUR])
        lo_advance(ts_ns, s.rows, s.books, s.st)
        last = int(s.st[layout.S_LOCUR])
        self.publish = False
        if last == first:
            return []
        rows = s.rows
        if last == first + 1:  # the usual step, one row: on Python scalars
            return self._received_one(first)
        if self.has_snapshot_rows:
            published = first + np.flatnonzero(rows[layout.C_KIND, first:last] == SNAPSHOT)
            if len(published):
                self.publish = True
                self.book_exch_ns = int(rows[layout.C_EXCH, published[-1]])
        elif (rows[layout.C_KIND, first:last] == DEPTH).any():
            self.publish = True
            self.book_exch_ns = int(rows[layout.C_EXCH, first:last].max())
        self.feed_latency_ns = int(rows[layout.C_LOCAL, last - 1] - rows[layout.C_EXCH, last - 1])
        return self.public_trades(first + np.flatnonzero(rows[layout.C_KIND, first:last] == TRADE))

    def _received_one(self, i: int) -> list[PublicTrade]:
        """`apply_local` of a single row `i`, the same outcome without array slices."""
        kind, _, exch_ns, local_ns, _, _ = self.s.rows[:, i].tolist()
        if kind == (SNAPSHOT if self.has_snapshot_rows else DEPTH):
            self.publish = True
            self.book_exch_ns = exch_ns
        self.feed_latency_ns = local_ns - exch_ns
        return self.public_trades(np.array([i])) if kind == TRADE else []

    def public_trades(self, rows_at: np.ndarray) -> list[PublicTrade]:
        """The prints of these TRADE rows, as the bot receives them."""
        return public_trades(self.market, self.s.rows, rows_at, self.lot_ratio)

    def top_of_book(self, depth: int) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """The local book's best levels plus our orders resting at the exchange time it shows."""
        own = self._own_levels(self.book_exch_ns)
        if self._levels.shape[1] < depth:
            self._levels = np.zeros((4, depth), dtype=np.int64)
        n_bids, n_asks = top_book(self.s.books, self.s.st, depth, self.lot_ratio, self._levels)
        bid_prices, bid_lots, ask_prices, ask_lots = self._levels.tolist()
        del bid_prices[n_bids:], bid_lots[n_bids:], ask_prices[n_asks:], ask_lots[n_asks:]
        for (side, price), lots in own.items():  # lists, then tuples once: no dict or sort per book
            prices, sizes = (bid_prices, bid_lots) if side > 0 else (ask_prices, ask_lots)
            _add_own(prices, sizes, price, lots, side, depth)
        return tuple(zip(bid_prices, bid_lots, strict=True)), tuple(zip(ask_prices, ask_lots, strict=True))

    # ---- internals -------------------------------------------------------------------------

    def _own_changed(self, ts_ns: int, own: OwnOrder, lots: int) -> None:
        self._own_changes.append((ts_ns, own.request.side.sign, own.request.price_ticks, lots))

    def _own_levels(self, at_ns: int) -> dict[tuple[int, int], int]:
        """Our resting lots per (side, price) at exchange time `at_ns`: now, minus later changes."""
        changes = self._own_changes
        while changes and changes[0][0] <= at_ns:  # snapshots only move forward in time
            changes.popleft()
        if not changes and not self._open:
            return {}
        out: dict[tuple[int, int], int] = {}
        for o in self._open.values():
            if o.resting:
                key = (o.request.side.sign, o.request.price_ticks)
                out[key] = out.get(key, 0) + o.request.size_lots - o.filled_lots
        for _, side, price, lots in changes:
            out[(side, price)] = out.get((side, price), 0) - lots
        return {key: lots for key, lots in out.items() if lots > 0}

    def _free_slot(self) -> int:
        oi = self.s.oi
        free = np.flatnonzero(
            (oi[:, layout.O_LO] == 0) & (oi[:, layout.O_EX] == 0) & (oi[:, layout.O_INFLIGHT] == 0)
        )
        return int(free[0]) if len(free) else -1

    def _request(self, kind: int, slot: int, events: list[Timed], respond_ns: int) -> list[int]:
        s = self.s
        ex_request(kind, slot, s.books, s.st, s.fst, s.oi, s.of, s.act, s.resp, s.fills)
        return self._drain(events, respond_ns)

    def _drain(self, events: list[Timed], respond_ns: int | None) -> list[int]:
        """Consume the core's answers: fills are booked here, the other kinds are returned."""
        s = self.s
        st, resp = s.st, s.resp
        if st[layout.S_RESP_TAIL] - st[layout.S_RESP_HEAD] > layout.RING:
            raise RuntimeError(
                f"{self.venue}: more than {layout.RING} answers in one step; lower feed_batch_ms"
            )
        kinds = []
        while st[layout.S_RESP_HEAD] < st[layout.S_RESP_TAIL]:
            exch_ns, kind, slot, lots, price, maker, local_ns = resp[
                st[layout.S_RESP_HEAD] % layout.RING
            ].tolist()
            lo_response(st, s.oi, resp)
            if kind == layout.RESP_FILL:
                deliver = respond_ns if respond_ns is not None else max(local_ns, exch_ns)
                own = self._by_slot[slot]
                own.filled_data_lots += lots
                whole = own.filled_data_lots // self.lot_ratio - own.filled_lots
                if whole > 0:
                    self._fill(own, price, whole, bool(maker), exch_ns, deliver, events)
            else:
                kinds.append(kind)
        return kinds

    def _fill(
        self,
        own: OwnOrder,
        price: int,
        lots: int,
        maker: bool,
        exch_ns: int,
        deliver_ns: int,
        events: list[Timed],
    ) -> None:
        m = self.market
        side = own.request.side
        fee = m.fee(price, lots, is_maker=maker)
        lock_used = lock_amount(m, side, own.request.price_ticks, lots)
        self.account.settle_fill(m, side, price, lots, fee, lock_used)
        own.lock_left -= lock_used
        own.filled_lots += lots
        own.updated_ns = exch_ns
        if own.resting:
            self._own_changed(exch_ns, own, -lots)
        fill = Fill(
            m.venue, m.symbol, str(self._next_trade_id), own.venue_order_id, own.request.client_order_id,
            side, price, lots, fee, m.quote, maker, exch_ns,
        )  # fmt: skip
        self._next_trade_id += 1
        self._fills.append(fill)
        events.append((deliver_ns, FillEvent(fill, deliver_ns)))
        if own.filled_lots >= own.request.size_lots:
            self._close(own, OrderState.FILLED, deliver_ns, events, None)
        else:
            own.state = OrderState.PARTIALLY_FILLED
            events.append((deliver_ns, own.update(m)))
        events.append((deliver_ns, self._balance_event()))

    def _close(
        self, own: OwnOrder, state: OrderState, deliver_ns: int, events: list[Timed], reason: str | None
    ) -> None:
        if own.lock_left:
            self.account.release(lock_asset(self.market, own.request.side), own.lock_left)
            own.lock_left = Decimal(0)
        own.state = state
        own.updated_ns = max(own.updated_ns, self.now_ns)
        self._forget(own)
        update = own.update(self.market, reason)
        self._closed[own.request.client_order_id] = update
        if len(self._closed) > self._history_size:
            self._closed.popitem(last=False)
        events.append((deliver_ns, update))

    def _forget(self, own: OwnOrder) -> None:
        self._open.pop(own.request.client_order_id, None)
        self._by_slot.pop(own.slot, None)

    def _balance_event(self) -> BalanceUpdate:
        return BalanceUpdate(self.venue, self.account.balances(), self.now_ns)


def _add_own(prices: list[int], lots: list[int], price: int, own_lots: int, sign: int, depth: int) -> None:
    """Our resting lots at `price` added to one side's levels (best first, in place): a level of
    ours the book does not show is inserted in price order, the side kept to `depth` levels."""
    if price in prices:
        i = prices.index(price)
        lots[i] += own_lots
        return
    i = 0  # prices are unique and best first: bids descending (sign 1), asks ascending (-1)
    while i < len(prices) and (prices[i] > price if sign > 0 else prices[i] < price):
        i += 1
    if i >= depth:
        return
    prices.insert(i, price)
    lots.insert(i, own_lots)
    del prices[depth:], lots[depth:]
