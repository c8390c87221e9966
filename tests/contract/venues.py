"""The venues under contract, each set up on the same market, book and balances.

Every adapter trades BTC/USDT (tick 0.1, lot 0.001, maker 1 bp, taker 5 bps) from 100 000 USDT
and 2 BTC, facing the same book of others: two levels of 20 lots a side. Time runs virtual for
the in-process venues (fake, mock, replay: deterministic, no waiting) and on the wall clock for
ccxt, which talks HTTP and websockets to the Binance-compatible facade on 127.0.0.1. A
`Contestant` runs a scenario on its venue and stops everything it started, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from bot.core.clock import Clock, LoopClock, run_simulated
from bot.core.domain import Market, Side
from bot.core.events import OrderUpdate
from connectors.base import Venue
from connectors.ccxt.venue import CcxtVenue
from connectors.mock.facade import serve_facade
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from connectors.replay.events import DataMeta, EventData
from connectors.replay.params import ReplayVenueParams
from connectors.replay.venue import ReplayVenue
from tests.ccxt.conftest import API_KEY, API_SECRET, venue_params
from tests.kit import replay_rows, stubs
from tests.kit.fake_venue import FakeVenue
from tests.kit.replay_rows import ASK, BID

SYMBOL = "BTC/USDT"
TICK = Decimal("0.1")
LOT = Decimal("0.001")
MAKER_FEE_BPS = Decimal(1)
TAKER_FEE_BPS = Decimal(5)
INITIAL = {"USDT": Decimal(100_000), "BTC": Decimal(2)}
BIDS = ((599_700, 20), (599_580, 20))
ASKS = ((600_301, 20), (600_421, 20))
"""The mock's quiet ladder around 60 000 (5 bps, then 2 bps apart): the book every venue shows."""
EPOCH_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: where virtual time starts

CAN_FILL_RESTING = "fill_resting"
"""Capability: the market can be made to trade into our resting order when the test says."""


def expected_market(venue: str) -> Market:
    return stubs.market(
        SYMBOL, venue, tick_size=TICK, lot_size=LOT, maker_fee_bps=MAKER_FEE_BPS, taker_fee_bps=TAKER_FEE_BPS
    )


@dataclass
class VenueUnderTest:
    """A connected venue on the contract's market, and what the scenario may do around it."""

    venue: Venue
    clock: Clock
    fill_resting: Callable[[OrderUpdate, int], None] | None
    """A taker trades `lots` with our resting order (alone at the top of its side of the book)."""
    clock_slack_ns: int = 0
    """How far the venue's timestamps may sit before our clock's (whole-millisecond venues)."""
    quiet_s: float = 1.0
    """Long enough for anything in flight to arrive."""


Scenario = Callable[[VenueUnderTest], Awaitable[None]]


@dataclass(frozen=True)
class Contestant:
    kind: str
    run: Callable[[Scenario], None]
    lacks: dict[str, str] = field(default_factory=dict)
    """Capabilities this venue legitimately does not have, with the reason."""

    def require(self, capability: str) -> None:
        """Skip, with the venue's reason, where it legitimately lacks `capability`."""
        reason = self.lacks.get(capability)
        if reason is not None:
            pytest.skip(f"{self.kind} cannot {capability}: {reason}")


# ---- fake ----------------------------------------------------------------------------------------


def run_on_fake(scenario: Scenario) -> None:
    async def main() -> None:
        clock = LoopClock(epoch_ns=EPOCH_NS)
        venue = FakeVenue("fake", [expected_market("fake")], INITIAL, clock)
        venue.set_book(SYMBOL, BIDS, ASKS)
        await venue.connect()

        def fill_resting(order: OrderUpdate, lots: int) -> None:
            venue.fill(order.client_order_id, lots)

        try:
            await scenario(VenueUnderTest(venue, clock, fill_resting))
        finally:
            await venue.close()

    run_simulated(main)


# ---- mock ----------------------------------------------------------------------------------------

_QUIET = {  # no flow at all: the book changes only when the scenario trades
    "liquidity_refresh_rate_per_s": 0.0,
    "noise_taker_rate_per_s": 0.0,
    "informed_taker_rate_per_s": 0.0,
    "volatility_annual": 0.0,
    "book_levels": len(BIDS),
}


def mock_params(**venue_fields: object) -> MockVenueParams:
    return MockVenueParams.model_validate(
        {
            "seed": 1,
            "order_latency_ms": 1,
            "feed_latency_ms": 1,
            "book_publish_interval_ms": 10,
            "initial_balances": {asset: str(amount) for asset, amount in INITIAL.items()},
            "markets": [
                {
                    "symbol": SYMBOL,
                    "tick_size": str(TICK),
                    "lot_size": str(LOT),
                    "maker_fee_bps": str(MAKER_FEE_BPS),
                    "taker_fee_bps": str(TAKER_FEE_BPS),
                    "initial_price": "60000",
                    **_QUIET,
                }
            ],
            **venue_fields,
        }
    )


