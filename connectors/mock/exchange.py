"""The simulated exchange core: books, our accounts, our orders and fills, and the events they make.

Synchronous, with time passed in (`ts_ns`) by whoever drives it: the asyncio `MockVenue`, the
Binance-compatible facade, or a backtest loop. The exchange clock never runs backwards: each call
uses max(ts_ns, last ts seen). Errors are the `connectors.base` venue errors, so every driver
speaks one error vocabulary.

Listeners receive `(account_id, event)`: account_id is None for public events (`PublicTrade`,
`BookSnapshot`), else the account an `OrderUpdate` / `FillEvent` / `BalanceUpdate` belongs to.
Book changes are published throttled: `publish_books` emits a `BookSnapshot` for each market whose
book changed since the previous call (the driver calls it every publish interval). A
`TapeObserver` sees more than any feed: every print with who took and who made it, and every
call that changed a book (a venue-side market-data recorder, bot/backtest/paper_recorder.py).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from bot.core.domain import Balance, Fill, Market, OrderRequest, OrderState, Side
from bot.core.events import BalanceUpdate, BookSnapshot, FillEvent, OrderUpdate, PublicTrade, VenueEvent
from connectors.base import InsufficientBalance, OrderNotFound, OrderRejected, PostOnlyWouldCross
from connectors.mock.accounts import Account, InsufficientFunds, lock_amount, lock_asset
from connectors.mock.matching import Execution, Levels, OrderBook, RestingOrder
from connectors.mock.orders import OrderType, OwnOrder

ExchangeListener = Callable[[str | None, VenueEvent], None]


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

    def __init__(self, venue: str, markets: Iterable[Market], *, history_size: int = 10_000) -> None:
        self.venue = venue
        self._markets: dict[str, _MarketState] = {}
        for market in markets:
            if market.venue != venue:
                raise ValueError(f"market {market.key} does not belong to venue {venue!r}")
            if market.symbol in self._markets:
                raise ValueError(f"duplicate market {market.symbol!r}")
            self._markets[market.symbol] = _MarketState(market)
        self.history_size = history_size
        self._accounts: dict[str, Account] = {}
        self._open: dict[str, dict[tuple[str, str], OwnOrder]] = {}
        self._own_resting: dict[int, OwnOrder] = {}
        self._closed: OrderedDict[tuple[str, str, str], OrderUpdate] = OrderedDict()
        self._fills: dict[str, deque[Fill]] = {}
        self._listeners: list[ExchangeListener] = []
        self._tape: list[TapeObserver] = []
        self._touched: dict[str, set[str]] = {}
        self._next_order_id = 1
        self.now_ns = 0

    # ---- setup ---------------------------------------------------------------------------------

    @property
    def markets(self) -> dict[str, Market]:
        return {symbol: state.market for symbol, state in self._markets.items()}

    def book(self, symbol: str) -> OrderBook:
        return self._market_state(symbol).book

    def open_account(self, account_id: str, balances: Mapping[str, Decimal]) -> None:
        if account_id in self._accounts:
            raise ValueError(f"account {account_id!r} already exists")
        if account_id == BACKGROUND_OWNER:
            raise ValueError(f"account id {account_id!r} is reserved")
        assets = {a for s in self._markets.values() for a in (s.market.base, s.market.quote)}
        self._accounts[account_id] = Account(account_id, balances, sorted(assets))
        self._open[account_id] = {}
        self._fills[account_id] = deque(maxlen=self.history_size)

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
        account = self._account(account_id)
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
        self._open[account_id][(symbol, client_order_id)] = order
        self._touch(account_id, asset)
        self._emit(account_id, order.update())

        if limit is not None:
            executions, expired = book.take(side, size_lots, limit, stp_owner=account_id)
            self._expire_makers(expired, ts)
            self._settle(state, side, executions, order, ts)
        remaining = order.size_lots - order.filled_lots
        if remaining:
            if order_type in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
                book.rest(order.order_id, account_id, side, order.price_ticks, remaining)
                self._own_resting[order.order_id] = order
            else:
                self._close(order, OrderState.EXPIRED, ts, "unfilled remainder of an immediate order")
        update = order.update()
        self._flush_balances(ts)
        self._observe_book(state, ts)
        return update

    def cancel_order(self, account_id: str, symbol: str, client_order_id: str, ts_ns: int) -> OrderUpdate:
        ts = self._advance(ts_ns)
        self._account(account_id)
        order = self._open[account_id].get((symbol, client_order_id))
        if order is None:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: no open order")
        state = self._market_state(symbol)
        state.book.cancel(order.order_id)
        self._close(order, OrderState.CANCELLED, ts, None)
        self._flush_balances(ts)
        self._observe_book(state, ts)
        return order.update()

    def cancel_all(self, account_id: str, ts_ns: int, symbol: str | None = None) -> list[OrderUpdate]:
        self._account(account_id)
        keys = [key for key in self._open[account_id] if symbol is None or key[0] == symbol]
        return [self.cancel_order(account_id, sym, client_order_id, ts_ns) for sym, client_order_id in keys]

    def fetch_order(self, account_id: str, symbol: str, client_order_id: str) -> OrderUpdate:
        self._account(account_id)
        order = self._open[account_id].get((symbol, client_order_id))
        if order is not None:
            return order.update()
        closed = self._closed.get((account_id, symbol, client_order_id))
        if closed is None:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: unknown order")
        return closed

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[OrderUpdate]:
        self._account(account_id)
        return [
            o.update() for o in self._open[account_id].values() if symbol is None or o.market.symbol == symbol
        ]

    def balances(self, account_id: str) -> dict[str, Balance]:
        return self._account(account_id).balances()

    def fills(self, account_id: str, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        """Our recent fills (the last `history_size`), oldest first."""
        self._account(account_id)
        return [
            f
            for f in self._fills[account_id]
            if (symbol is None or f.symbol == symbol) and (since_ns is None or f.exchange_ts_ns >= since_ns)
        ]

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
        self._flush_balances(ts)
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
        self._flush_balances(ts)
        self._observe_book(state, ts)
        return sum(e.size_lots for e in executions)

    # ---- internals -----------------------------------------------------------------------------

    def _advance(self, ts_ns: int) -> int:
        if ts_ns > self.now_ns:
            self.now_ns = ts_ns
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

    def _account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id)
        if account is None:
            raise OrderRejected(self.venue, f"unknown account {account_id!r}")
        return account

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
        if (market.symbol, client_order_id) in self._open[account_id]:
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
            for observer in self._tape:
                observer.on_print(
                    market.symbol, taker_side, execution.price_ticks, execution.size_lots, ts,
                    BACKGROUND_OWNER if taker is None else taker.account_id, execution.maker_owner,
                )  # fmt: skip
            maker = self._own_resting.get(execution.maker_order_id)
            if maker is not None:
                self._fill(maker, execution.price_ticks, execution.size_lots, True, trade_id, ts)
            if taker is not None:
                self._fill(taker, execution.price_ticks, execution.size_lots, False, trade_id, ts)

    def _fill(
        self, order: OwnOrder, price_ticks: int, size_lots: int, is_maker: bool, trade_id: int, ts: int
    ) -> None:
        market = order.market
        account = self._accounts[order.account_id]
        fee = market.fee(price_ticks, size_lots, is_maker=is_maker)
        lock_used = lock_amount(market, order.side, order.lock_price_ticks, size_lots)
        account.settle_fill(market, order.side, price_ticks, size_lots, fee, lock_used)
        order.lock_left -= lock_used
        order.filled_lots += size_lots
        order.updated_ns = ts
        fill = Fill(
            venue=self.venue,
            symbol=market.symbol,
            venue_trade_id=str(trade_id),
            venue_order_id=str(order.order_id),
            client_order_id=order.client_order_id,
            side=order.side,
            price_ticks=price_ticks,
            size_lots=size_lots,
            fee=fee,
            fee_asset=market.quote,
            is_maker=is_maker,
            exchange_ts_ns=ts,
        )
        self._fills[order.account_id].append(fill)
        self._touch(order.account_id, market.base, market.quote)
        self._emit(order.account_id, FillEvent(fill, ts))
        if order.filled_lots == order.size_lots:
            self._close(order, OrderState.FILLED, ts, None)
        else:
            order.state = OrderState.PARTIALLY_FILLED
            self._emit(order.account_id, order.update())

    def _expire_makers(self, expired: list[RestingOrder], ts: int) -> None:
        for resting in expired:
            order = self._own_resting.get(resting.order_id)
            if order is not None:
                self._close(order, OrderState.EXPIRED, ts, "self-trade prevention: expired as maker")

    def _close(self, order: OwnOrder, state: OrderState, ts: int, reason: str | None) -> None:
        """Move an order to a terminal state, release what it still holds locked, report it."""
        if order.lock_left:
            self._accounts[order.account_id].release(lock_asset(order.market, order.side), order.lock_left)
            order.lock_left = Decimal(0)
            self._touch(order.account_id, lock_asset(order.market, order.side))
        order.state = state
        order.updated_ns = ts
        order.reason = reason
        symbol = order.market.symbol
        del self._open[order.account_id][(symbol, order.client_order_id)]
        self._own_resting.pop(order.order_id, None)
        update = order.update()
        self._closed[(order.account_id, symbol, order.client_order_id)] = update
        self._closed.move_to_end((order.account_id, symbol, order.client_order_id))
        if len(self._closed) > self.history_size:
            self._closed.popitem(last=False)
        self._emit(order.account_id, update)

    def _touch(self, account_id: str, *assets: str) -> None:
        self._touched.setdefault(account_id, set()).update(assets)

    def _flush_balances(self, ts: int) -> None:
        """One `BalanceUpdate` per account touched by the call, with the assets that changed."""
        if not self._touched:
            return
        touched, self._touched = self._touched, {}
        for account_id, assets in touched.items():
            account = self._accounts[account_id]
            balances = {asset: account.balance(asset) for asset in sorted(assets)}
            self._emit(account_id, BalanceUpdate(self.venue, balances, ts))

    def _emit(self, account_id: str | None, event: VenueEvent) -> None:
        for listener in self._listeners:
            listener(account_id, event)
