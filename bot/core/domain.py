"""Domain types shared by the engine, the venues and the store.

Prices and sizes inside the engine are integers: `price_ticks` and `size_lots` of one market.
`Decimal` appears only where money leaves the engine (balances, fees, venue edges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import NamedTuple


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderState(StrEnum):
    PENDING_NEW = "pending_new"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_live(self) -> bool:
        """Could still trade on the venue (counts against limits and in the order diff)."""
        return self not in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
)

_S = OrderState
# A fill can race every non-terminal state (it may even arrive before the ack), and a cancel
# request can be refused by the venue, which returns the order to open / partially filled.
ALLOWED_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    _S.PENDING_NEW: frozenset(
        {_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
    ),
    _S.OPEN: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELLED, _S.EXPIRED}),
    _S.PARTIALLY_FILLED: frozenset(
        {_S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELLED, _S.EXPIRED}
    ),
    _S.PENDING_CANCEL: frozenset(
        {_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED, _S.PENDING_CANCEL}
    ),
    _S.FILLED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}


class IllegalTransition(ValueError):
    """An order was asked to move between two states the state machine does not connect."""


class MarketKey(NamedTuple):
    """A market named as in the config and the store, "venue:symbol".

    A tuple, so it is also the key of `MarketState.slot_of`.
    """

    venue: str
    symbol: str

    @classmethod
    def parse(cls, text: str) -> MarketKey:
        venue, colon, symbol = text.partition(":")
        if not colon or not venue or not symbol or ":" in symbol:
            raise ValueError(f'must look like "venue:symbol", got {text!r}')
        return cls(venue, symbol)

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable instrument on one venue, with the integer grid the engine works on."""

    venue: str
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)
    maker_fee_bps: Decimal = Decimal(0)
    taker_fee_bps: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise ValueError(f"{self.venue}:{self.symbol}: tick_size and lot_size must be positive")

    @property
    def key(self) -> str:
        return str(MarketKey(self.venue, self.symbol))

    def price(self, price_ticks: int) -> Decimal:
        return price_ticks * self.tick_size

    def size(self, size_lots: int) -> Decimal:
        return size_lots * self.lot_size

    def price_to_ticks(self, price: Decimal, *, rounding: str = ROUND_FLOOR) -> int:
        return int((Decimal(price) / self.tick_size).to_integral_value(rounding=rounding))

    def size_to_lots(self, size: Decimal, *, rounding: str = ROUND_FLOOR) -> int:
        return int((Decimal(size) / self.lot_size).to_integral_value(rounding=rounding))

    def exact_ticks(self, price: Decimal) -> int:
        """Ticks of a price that must lie on the grid (venue edges): refuses off-grid prices."""
        ticks = self.price_to_ticks(price)
        if ticks * self.tick_size != Decimal(price):
            raise ValueError(f"{self.key}: price {price} is not a multiple of tick {self.tick_size}")
        return ticks

    def exact_lots(self, size: Decimal) -> int:
        lots = self.size_to_lots(size)
        if lots * self.lot_size != Decimal(size):
            raise ValueError(f"{self.key}: size {size} is not a multiple of lot {self.lot_size}")
        return lots

    def notional(self, price_ticks: int, size_lots: int) -> Decimal:
        return self.price(price_ticks) * self.size(size_lots)

    def fee(self, price_ticks: int, size_lots: int, *, is_maker: bool) -> Decimal:
        bps = self.maker_fee_bps if is_maker else self.taker_fee_bps
        return self.notional(price_ticks, size_lots) * bps / Decimal(10_000)

    def ceil_ticks(self, price: Decimal) -> int:
        return self.price_to_ticks(price, rounding=ROUND_CEILING)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    price_ticks: int
    size_lots: int
    post_only: bool = True
    # Takes what it can at the limit now and never rests (hedges, arbitrage legs).
    immediate_or_cancel: bool = False

    def __post_init__(self) -> None:
        if self.post_only and self.immediate_or_cancel:
            raise ValueError(f"{self.client_order_id}: post_only and immediate_or_cancel exclude each other")
        if self.size_lots <= 0:
            raise ValueError(f"{self.client_order_id}: size_lots must be positive, got {self.size_lots}")
        if self.price_ticks <= 0:
            raise ValueError(f"{self.client_order_id}: price_ticks must be positive, got {self.price_ticks}")


@dataclass(slots=True)
class Order:
    """One of our orders through its lifecycle. Mutable: only `transition` changes its state."""

    request: OrderRequest
    state: OrderState = OrderState.PENDING_NEW
    created_ns: int = 0
    updated_ns: int = 0
    venue_order_id: str | None = None
    filled_lots: int = 0
    reason: str | None = None
    history: list[tuple[OrderState, int]] = field(default_factory=list)

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def remaining_lots(self) -> int:
        return self.request.size_lots - self.filled_lots

    def can_transition(self, new_state: OrderState) -> bool:
        return new_state in ALLOWED_TRANSITIONS[self.state]

    def transition(self, new_state: OrderState, ts_ns: int, reason: str | None = None) -> None:
        if not self.can_transition(new_state):
            raise IllegalTransition(
                f"order {self.client_order_id}: {self.state.value} -> {new_state.value} is not allowed"
            )
        self.state = new_state
        self.updated_ns = ts_ns
        if reason is not None:
            self.reason = reason
        self.history.append((new_state, ts_ns))


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders, as the venue reports it (unique per venue + trade id)."""

    venue: str
    symbol: str
    venue_trade_id: str
    venue_order_id: str
    client_order_id: str
    side: Side
    price_ticks: int
    size_lots: int
    fee: Decimal
    fee_asset: str
    is_maker: bool
    exchange_ts_ns: int


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked
