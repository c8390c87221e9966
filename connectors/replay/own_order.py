"""Our orders as the replay exchange holds them, and the market a replay file trades."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import Market, OrderRequest, OrderState
from bot.core.events import OrderUpdate
from connectors.replay.events import EventData
from connectors.replay.params import ReplayVenueParams


@dataclass(slots=True)
class OwnOrder:
    """One of our orders live on the replay exchange (its queue position lives in the core's arrays)."""

    request: OrderRequest
    slot: int
    venue_order_id: str
    lock_left: Decimal
    state: OrderState = OrderState.OPEN
    resting: bool = False
    filled_lots: int = 0
    filled_data_lots: int = 0  # a fill finer than the trading lot waits here for a whole lot
    updated_ns: int = 0

    def update(self, market: Market, reason: str | None = None) -> OrderUpdate:
        r = self.request
        return OrderUpdate(
            market.venue, r.symbol, r.client_order_id, self.venue_order_id, self.state, r.side,
            r.price_ticks, r.size_lots, self.filled_lots, self.updated_ns, reason,
        )  # fmt: skip


def market_of(venue: str, data: EventData, params: ReplayVenueParams) -> Market:
    meta = data.meta
    return Market(
        venue, meta.symbol, meta.base, meta.quote, meta.tick_size, meta.lot_size,
        params.min_notional, params.maker_fee_bps, params.taker_fee_bps,
    )  # fmt: skip
