"""The Venue port: what every venue adapter (mock, ccxt, AMM) provides to the engine.

Adapters convert their raw messages into the domain types of `bot.core.domain` at the edge; nothing
past this module sees a venue's own schema. Streams are push-based: the adapter calls the sink the
engine gives it, from the event loop, and never blocks in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from bot.core.domain import Balance, Fill, Market, OrderRequest
from bot.core.events import OrderUpdate, VenueEvent
from bot.core.history import PriceHistory

EventSink = Callable[[VenueEvent], None]


class VenueError(Exception):
    """Base of every error a venue adapter raises; `venue` names the venue at fault."""

    def __init__(self, venue: str, message: str) -> None:
        super().__init__(f"{venue}: {message}")
        self.venue = venue


def outcome_of(call: Callable[[], OrderUpdate]) -> OrderUpdate | VenueError:
    """One request of a batch: its update, or the venue error that refused it (a batch answers
    every request, refused ones included, instead of stopping at the first refusal)."""
    try:
        return call()
    except VenueError as exc:
        return exc


class OrderRejected(VenueError):
    """The venue refused the order; nothing rests on the book."""


class PostOnlyWouldCross(OrderRejected):
    """A post-only order would have taken liquidity."""


class InsufficientBalance(OrderRejected):
    """Not enough free balance to lock for the order."""


class OrderNotFound(VenueError):
    """The venue does not know the order (already closed, or never placed)."""


class AuthError(VenueError):
    """Credentials missing, wrong, or not allowed to trade."""


class VenueUnavailable(VenueError):
    """Network error, timeout or 5xx: the request's outcome may be unknown."""


class RateLimited(VenueError):
    """The venue asked us to slow down (429/418); `retry_after_s` when it said how long."""

    def __init__(self, venue: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(venue, message)
        self.retry_after_s = retry_after_s


@runtime_checkable
class Venue(Protocol):
    """One trading venue. All prices and sizes cross this boundary as integer ticks and lots."""

    name: str
    supports_batch: bool

    async def connect(self) -> None:
        """Open sessions and authenticate; raises AuthError / VenueUnavailable."""

    async def close(self) -> None:
        """Stop streams and release every connection; idempotent."""

    async def load_markets(self) -> dict[str, Market]:
        """Markets this venue trades, keyed by symbol, with exact tick and lot sizes."""

    async def start_streams(self, symbols: Sequence[str], sink: EventSink) -> None:
        """Start pushing book, public trade, own order, fill and balance events to `sink`."""

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        """Place one order; returns the venue's ack (may already be filled) or raises OrderRejected."""

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel one order by our client id; raises OrderNotFound when the venue no longer has it."""

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate | VenueError]:
        """Batch place; one result per request, in order (falls back to single calls)."""

    async def cancel_orders(self, orders: Sequence[tuple[str, str]]) -> list[OrderUpdate | VenueError]:
        """Batch cancel of (symbol, client_order_id) pairs; one result per pair, in order."""

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """The venue's current view of one order (open or closed); raises OrderNotFound."""

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Every open order of this account (ours and anyone else's), for reconciliation."""

    async def fetch_balances(self) -> dict[str, Balance]:
        """Free and locked balance per asset."""

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list[Fill]:
        """Our recent fills, oldest first, for reconciliation after downtime."""


@runtime_checkable
class StreamedMarkets(Protocol):
    """A venue that can change the markets it streams without restarting its other streams."""

    async def stream_markets(self, symbols: Sequence[str]) -> None:
        """Stream exactly `symbols` from now on (after `start_streams`): a removed market's book and
        trade subscriptions end, a new one's start; own orders, fills and balances go on."""


@runtime_checkable
class PriceHistorySource(Protocol):
    """A venue that serves a market's recent candles (exchanges' klines): a strategy's first start
    measures σ̂ from them instead of from hours of its own samples."""

    async def price_history(self, symbol: str, since_ns: int, interval_s: int = 60) -> PriceHistory:
        """Closes every `interval_s` from `since_ns` until the last finished candle, oldest first;
        raises `bot.core.history.HistoryUnavailable` when the venue cannot serve them."""
        ...
