"""Our accounts on the mock exchange: open and recently closed orders, fills, balances.

The ledger books what matching did to our orders (a fill, an expiry, a cancel) and reports each
change through `emit` as the OrderUpdate / FillEvent a venue pushes. Balance changes are gathered
during one exchange call and reported by `flush_balances` as one BalanceUpdate per account,
naming only the assets that changed. History (closed orders, fills) keeps the last
`history_size` entries.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from bot.core.domain import Balance, Fill, OrderState
from bot.core.events import BalanceUpdate, FillEvent, OrderUpdate, VenueEvent
from connectors.base import OrderNotFound, OrderRejected
from connectors.mock.accounts import Account, lock_amount, lock_asset
from connectors.mock.matching import RestingOrder
from connectors.mock.orders import OwnOrder

ExchangeListener = Callable[[str | None, VenueEvent], None]
"""Receives `(account_id, event)`; account_id is None for public events."""


class Ledger:
    """Every account of one simulated venue, with its orders and fills."""

    def __init__(self, venue: str, emit: ExchangeListener, history_size: int) -> None:
        self.venue = venue
        self.history_size = history_size
        self._emit = emit
        self._accounts: dict[str, Account] = {}
        self._open: dict[str, dict[tuple[str, str], OwnOrder]] = {}
        self._own_resting: dict[int, OwnOrder] = {}
        self._closed: OrderedDict[tuple[str, str, str], OrderUpdate] = OrderedDict()
        self._fills: dict[str, deque[Fill]] = {}
        self._touched: dict[str, set[str]] = {}

    # ---- accounts ------------------------------------------------------------------------------

    def open_account(self, account_id: str, balances: Mapping[str, Decimal], assets: Iterable[str]) -> None:
        if account_id in self._accounts:
            raise ValueError(f"account {account_id!r} already exists")
        self._accounts[account_id] = Account(account_id, balances, sorted(assets))
        self._open[account_id] = {}
        self._fills[account_id] = deque(maxlen=self.history_size)

    def account(self, account_id: str) -> Account:
        account = self._accounts.get(account_id)
        if account is None:
            raise OrderRejected(self.venue, f"unknown account {account_id!r}")
        return account

    def balances(self, account_id: str) -> dict[str, Balance]:
        return self.account(account_id).balances()

    def touch(self, account_id: str, *assets: str) -> None:
        """Mark balances changed during this call (reported by `flush_balances`)."""
        self._touched.setdefault(account_id, set()).update(assets)

    def flush_balances(self, ts: int) -> None:
        """One `BalanceUpdate` per account touched by the call, with the assets that changed."""
        if not self._touched:
            return
        touched, self._touched = self._touched, {}
        for account_id, assets in touched.items():
            account = self._accounts[account_id]
            balances = {asset: account.balance(asset) for asset in sorted(assets)}
            self._emit(account_id, BalanceUpdate(self.venue, balances, ts))

    # ---- orders --------------------------------------------------------------------------------

    def open_order(self, account_id: str, symbol: str, client_order_id: str) -> OwnOrder | None:
        """The live order of an account by client id (None when it has none)."""
        return self._open[account_id].get((symbol, client_order_id))

    def open_keys(self, account_id: str, symbol: str | None = None) -> list[tuple[str, str]]:
        """(symbol, client_order_id) of an account's live orders."""
        return [key for key in self._open[account_id] if symbol is None or key[0] == symbol]

    def accept(self, order: OwnOrder) -> None:
        """A new order passed its checks and holds its lock: it is live from now on."""
        self._open[order.account_id][(order.market.symbol, order.client_order_id)] = order
        self.touch(order.account_id, lock_asset(order.market, order.side))
        self._emit(order.account_id, order.update())

    def rest(self, order: OwnOrder) -> None:
        """The order now rests on the book: executions against it are ours to book."""
        self._own_resting[order.order_id] = order

    def resting(self, order_id: int) -> OwnOrder | None:
        """Our order resting on the book under this exchange order id, if it is ours."""
        return self._own_resting.get(order_id)

    def fill(
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
        self.touch(order.account_id, market.base, market.quote)
        self._emit(order.account_id, FillEvent(fill, ts))
        if order.filled_lots == order.size_lots:
            self.close(order, OrderState.FILLED, ts, None)
        else:
            order.state = OrderState.PARTIALLY_FILLED
            self._emit(order.account_id, order.update())

    def expire_makers(self, expired: list[RestingOrder], ts: int) -> None:
        for resting in expired:
            order = self._own_resting.get(resting.order_id)
            if order is not None:
                self.close(order, OrderState.EXPIRED, ts, "self-trade prevention: expired as maker")

    def close(self, order: OwnOrder, state: OrderState, ts: int, reason: str | None) -> None:
        """Move an order to a terminal state, release what it still holds locked, report it."""
        if order.lock_left:
            self._accounts[order.account_id].release(lock_asset(order.market, order.side), order.lock_left)
            order.lock_left = Decimal(0)
            self.touch(order.account_id, lock_asset(order.market, order.side))
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

    # ---- queries -------------------------------------------------------------------------------

    def retained_counts(self) -> dict[str, int]:
        """What the ledger holds now: live orders, closed-order and fill history (all bounded)."""
        return {
            "open": sum(len(orders) for orders in self._open.values()),
            "closed_history": len(self._closed),
            "fill_history": sum(len(fills) for fills in self._fills.values()),
        }

    def fetch_order(self, account_id: str, symbol: str, client_order_id: str) -> OrderUpdate:
        self.account(account_id)
        order = self._open[account_id].get((symbol, client_order_id))
        if order is not None:
            return order.update()
        closed = self._closed.get((account_id, symbol, client_order_id))
        if closed is None:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: unknown order")
        return closed

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[OrderUpdate]:
        self.account(account_id)
        return [
            o.update() for o in self._open[account_id].values() if symbol is None or o.market.symbol == symbol
        ]

    def fills(self, account_id: str, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        """Our recent fills (the last `history_size`), oldest first."""
        self.account(account_id)
        return [
            f
            for f in self._fills[account_id]
            if (symbol is None or f.symbol == symbol) and (since_ns is None or f.exchange_ts_ns >= since_ns)
        ]
