"""The simulated exchange core: books, order entry, simulated participants, and the events they make.

Our accounts, orders and fills are booked by the ledger (connectors/mock/ledger.py). Synchronous,
with time passed in (`ts_ns`) by whoever drives it: the asyncio `MockVenue`, the Binance-compatible
facade, or a backtest loop. The exchange clock never runs backwards: each call uses max(ts_ns,
last ts seen). Errors are the `connectors.base` venue errors, so every driver speaks one error
vocabulary.

Listeners receive `(account_id, event)`: account_id is None for public events (`PublicTrade`,
`BookSnapshot`), else the account an `OrderUpdate` / `FillEvent` / `BalanceUpdate` belongs to.
Book changes are published throttled: `publish_books` emits a `BookSnapshot` for each market whose
book changed since the previous call (the driver calls it every publish interval). A
`TapeObserver` sees more than any feed: every print with who took and who made it, and every
call that changed a book (a venue-side market-data recorder, bot/backtest/paper_recorder.py). The
exchange keeps 1-minute bars of every market itself (`bars`, connectors/mock/bars.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from bot.core.domain import Balance, Fill, Market, OrderRequest, OrderState, Side
from bot.core.events import BookSnapshot, OrderUpdate, PublicTrade, VenueEvent
from connectors.base import InsufficientBalance, OrderNotFound, OrderRejected, PostOnlyWouldCross
from connectors.mock.accounts import InsufficientFunds, lock_amount, lock_asset
from connectors.mock.bars import DEFAULT_CAPACITY, BarRecorder
from connectors.mock.ledger import ExchangeListener, Ledger
from connectors.mock.matching import Execution, Levels, OrderBook, RestingOrder
from connectors.mock.orders import OrderType, OwnOrder


class TapeObserver(Protocol):
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
        """One execution; `taker` and `maker` are account ids or BACKGROUND_OWNER."""

    def on_book(self, symbol: str, ts_ns: int) -> None:
        """The market's book changed during the call that just ended (read it with `depth`)."""


BACKGROUND_OWNER = "~background"
"""Owner of simulated liquidity: unlimited balance, never reported as anyone's order."""


class _MarketState:
    __slots__ = ("book", "market", "next_trade_id", "observed_version", "published_version")

    def __init__(self, market: Market) -> None:
        self.market = market
        self.book = OrderBook()
        self.next_trade_id = 1
        self.published_version = -1
        self.observed_version = 0


