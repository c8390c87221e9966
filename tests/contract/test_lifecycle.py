"""The Venue contract, lifecycle and account: connect, markets on their grid, balances, close."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.domain import Side
from bot.core.events import BookSnapshot
from connectors.base import Venue, VenueError, VenueUnavailable
from tests.contract import expect
from tests.contract.venues import SYMBOL, Contestant, VenueUnderTest, expected_market
from tests.kit.recorder import Recorder


def test_the_adapter_is_a_venue_and_connecting_twice_changes_nothing(contestant: Contestant) -> None:
    async def scenario(t: VenueUnderTest) -> None:
        assert isinstance(t.venue, Venue)
        assert t.venue.name == contestant.kind
        await t.venue.connect()  # already connected by the harness
        assert await t.venue.load_markets() == {SYMBOL: expected_market(contestant.kind)}
        assert await t.venue.fetch_balances() == expect.initial_balances()

    contestant.run(scenario)


def test_markets_carry_the_exact_grid_and_fees(contestant: Contestant) -> None:
    async def scenario(t: VenueUnderTest) -> None:
        [(symbol, market)] = (await t.venue.load_markets()).items()
        assert symbol == SYMBOL
        assert (market.venue, market.symbol, market.base, market.quote) == (
            contestant.kind,
            SYMBOL,
            "BTC",
            "USDT",
        )
        assert (str(market.tick_size), str(market.lot_size)) == ("0.1", "0.001")
        assert (market.maker_fee_bps, market.taker_fee_bps, market.min_notional) == (1, 5, 0)

    contestant.run(scenario)


def test_balances_are_free_and_locked_per_asset(contestant: Contestant) -> None:
    async def scenario(t: VenueUnderTest) -> None:
        balances = await t.venue.fetch_balances()
        assert balances == expect.initial_balances()
        assert all(b.asset == asset and b.locked == 0 for asset, b in balances.items())

    contestant.run(scenario)


def test_streams_of_an_unknown_market_are_refused(contestant: Contestant) -> None:
    async def scenario(t: VenueUnderTest) -> None:
        with pytest.raises(VenueError) as refused:
            await t.venue.start_streams(["DOGE/USDT"], Recorder())
        assert refused.value.venue == contestant.kind

    contestant.run(scenario)


def test_close_stops_the_streams_is_idempotent_and_later_calls_are_unavailable(
    contestant: Contestant,
) -> None:
    async def scenario(t: VenueUnderTest) -> None:
        rec = Recorder()
        await t.venue.start_streams([SYMBOL], rec)
        await rec.wait_for(lambda: rec.last_book(SYMBOL), what="a first book")
        await t.venue.close()
        seen = len(rec.events)
        await asyncio.sleep(t.quiet_s)
        assert len(rec.events) == seen
        assert not [e for e in rec.events[seen:] if isinstance(e, BookSnapshot)]
        await t.venue.close()
        with pytest.raises(VenueUnavailable):
            await t.venue.place_order(expect.request(1, Side.BUY, expect.DEEP_BID, 1, contestant.kind))
        with pytest.raises(VenueUnavailable):
            await t.venue.fetch_balances()

    contestant.run(scenario)
