"""The mock venue: our own matching engine, simulated order flow, and the `Venue` adapter over them.

Layers (each usable alone): `matching` (one book, integer ticks/lots), `accounts` (exact Decimal
balances), `exchange` (the synchronous core with explicit time), `flow` (seeded background
liquidity and takers around a latent GBM fair price), `venue` (asyncio adapter with latencies).
"""

from connectors.mock.exchange import MockExchange, OrderType
from connectors.mock.flow import FairPricePath, OrderFlow
from connectors.mock.params import MockMarketParams, MockVenueParams
from connectors.mock.venue import MockVenue

__all__ = [
    "FairPricePath",
    "MockExchange",
    "MockMarketParams",
    "MockVenue",
    "MockVenueParams",
    "OrderFlow",
    "OrderType",
]
