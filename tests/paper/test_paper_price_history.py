"""The paper venue serves the real exchange's candles (public, no key): a first start of an LP
manager on paper reads them as it would live. Real ccxt against the facade's klines."""

from __future__ import annotations

from pathlib import Path

from bot.core.clock import FixedClock
from connectors.base import PriceHistorySource
from connectors.mock.facade import FacadeHandle
from connectors.paper.venue import PaperVenue
from tests.ccxt.prints import BTC, MIN, four_minutes
from tests.paper.test_paper_venue import paper_params


async def test_the_paper_venue_passes_the_exchanges_closes_through(
    facade: FacadeHandle, tmp_path: Path
) -> None:
    t0 = four_minutes(facade)
    venue = PaperVenue("pv", paper_params(facade, tmp_path), FixedClock(t0 + 3 * MIN + 30 * 10**9))
    assert isinstance(venue, PriceHistorySource)
    await venue.connect()
    try:
        history = await venue.price_history(BTC, t0 + MIN)  # closes from minute 0's on
    finally:
        await venue.close()
    # minute 0 closes on its last print, minute 1 on its only one, minute 2 (no print) on the mid;
    # minute 3 is still open at the venue's clock
    assert history.ts_ns == (t0 + MIN, t0 + 2 * MIN, t0 + 3 * MIN)
    assert history.price == (60005.0, 59990.0, 60020.05)