def _taker_into(order: OrderUpdate) -> Side:
    return order.side.opposite


def run_on_mock(scenario: Scenario) -> None:
    async def main() -> None:
        clock = LoopClock(epoch_ns=EPOCH_NS)
        venue = MockVenue("mock", mock_params(), clock)
        await venue.connect()
        assert venue.exchange.depth(SYMBOL, 20) == (BIDS, ASKS), "the mock's ladder is not the contract book"

        def fill_resting(order: OrderUpdate, lots: int) -> None:
            venue.exchange.background_take(SYMBOL, _taker_into(order), lots, clock.now_ns())

        try:
            await scenario(VenueUnderTest(venue, clock, fill_resting))
        finally:
            await venue.close()

    run_simulated(main)


# ---- replay --------------------------------------------------------------------------------------

_REPLAY_SPAN_NS = 60 * 10**9
_PUBLISH_EVERY_NS = 10**7


def replay_data() -> EventData:
    """The contract book from the first instant, then the venue publishing it every 10 ms for a
    minute (no trades: nothing fills a resting order)."""
    rows = [replay_rows.depth(0, BID, price, lots) for price, lots in BIDS]
    rows += [replay_rows.depth(0, ASK, price, lots) for price, lots in ASKS]
    rows += [
        replay_rows.snapshot(t, BIDS[0][0])
        for t in range(_PUBLISH_EVERY_NS, _REPLAY_SPAN_NS, _PUBLISH_EVERY_NS)
    ]
    return replay_rows.book(rows, meta=DataMeta("recorded", SYMBOL, TICK, LOT), t0=EPOCH_NS)


def run_on_replay(scenario: Scenario) -> None:
    params = ReplayVenueParams(
        data="contract.npz",  # unused: the events are given
        order_latency_ms=1.0,
        maker_fee_bps=MAKER_FEE_BPS,
        taker_fee_bps=TAKER_FEE_BPS,
        initial_balances=INITIAL,
    )

    async def main() -> None:
        clock = LoopClock(epoch_ns=EPOCH_NS)
        venue = ReplayVenue("replay", params, clock, data=replay_data())
        await venue.connect()
        try:
            await scenario(VenueUnderTest(venue, clock, None))
        finally:
            await venue.close()

    run_simulated(main)


# ---- ccxt against the facade -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _facade_and_ccxt() -> AsyncIterator[tuple[CcxtVenue, Callable[[OrderUpdate, int], None]]]:
    """The facade on a free port of 127.0.0.1 and a connected ccxt venue on it; both stopped after.

    ccxt knows only Binance's default fee tier: the account's rates come from the venue params,
    as a live config gives them."""
    facade = await serve_facade("127.0.0.1", 0, mock_params(book_publish_interval_ms=20), API_KEY, API_SECRET)
    venue: CcxtVenue | None = None
    try:
        assert facade.exchange.depth(SYMBOL, 20) == (BIDS, ASKS), (
            "the facade's ladder is not the contract book"
        )
        params = venue_params(facade, maker_fee_bps=MAKER_FEE_BPS, taker_fee_bps=TAKER_FEE_BPS)
        venue = CcxtVenue("ccxt", params, LoopClock())
        await venue.connect()

        def fill_resting(order: OrderUpdate, lots: int) -> None:
            facade.exchange.background_take(SYMBOL, _taker_into(order), lots, facade.core.now_ns())

        yield venue, fill_resting
    finally:
        if venue is not None:
            await venue.close()
        await facade.stop()


def run_on_ccxt(scenario: Scenario) -> None:
    """Needs the facade's key and secret in the env vars `venue_params` names (conftest sets them)."""

    async def main() -> None:
        async with _facade_and_ccxt() as (venue, fill_resting):
            # ccxt stamps whole milliseconds; the facade's clock is anchored apart from ours
            await scenario(VenueUnderTest(venue, venue.clock, fill_resting, 2_000_000, quiet_s=0.3))

    asyncio.run(main())


CONTESTANTS = (
    Contestant("fake", run_on_fake),
    Contestant("mock", run_on_mock),
    Contestant(
        "replay",
        run_on_replay,
        {CAN_FILL_RESTING: "a replay fills resting orders only with the recorded file's trades"},
    ),
    Contestant("ccxt", run_on_ccxt),
)
