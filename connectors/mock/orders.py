"""Our orders as the mock exchange tracks them, and the order types it accepts."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from bot.core.domain import Market, OrderState, Side
from bot.core.events import OrderUpdate


class OrderType(StrEnum):
    LIMIT = "limit"  # good till cancelled
    LIMIT_MAKER = "limit_maker"  # post-only: rejected if it would take
    IOC = "ioc"  # immediate or cancel at a limit price
    MARKET = "market"


class OwnOrder:
    """One of our orders inside the exchange; mutated only by `MockExchange`."""

    __slots__ = (
        "account_id",
        "client_order_id",
        "filled_lots",
        "lock_left",
        "lock_price_ticks",
        "market",
        "order_id",
        "order_type",
        "price_ticks",
        "reason",
        "side",
        "size_lots",
        "state",
        "updated_ns",
    )

    def __init__(
        self,
        account_id: str,
        market: Market,
        client_order_id: str,
        order_id: int,
        side: Side,
        order_type: OrderType,
        price_ticks: int,
        size_lots: int,
        lock_price_ticks: int,
        lock_left: Decimal,
        ts_ns: int,
    ) -> None:
        self.account_id = account_id
        self.market = market
        self.client_order_id = client_order_id
        self.order_id = order_id
        self.side = side
        self.order_type = order_type
        self.price_ticks = price_ticks
        self.size_lots = size_lots
        self.lock_price_ticks = lock_price_ticks
        self.lock_left = lock_left
        self.filled_lots = 0
        self.state = OrderState.OPEN
        self.updated_ns = ts_ns
        self.reason: str | None = None

    def update(self) -> OrderUpdate:
        return OrderUpdate(
            venue=self.market.venue,
            symbol=self.market.symbol,
            client_order_id=self.client_order_id,
            venue_order_id=str(self.order_id),
            state=self.state,
            side=self.side,
            price_ticks=self.price_ticks,
            size_lots=self.size_lots,
            filled_lots=self.filled_lots,
            exchange_ts_ns=self.updated_ns,
            reason=self.reason,
        )