class MockExchange:
    """Every market and account of one simulated venue."""

    def __init__(
        self,
        venue: str,
        markets: Iterable[Market],
        *,
        history_size: int = 10_000,
        bar_history: int = DEFAULT_CAPACITY,
    ) -> None:
        self.venue = venue
        self._markets: dict[str, _MarketState] = {}
        for market in markets:
            if market.venue != venue:
                raise ValueError(f"market {market.key} does not belong to venue {venue!r}")
            if market.symbol in self._markets:
                raise ValueError(f"duplicate market {market.symbol!r}")
            self._markets[market.symbol] = _MarketState(market)
        self.history_size = history_size
        self._ledger = Ledger(venue, self._emit, history_size)
        self._listeners: list[ExchangeListener] = []
        self.bars = BarRecorder({symbol: state.book for symbol, state in self._markets.items()}, bar_history)
        """1-minute OHLC bars of every market, the last `bar_history` minutes (connectors.mock.bars)."""
        self._tape: list[TapeObserver] = []
        self._next_order_id = 1
        self.now_ns = 0

    # ---- setup ---------------------------------------------------------------------------------

    @property
    def markets(self) -> dict[str, Market]:
        return {symbol: state.market for symbol, state in self._markets.items()}

    def book(self, symbol: str) -> OrderBook:
        return self._market_state(symbol).book

    def open_account(self, account_id: str, balances: Mapping[str, Decimal]) -> None:
        if account_id == BACKGROUND_OWNER:
            raise ValueError(f"account id {account_id!r} is reserved")
        assets = {a for s in self._markets.values() for a in (s.market.base, s.market.quote)}
        self._ledger.open_account(account_id, balances, assets)

    def add_listener(self, listener: ExchangeListener) -> None:
        self._listeners.append(listener)

    def add_tape_observer(self, observer: TapeObserver) -> None:
        self._tape.append(observer)

    def remove_listener(self, listener: ExchangeListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ---- our accounts --------------------------------------------------------------------------

    def place_request(self, account_id: str, request: OrderRequest, ts_ns: int) -> OrderUpdate:
        """Place a domain `OrderRequest`: post-only maps to LIMIT_MAKER, IOC to IOC, else a GTC limit."""
        if request.post_only:
            order_type = OrderType.LIMIT_MAKER
        elif request.immediate_or_cancel:
            order_type = OrderType.IOC
        else:
            order_type = OrderType.LIMIT
        return self.place_order(
            account_id,
            request.symbol,
            request.client_order_id,
            request.side,
            request.size_lots,
            ts_ns,
            price_ticks=request.price_ticks,
            order_type=order_type,
        )

    def place_order(
        self,
        account_id: str,
        symbol: str,
        client_order_id: str,
        side: Side,
        size_lots: int,
        ts_ns: int,
        *,
        price_ticks: int | None = None,
        order_type: OrderType = OrderType.LIMIT,
    ) -> OrderUpdate:
        """Place one order; returns its state after matching, or raises an `OrderRejected`."""
        ts = self._advance(ts_ns)
        ledger = self._ledger
        account = ledger.account(account_id)
        state = self._market_state(symbol)
        market, book = state.market, state.book
        self._validate_new(account_id, market, client_order_id, size_lots, price_ticks, order_type)

        if order_type is OrderType.MARKET:
            # A market order is an IOC limited at the deepest level it would reach now; that price
            # also bounds the buy lock, and self-trade prevention can only make it take less.
            limit = book.sweep_limit(side, size_lots)
            reported_price = 0
        else:
            assert price_ticks is not None
            limit = price_ticks
            reported_price = price_ticks
            if order_type is OrderType.LIMIT_MAKER and book.would_cross(side, price_ticks):
                raise PostOnlyWouldCross(self.venue, f"{client_order_id}: post-only order would cross")

        lock = lock_amount(market, side, limit, size_lots) if limit is not None else Decimal(0)
        asset = lock_asset(market, side)
        try:
            account.lock(asset, lock)
        except InsufficientFunds as exc:
            raise InsufficientBalance(self.venue, f"{client_order_id}: {exc}") from None

        order = OwnOrder(
            account_id,
            market,
            client_order_id,
            self._new_order_id(),
            side,
            order_type,
            reported_price,
            size_lots,
            limit if limit is not None else 0,
            lock,
            ts,
        )
        ledger.accept(order)

        if limit is not None:
            executions, expired = book.take(side, size_lots, limit, stp_owner=account_id)
            ledger.expire_makers(expired, ts)
            self._settle(state, side, executions, order, ts)
        remaining = order.size_lots - order.filled_lots
        if remaining:
            if order_type in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
                book.rest(order.order_id, account_id, side, order.price_ticks, remaining)
                ledger.rest(order)
            else:
                ledger.close(order, OrderState.EXPIRED, ts, "unfilled remainder of an immediate order")
        update = order.update()
        ledger.flush_balances(ts)
        self._observe_book(state, ts)
        return update

    def cancel_order(self, account_id: str, symbol: str, client_order_id: str, ts_ns: int) -> OrderUpdate:
        ts = self._advance(ts_ns)
        ledger = self._ledger
        ledger.account(account_id)
        order = ledger.open_order(account_id, symbol, client_order_id)
        if order is None:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: no open order")
        state = self._market_state(symbol)
        state.book.cancel(order.order_id)
        ledger.close(order, OrderState.CANCELLED, ts, None)
        ledger.flush_balances(ts)
        self._observe_book(state, ts)
        return order.update()

    def cancel_all(self, account_id: str, ts_ns: int, symbol: str | None = None) -> list[OrderUpdate]:
        self._ledger.account(account_id)
        keys = self._ledger.open_keys(account_id, symbol)
        return [self.cancel_order(account_id, sym, client_order_id, ts_ns) for sym, client_order_id in keys]

    def fetch_order(self, account_id: str, symbol: str, client_order_id: str) -> OrderUpdate:
        return self._ledger.fetch_order(account_id, symbol, client_order_id)

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[OrderUpdate]:
        return self._ledger.open_orders(account_id, symbol)

    def balances(self, account_id: str) -> dict[str, Balance]:
        return self._ledger.balances(account_id)

    def fills(self, account_id: str, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        """Our recent fills (the last `history_size`), oldest first."""
        return self._ledger.fills(account_id, symbol, since_ns)

    def retained_counts(self) -> dict[str, int]:
        """Orders and fills held for our accounts: `open`, `closed_history`, `fill_history`."""
        return self._ledger.retained_counts()

    # ---- public market data --------------------------------------------------------------------

    def depth(self, symbol: str, levels: int) -> tuple[Levels, Levels]:
        return self._market_state(symbol).book.depth(levels)

    def publish_books(self, ts_ns: int, depth: int) -> int:
        """Emit a `BookSnapshot` of every book changed since the last call; returns how many."""
        ts = self._advance(ts_ns)
        published = 0
        for state in self._markets.values():
            if state.book.version == state.published_version:
                continue
            state.published_version = state.book.version
            bids, asks = state.book.depth(depth)
            self._emit(None, BookSnapshot(self.venue, state.market.symbol, bids, asks, ts, ts))
            published += 1
        return published

    # ---- simulated participants (unlimited balance, no order events) ----------------------------

    def background_place(
        self, symbol: str, side: Side, price_ticks: int, size_lots: int, ts_ns: int
    ) -> RestingOrder | None:
        """A GTC limit of the background: trades what it crosses (our stale quotes too), rests the rest."""
        ts = self._advance(ts_ns)
        state = self._market_state(symbol)
        executions, _ = state.book.take(side, size_lots, price_ticks)
        self._settle(state, side, executions, None, ts)
        remaining = size_lots - sum(e.size_lots for e in executions)
        resting = None
        if remaining:
            resting = state.book.rest(self._new_order_id(), BACKGROUND_OWNER, side, price_ticks, remaining)
        self._ledger.flush_balances(ts)
        self._observe_book(state, ts)
        return resting

    def background_cancel(self, symbol: str, order_id: int, ts_ns: int | None = None) -> int | None:
        ts = self.now_ns if ts_ns is None else self._advance(ts_ns)
        state = self._market_state(symbol)
        remaining = state.book.cancel(order_id)
        self._observe_book(state, ts)
        return remaining

    def background_take(
        self, symbol: str, side: Side, size_lots: int, ts_ns: int, limit_price_ticks: int | None = None
    ) -> int:
        """A background taker (market order, or IOC at `limit_price_ticks`); returns lots filled."""
        ts = self._advance(ts_ns)
        state = self._market_state(symbol)
        executions, _ = state.book.take(side, size_lots, limit_price_ticks)
        self._settle(state, side, executions, None, ts)
        self._ledger.flush_balances(ts)
        self._observe_book(state, ts)
        return sum(e.size_lots for e in executions)

    # ---- internals -----------------------------------------------------------------------------

    def _advance(self, ts_ns: int) -> int:
        if ts_ns > self.now_ns:
            self.now_ns = ts_ns
            if ts_ns >= self.bars.next_minute_ns:
                self.bars.on_time(ts_ns)  # before this call changes a book: the mids as the minute began
        return self.now_ns

    def _observe_book(self, state: _MarketState, ts: int) -> None:
        if self._tape and state.book.version != state.observed_version:
            state.observed_version = state.book.version
            for observer in self._tape:
                observer.on_book(state.market.symbol, ts)

    def _new_order_id(self) -> int:
        order_id = self._next_order_id
        self._next_order_id += 1
        return order_id

    def _market_state(self, symbol: str) -> _MarketState:
        state = self._markets.get(symbol)
        if state is None:
            raise OrderRejected(self.venue, f"unknown symbol {symbol!r}")
        return state

    def _validate_new(
        self,
        account_id: str,
        market: Market,
        client_order_id: str,
        size_lots: int,
        price_ticks: int | None,
        order_type: OrderType,
    ) -> None:
        where = f"{market.symbol} {client_order_id}"
        if not client_order_id:
            raise OrderRejected(self.venue, f"{market.symbol}: client_order_id is empty")
        if self._ledger.open_order(account_id, market.symbol, client_order_id) is not None:
            raise OrderRejected(self.venue, f"{where}: duplicate client_order_id of a live order")
        if size_lots <= 0:
            raise OrderRejected(self.venue, f"{where}: size_lots must be positive, got {size_lots}")
        if order_type is OrderType.MARKET:
            if price_ticks is not None:
                raise OrderRejected(self.venue, f"{where}: a market order takes no price_ticks")
            return
        if price_ticks is None or price_ticks <= 0:
            raise OrderRejected(self.venue, f"{where}: price_ticks must be positive, got {price_ticks}")
        if market.notional(price_ticks, size_lots) < market.min_notional:
            raise OrderRejected(
                self.venue,
                f"{where}: notional {market.notional(price_ticks, size_lots)} below min_notional "
                f"{market.min_notional}",
            )

    def _settle(
        self,
        state: _MarketState,
        taker_side: Side,
        executions: list[Execution],
        taker: OwnOrder | None,
        ts: int,
    ) -> None:
        market = state.market
        for execution in executions:
            trade_id = state.next_trade_id
            state.next_trade_id += 1
            self._emit(
                None,
                PublicTrade(
                    self.venue, market.symbol, taker_side, execution.price_ticks, execution.size_lots, ts, ts
                ),
            )
            self.bars.on_print(market.symbol, taker_side, execution.price_ticks, execution.size_lots, ts)
            for observer in self._tape:
                observer.on_print(
                    market.symbol, taker_side, execution.price_ticks, execution.size_lots, ts,
                    BACKGROUND_OWNER if taker is None else taker.account_id, execution.maker_owner,
                )  # fmt: skip
            maker = self._ledger.resting(execution.maker_order_id)
            if maker is not None:
                self._ledger.fill(maker, execution.price_ticks, execution.size_lots, True, trade_id, ts)
            if taker is not None:
                self._ledger.fill(taker, execution.price_ticks, execution.size_lots, False, trade_id, ts)

    def _emit(self, account_id: str | None, event: VenueEvent) -> None:
        for listener in self._listeners:
            listener(account_id, event)
