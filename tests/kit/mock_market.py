"""One real mock-venue market (BTC/USDT, still background book) behind a real order manager and
SQLite store, optionally with the engine streaming its book: the unit tests' bench for order flow
through the kernel on the simulated clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk import RiskLimits
from bot.kernel.store import Store
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue

WIDE_LIMITS = RiskLimits(Decimal(10**6), Decimal(10**6), 10)  # no notional limit in the way


def mock_venue_params(name: str, tick: str, seed: int) -> MockVenueParams:
    """BTC/USDT at 60,000 on a `tick` grid, lots of 0.001, a 10 bp background book that never moves
    nor trades by itself."""
    return MockVenueParams.model_validate(
        {
            "kind": "mock",
            "seed": seed,
            "initial_balances": {"USDT": "100000", "BTC": "1"},
            "markets": [
                {
                    "symbol": "BTC/USDT",
                    "tick_size": tick,
                    "lot_size": "0.001",
                    "initial_price": "60000",
                    "volatility_annual": 0,
                    "noise_taker_rate_per_s": 0,
                    "informed_taker_rate_per_s": 0,
                    "liquidity_refresh_rate_per_s": 0,
                    "book_spread_bps": 10,
                }
            ],
        }
    )


@dataclass(frozen=True)
class MockMarket:
    venue: MockVenue
    state: MarketState
    store: Store
    orders: OrderManager
    engine: Engine | None


async def mock_market(
    venue: MockVenue,
    tmp_path: Path,
    *,
    max_position_lots: int = 100,
    limits: RiskLimits = WIDE_LIMITS,
    with_engine: bool = True,
) -> MockMarket:
    """`venue` connected, its market in slot 0, the order manager holding its balances; with the
    engine, the venue streams into it and its first book is in."""
    await venue.connect()
    state = MarketState([venue.exchange.markets["BTC/USDT"]], [5], [max_position_lots])
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    orders = OrderManager("t1", {venue.name: venue}, state, store, venue.clock, limits, 1)
    orders.apply_balances(venue.name, await venue.fetch_balances())
    engine = None
    if with_engine:
        engine = Engine(state, orders, venue.clock)
        await venue.start_streams(["BTC/USDT"], engine.on_event)
        await asyncio.sleep(0.1)  # the book in
    return MockMarket(venue, state, store, orders, engine)
