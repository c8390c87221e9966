"""Real ccxt (binance class, REST + ccxt.pro streams) against our facade on 127.0.0.1.

The facade's simulated flow is switched off (zero rates) so books change only when a test says
so: through `facade.exchange` (background orders) or through the venue under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.core.clock import Clock, LoopClock
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.venue import CcxtVenue
from connectors.mock.facade import FacadeHandle, serve_facade
from connectors.mock.params import MockVenueParams

API_KEY = "test-key-0123456789"
API_SECRET = "test-secret-abcdef0123456789"
KEY_ENV = "MMBOT_TEST_FACADE_KEY"
SECRET_ENV = "MMBOT_TEST_FACADE_SECRET"
BINANCE_LOCAL_OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}

QUIET = {
    "liquidity_refresh_rate_per_s": 0.0,
    "noise_taker_rate_per_s": 0.0,
    "informed_taker_rate_per_s": 0.0,
    "book_levels": 5,
}


def facade_params() -> MockVenueParams:
    return MockVenueParams.model_validate(
        {
            "seed": 3,
            "book_publish_interval_ms": 20,
            "book_depth": 20,
            "initial_balances": {"USDT": "100000", "BTC": "2", "ETH": "10"},
            "markets": [
                {
                    "symbol": "BTC/USDT",
                    "tick_size": "0.1",
                    "lot_size": "0.001",
                    "min_notional": "5",
                    "maker_fee_bps": "1",
                    "taker_fee_bps": "5",
                    "initial_price": "60000",
                    **QUIET,
                },
                {
                    "symbol": "ETH/BTC",
                    "tick_size": "0.00001",
                    "lot_size": "0.0001",
                    "initial_price": "0.05",
                    "book_spread_bps": 20,
                    "book_level_spacing_bps": 10,
                    **QUIET,
                },
            ],
        }
    )


@pytest.fixture
async def facade() -> AsyncIterator[FacadeHandle]:
    handle = await serve_facade("127.0.0.1", 0, facade_params(), API_KEY, API_SECRET)
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, API_SECRET)


def venue_params(facade: FacadeHandle, **overrides: Any) -> CcxtVenueParams:
    fields: dict[str, Any] = {
        "exchange": "binance",
        "urls": facade.url,
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "options": BINANCE_LOCAL_OPTIONS,
        "stale_book_s": 30.0,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
        "reconcile_interval_s": 60.0,
        "order_rate_per_s": 100.0,
        "order_burst": 20,
        "rate_limit_ms": 1,  # ccxt's limiter stays on, spaced for a local server
    }
    fields.update(overrides)
    return CcxtVenueParams(**fields)


@pytest.fixture
async def make_venue(credentials: None) -> AsyncIterator[Callable[..., Any]]:
    venues: list[CcxtVenue] = []

    async def make(
        facade: FacadeHandle, connect: bool = True, clock: Clock | None = None, **overrides: Any
    ) -> CcxtVenue:
        venue = CcxtVenue("bn", venue_params(facade, **overrides), clock or LoopClock())
        venues.append(venue)
        if connect:
            await venue.connect()
        return venue

    try:
        yield make
    finally:
        for venue in venues:
            await venue.close()


@pytest.fixture
async def venue(facade: FacadeHandle, make_venue: Callable[..., Any]) -> CcxtVenue:
    return await make_venue(facade)
