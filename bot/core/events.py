"""Events venues push into the engine: books, public trades, our order updates, fills, balances."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.domain import Balance, Fill, OrderState, Side


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Top levels of a book: (price_ticks, size_lots), bids best first, asks best first."""

    venue: str
    symbol: str
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    exchange_ts_ns: int
    local_ts_ns: int


@dataclass(frozen=True, slots=True)
class PublicTrade:
    venue: str
    symbol: str
    aggressor: Side
    price_ticks: int
    size_lots: int
    exchange_ts_ns: int
    local_ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The venue's view of one of our orders: the ack of a place call, a stream event, a fetch."""

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str | None
    state: OrderState
    side: Side
    price_ticks: int
    size_lots: int
    filled_lots: int
    exchange_ts_ns: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: Fill
    local_ts_ns: int


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    venue: str
    balances: dict[str, Balance]
    exchange_ts_ns: int


@dataclass(frozen=True, slots=True)
class VenueStatus:
    """Connectivity of a venue's streams; `connected=False` pulls quotes on its markets."""

    venue: str
    connected: bool
    detail: str
    local_ts_ns: int


@dataclass(frozen=True, slots=True)
class BookStatus:
    """Whether one market's book can be quoted on; `live=False` pulls that market's quotes only.

    A book is not live while its stream is lost, or silent while the venue's REST book shows it
    moved (updates were lost). A quiet book the REST book confirms is live.
    """

    venue: str
    symbol: str
    live: bool
    detail: str
    local_ts_ns: int


VenueEvent = BookSnapshot | PublicTrade | OrderUpdate | FillEvent | BalanceUpdate | VenueStatus | BookStatus
