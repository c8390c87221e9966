"""CcxtVenue.price_history: real ccxt (binance) `fetch_ohlcv` against the facade's klines.

The prints of tests/ccxt/prints.py make the candles; the venue under test gets a fixed clock inside
the last of their minutes, so every figure is known exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.clock import FixedClock
from bot.core.history import HistoryUnavailable
from connectors.base import PriceHistorySource, RateLimited
from connectors.ccxt import candles
from connectors.ccxt.venue import CcxtVenue
from connectors.mock.candles import price_history as mock_price_history
from connectors.mock.facade import FacadeHandle, klines
from tests.ccxt.prints import BTC, MIN, four_minutes

KLINES = ("GET", "/api/v3/klines")


@pytest.fixture
def t0(facade: FacadeHandle) -> int:
    return four_minutes(facade)


@pytest.fixture
def venue_at(make_venue: Callable[..., Any]) -> Callable[..., Any]:
    """A connected CcxtVenue whose clock stands at the given time."""

    async def make(facade: FacadeHandle, now_ns: int, **overrides: Any) -> CcxtVenue:
        return await make_venue(facade, clock=FixedClock(now_ns), **overrides)

    return make


async def test_closes_of_the_finished_minutes_at_their_close_times(facade, t0, venue_at):
    venue = await venue_at(facade, t0 + 3 * MIN + 30 * 10**9)
    assert isinstance(venue, PriceHistorySource)
    history = await venue.price_history(BTC, t0 + MIN)
    assert history.interval_s == 60
    assert history.ts_ns == (t0 + MIN, t0 + 2 * MIN, t0 + 3 * MIN)  # minute 3 is still open
    assert history.price == (60005.0, 59990.0, 60020.05)
    assert facade.rest.gate.counts[KLINES] == 1

    # since: the closes at since_ns or later (one nanosecond past a close drops it)
    later = await venue.price_history(BTC, t0 + MIN + 1)
    assert (later.ts_ns, later.price) == ((t0 + 2 * MIN, t0 + 3 * MIN), (59990.0, 60020.05))

    # everything since the facade started: the quiet minutes before t0 traded nothing and closed at
    # the unchanged mid, so only the first of them is a close; minute 2 traded nothing either, but
    # its mid moved (a bid rested inside the spread): kept
    whole = await venue.price_history(BTC, 0)
    first_minute = facade.exchange.bars.bars(BTC).oldest
    assert first_minute + 1 < t0 // MIN  # at least two quiet minutes
    assert whole.ts_ns == ((first_minute + 1) * MIN, t0 + MIN, t0 + 2 * MIN, t0 + 3 * MIN)
    assert whole.price == (60000.05, 60005.0, 59990.0, 60020.05)


async def test_pages_forward_until_the_open_candle(facade, t0, venue_at, monkeypatch):
    monkeypatch.setattr(candles, "PAGE", 1)
    venue = await venue_at(facade, t0 + 3 * MIN + 30 * 10**9)
    history = await venue.price_history(BTC, t0 + MIN)
    assert history.price == (60005.0, 59990.0, 60020.05)
    # one candle a page: minutes 0, 1, 2 and 3; the open one ends the paging
    assert facade.rest.gate.counts[KLINES] == 4

    monkeypatch.setattr(candles, "PAGE", 2)
    # The venue's clock far past the exchange's: the page after the newest candle comes back empty.
    late = await venue_at(facade, t0 + 30 * MIN)
    before = facade.rest.gate.counts[KLINES]
    history = await late.price_history(BTC, t0 + MIN)
    assert history.price == (60005.0, 59990.0, 60020.05, 60025.0)
    assert facade.rest.gate.counts[KLINES] - before == 3  # [0, 1], [2, 3], []

    # A span longer than the pages can carry keeps its most recent candles.
    monkeypatch.setattr(candles, "MAX_PAGES", 1)
    recent = await venue.price_history(BTC, 0)
    assert (recent.ts_ns, recent.price) == ((t0 + 3 * MIN,), (60020.05,))


async def test_longer_intervals_are_the_exchanges_candles(facade, t0, venue_at):
    venue = await venue_at(facade, t0 + 3 * MIN + 30 * 10**9)
    first_minute = facade.exchange.bars.bars(BTC).oldest
    # 3-minute candles open at multiples of 3 minutes: which ones have finished depends on t0
    history = await venue.price_history(BTC, 0, 180)
    assert history.interval_s == 180
    assert all(ts % (3 * MIN) == 0 for ts in history.ts_ns)
    assert history.ts_ns[-1] == (t0 + 3 * MIN + 30 * 10**9) // (3 * MIN) * (3 * MIN)
    assert history.ts_ns[0] >= (first_minute + 1) * MIN
    # each is the close of its last minute (every minute's, quiet ones included, from the exchange)
    now_ns = facade.exchange.now_ns
    minute_closes = mock_price_history(facade.exchange, BTC, 0, 60, now_ns)
    by_ts = dict(zip(minute_closes.ts_ns, minute_closes.price, strict=True))
    assert history.price == tuple(by_ts[ts] for ts in history.ts_ns)
    # quiet 3-minute candles before t0 (none to two, as t0 falls) repeat the first one's close: at
    # most that first one is kept
    quiet = [p for ts, p in zip(history.ts_ns, history.price, strict=True) if ts <= t0]
    assert quiet in ([], [60000.05])


async def test_unknown_market_and_interval_are_history_unavailable(facade, t0, venue_at):
    venue = await venue_at(facade, t0 + 3 * MIN + 30 * 10**9)
    with pytest.raises(HistoryUnavailable, match="bn: price history of DOGE/USDT: unknown market"):
        await venue.price_history("DOGE/USDT", 0)
    with pytest.raises(HistoryUnavailable, match=r"no 120s candles \(timeframes offered: 1s, 1m, 3m"):
        await venue.price_history(BTC, 0, 120)
    assert facade.rest.gate.counts[KLINES] == 0  # refused before asking


async def test_a_cut_connection_is_history_unavailable_not_a_ccxt_error(facade, venue_at, make_venue):
    venue = await venue_at(facade, facade.core.now_ns(), max_retries=1)
    await facade.stop()
    cause = "bn: price history of BTC/USDT: bn: fetch_ohlcv BTC/USDT 1m: ExchangeNotAvailable"
    with pytest.raises(HistoryUnavailable, match=cause):
        await venue.price_history(BTC, 0)
    assert venue.session.rest.retries == 1  # retried as any REST read, then given up
    unconnected = await make_venue(facade, connect=False)
    with pytest.raises(HistoryUnavailable, match="not connected"):
        await unconnected.price_history(BTC, 0)


async def test_candles_without_a_positive_close_are_dropped_with_one_warning(
    facade, t0, venue_at, monkeypatch, caplog
):
    serve = klines._rows

    def corrupted(market, found):
        rows = serve(market, found)
        for row in rows:
            if row[0] in (t0 // 10**6, t0 // 10**6 + 60_000):
                row[4] = "0" if row[0] == t0 // 10**6 else "-1"
        return rows

    monkeypatch.setattr(klines, "_rows", corrupted)
    venue = await venue_at(facade, t0 + 3 * MIN + 30 * 10**9)
    with caplog.at_level(logging.WARNING, "mmbot.ccxt"):
        history = await venue.price_history(BTC, t0 + MIN)
    assert (history.ts_ns, history.price) == ((t0 + 3 * MIN,), (60020.05,))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["bn: price history of BTC/USDT: dropped 2 candles without a positive close"]


async def test_rate_limits_are_retried_as_for_any_rest_read(facade, t0, venue_at):
    venue = await venue_at(facade, t0 + 3 * MIN + 30 * 10**9, max_retries=1)
    facade.faults.reject_next, facade.faults.retry_after_s = 1, 0.05
    history = await venue.price_history(BTC, t0 + MIN)
    assert history.price == (60005.0, 59990.0, 60020.05)
    assert (facade.faults.rejected, venue.session.rest.retries) == (1, 1)

    facade.faults.reject_next = 5
    cause = "bn: price history of BTC/USDT: bn: fetch_ohlcv BTC/USDT 1m: DDoSProtection: binance 429"
    with pytest.raises(HistoryUnavailable, match=cause) as info:
        await venue.price_history(BTC, t0 + MIN)
    assert facade.faults.rejected == 3  # one more try, then given up
    assert isinstance(info.value.__cause__, RateLimited)
