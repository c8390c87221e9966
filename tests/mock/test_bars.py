"""The mock exchange's 1-minute bars (connectors.mock.bars), their candles (connectors.mock.candles)
and the mock venue's price history made of them."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal as D

import numpy as np
import pytest

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Market, Side
from bot.core.history import HistoryUnavailable
from connectors.base import PriceHistorySource
from connectors.mock.bars import CLOSE, HIGH, LOW, OPEN, TAKER_BUY, TRADES, VOLUME, MinuteBars
from connectors.mock.candles import align_down, candles
from connectors.mock.exchange import MockExchange
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue

MIN = 60 * 10**9
T0 = 28_333_340 * MIN  # a minute boundary (2023-11-14 22:20 UTC)
SYM = "BTC/USDT"


def _market() -> Market:
    return Market("x", SYM, "BTC", "USDT", D("0.1"), D("0.001"), D(0), D(1), D(5))


def _exchange(**kwargs: int) -> MockExchange:
    return MockExchange("x", [_market()], **kwargs)


def _ladder(ex: MockExchange, bid: int, ask: int, ts: int) -> None:
    ex.background_place(SYM, Side.BUY, bid, 100, ts)
    ex.background_place(SYM, Side.SELL, ask, 100, ts)


def _trade(ex: MockExchange, price: int, ts: int, lots: int = 1) -> None:
    """A print at `price` (inside the spread): a background seller rests there, a buyer takes it."""
    ex.background_place(SYM, Side.SELL, price, lots, ts)
    assert ex.background_take(SYM, Side.BUY, lots, ts, price) == lots


def _rows(ex: MockExchange, first: int, last: int) -> list[tuple[int, float, float, float, float]]:
    minutes, cols = ex.bars.read(SYM, first, last)
    return [
        (int(m), *(float(cols[r, i]) for r in (OPEN, HIGH, LOW, CLOSE)))  # type: ignore[misc]
        for i, m in enumerate(minutes)
    ]


def test_bar_is_the_ohlc_of_the_prints_of_its_minute():
    ex = _exchange()
    m0 = T0 // MIN
    _ladder(ex, 1000, 1010, T0)
    for second, price in ((5, 1004), (10, 1008), (20, 1001), (50, 1003)):
        _trade(ex, price, T0 + second * 10**9, lots=2)
    _trade(ex, 1005, T0 + MIN)  # the next minute: closes the first
    minutes, cols = ex.bars.read(SYM, m0, m0)
    assert minutes.tolist() == [m0]
    assert [cols[r, 0] for r in (OPEN, HIGH, LOW, CLOSE)] == [1004, 1008, 1001, 1003]
    assert (cols[VOLUME, 0], cols[TRADES, 0], cols[TAKER_BUY, 0]) == (8, 4, 8)
    # the open minute: its prints so far
    assert _rows(ex, m0 + 1, m0 + 1) == [(m0 + 1, 1005, 1005, 1005, 1005)]


def test_a_minute_without_a_print_goes_from_the_mid_as_it_began_to_the_mid_as_it_ended():
    ex = _exchange()
    m0 = T0 // MIN
    _ladder(ex, 1000, 1010, T0)  # mid 1005
    _trade(ex, 1003, T0 + 1)
    ex.background_place(SYM, Side.BUY, 1006, 1, T0 + MIN + 10**9)  # minute 1: mid 1008, no print
    ex.background_place(SYM, Side.BUY, 1008, 1, T0 + MIN + 2 * 10**9)  # mid 1009
    ex.background_place(SYM, Side.SELL, 1011, 1, T0 + 4 * MIN)  # minutes 2 and 3: nothing happened
    assert _rows(ex, m0, m0 + 4) == [
        (m0, 1003, 1003, 1003, 1003),
        (m0 + 1, 1005, 1009, 1005, 1009),  # open: the mid left by minute 0; close: the mid at its end
        (m0 + 2, 1009, 1009, 1009, 1009),  # quiet: flat at the mid
        (m0 + 3, 1009, 1009, 1009, 1009),
        (m0 + 4, 1009, 1009, 1009, 1009),  # open now, no print, the mid unchanged (asks at 1010)
    ]
    # minutes after the open one (nothing happened in them yet) are flat at the mid now
    ex.background_place(SYM, Side.SELL, 1009, 1, T0 + 4 * MIN + 1)  # mid (1008 + 1009) / 2
    assert _rows(ex, m0 + 4, m0 + 6) == [(m + m0, 1009, 1009, 1008.5, 1008.5) for m in (4,)] + [
        (m0 + 5, 1008.5, 1008.5, 1008.5, 1008.5),
        (m0 + 6, 1008.5, 1008.5, 1008.5, 1008.5),
    ]


def test_bars_start_at_the_first_price_and_keep_a_bounded_number_of_minutes():
    ex = _exchange(bar_history=5)
    m0 = T0 // MIN
    ex.background_place(SYM, Side.BUY, 1000, 1, T0)  # one side only: no mid, no bar yet
    ex.background_place(SYM, Side.BUY, 999, 1, T0 + MIN)
    assert ex.bars.read(SYM, 0, m0 + 10)[0].tolist() == []
    ex.background_place(SYM, Side.SELL, 1100, 1, T0 + 2 * MIN)  # mid 1050 from now on
    assert [r[0] for r in _rows(ex, 0, m0 + 2)] == [m0 + 2]
    for i in range(3, 40):
        _trade(ex, 1000 + i, T0 + i * MIN)
    bars = ex.bars.bars(SYM)
    assert bars.columns.shape == (9, 5)  # the ring never grows
    assert (bars.oldest, bars.minute) == (m0 + 35, m0 + 39)
    assert _rows(ex, 0, m0 + 39) == [(m0 + i, 1000 + i, 1000 + i, 1000 + i, 1000 + i) for i in range(35, 40)]
    # a gap longer than the ring: only the last minutes are kept, flat at the mid
    _trade(ex, 1002, T0 + 1000 * MIN)
    assert (bars.oldest, [r[4] for r in _rows(ex, 0, m0 + 1000)]) == (m0 + 996, [1050] * 4 + [1002])


def test_a_late_print_joins_the_open_minute_and_minutes_never_go_back():
    bars = MinuteBars(capacity=4)
    bars.roll(10, 100.0)
    bars.on_print(101, 1, True, 10 * MIN + 1)
    bars.roll(12, 102.0)
    bars.roll(11, 90.0)  # ignored: minute 12 is open
    bars.on_print(103, 1, False, 11 * MIN)  # late: counts in minute 12
    minutes, cols = bars.read(0, 12, 102.0)
    assert minutes.tolist() == [10, 11, 12]
    assert cols[CLOSE].tolist() == [101, 102, 103]
    assert cols[TAKER_BUY].tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="capacity"):
        MinuteBars(capacity=1)


def test_longer_candles_aggregate_the_minutes():
    ex = _exchange()
    m0 = T0 // MIN  # a multiple of 5 minutes
    assert align_down(m0, 5) == m0
    _ladder(ex, 1000, 1010, T0)
    prices = [1004, 1007, 1001, 1002, 1003, 1006, 1008, 1005]  # minutes 0..7
    for i, price in enumerate(prices):
        _trade(ex, price, T0 + i * MIN + 10**9, lots=i + 1)
    found = candles(ex.bars, SYM, 5, m0 - 5, m0 + 5, m0 + 7)
    assert found.open_minute.tolist() == [m0, m0 + 5]
    assert [found.columns[r].tolist() for r in (OPEN, HIGH, LOW, CLOSE, VOLUME)] == [
        [1004, 1006],
        [1007, 1008],
        [1001, 1005],
        [1003, 1005],  # the second one is open: its close is the last print
        [15, 6 + 7 + 8],
    ]
    # weeks open on Mondays (1970-01-05 was the first)
    assert align_down(0, 7 * 1440) == -3 * 1440 and align_down(4 * 1440, 7 * 1440) == 4 * 1440


def test_mock_venue_serves_finished_closes_from_the_bars():
    params = MockVenueParams.model_validate(
        {
            "seed": 5,
            "markets": [{"symbol": SYM, "tick_size": "0.1", "lot_size": "0.001", "initial_price": "60000"}],
        }
    )

    async def main():
        clock = LoopClock(epoch_ns=T0 + 30 * 10**9)
        venue = MockVenue("mock", params, clock)
        assert isinstance(venue, PriceHistorySource)
        with pytest.raises(HistoryUnavailable, match="not connected"):
            await venue.price_history(SYM, 0)
        await venue.connect()
        await asyncio.sleep(2 * 3600 + 60 * 20 + 5)
        now = clock.now_ns()
        minutes, cols = venue.exchange.bars.read(SYM, 0, now // MIN)
        one_minute = await venue.price_history(SYM, 0)
        # every finished minute since the start (the first one partial), closes at their ends
        assert one_minute.ts_ns == tuple(int(m + 1) * MIN for m in minutes[:-1])
        assert one_minute.ts_ns[0] == T0 + MIN and one_minute.ts_ns[-1] == now // MIN * MIN
        expected = tuple(float(D(repr(float(t))) * D("0.1")) for t in cols[CLOSE, :-1])
        assert one_minute.price == expected
        assert all(not math.isnan(p) for p in expected)
        # since: closes at since_ns or later
        since = await venue.price_history(SYM, T0 + 10 * MIN)
        assert since.ts_ns[0] == T0 + 10 * MIN and since.price == one_minute.price[9:]
        # hours: the close of the last minute of each finished hour
        hourly = await venue.price_history(SYM, 0, 3600)
        hour0 = align_down(T0 // MIN, 60)
        assert hourly.ts_ns == tuple((hour0 + 60 * h) * MIN for h in (1, 2))
        closes = dict(zip(one_minute.ts_ns, one_minute.price, strict=True))
        assert hourly.price == tuple(closes[t] for t in hourly.ts_ns)
        assert np.std(np.diff(np.log(one_minute.price))) > 0
        with pytest.raises(HistoryUnavailable, match="mock: price history of DOGE/USDT: unknown market"):
            await venue.price_history("DOGE/USDT", 0)
        with pytest.raises(HistoryUnavailable, match="no 90s candles"):
            await venue.price_history(SYM, 0, 90)
        await venue.close()

    run_simulated(main)
