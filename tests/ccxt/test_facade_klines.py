"""The facade's `GET /api/v3/klines` seen from a plain HTTP client (no ccxt): Binance's rows and errors."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from connectors.mock.facade import FacadeHandle
from tests.ccxt.prints import four_minutes

MS = 60_000  # a minute in ms
MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


async def _klines(facade: FacadeHandle, **params: Any) -> tuple[int, Any]:
    query = {"symbol": "BTCUSDT", "interval": "1m", **{k: str(v) for k, v in params.items()}}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{facade.url}/api/v3/klines", params=query) as resp,
    ):
        return resp.status, await resp.json()


def _row(
    open_ms: int, ohlc: list[str], volume: str, quote: str, trades: int, buy: str, buy_quote: str
) -> list[Any]:
    """Binance's kline: open time, O, H, L, C, volume, close time, quote volume, trades, taker buy
    base and quote volumes, an ignored "0"."""
    return [open_ms, *ohlc, volume, open_ms + MS - 1, quote, trades, buy, buy_quote, "0"]


@pytest.fixture
def t0_ms(facade: FacadeHandle) -> int:
    return four_minutes(facade) // 10**6


async def test_rows_are_binance_klines_of_the_prints(facade, t0_ms):
    status, rows = await _klines(facade, startTime=t0_ms, limit=3)
    assert status == 200
    assert rows == [
        _row(t0_ms, ["60010", "60020", "60005", "60005"], "0.003", "180.035", 3, "0.003", "180.035"),
        _row(t0_ms + MS, ["59990"] * 4, "0.001", "59.99", 1, "0.001", "59.99"),
        # no print: from the mid as the minute began to the mid as it ended
        _row(t0_ms + 2 * MS, ["60000.05", "60020.05", "60000.05", "60020.05"], "0", "0", 0, "0", "0"),
    ]

    # startTime inside a minute: the first candle opening at or after it
    status, rows = await _klines(facade, startTime=t0_ms + 1, limit=1)
    assert [row[0] for row in rows] == [t0_ms + MS]

    # no startTime: the most recent, the open minute (the exchange's clock is in it) included
    status, rows = await _klines(facade, limit=2)
    assert [row[0] for row in rows] == [t0_ms + 2 * MS, t0_ms + 3 * MS]
    assert rows[1][1:5] == ["60025"] * 4

    # endTime: the last `limit` opening at or before it
    status, rows = await _klines(facade, endTime=t0_ms + MS, limit=4)  # t0 is 2+ minutes after the start
    assert [row[0] for row in rows] == [t0_ms - 2 * MS, t0_ms - MS, t0_ms, t0_ms + MS]
    assert [row[1:5] for row in rows[:2]] == [["60000.05"] * 4] * 2  # quiet minutes: the mid

    # from long before the exchange started: the first `limit` that exist
    status, rows = await _klines(facade, startTime=0, limit=2)
    first = facade.exchange.bars.bars("BTC/USDT").oldest
    assert [row[0] for row in rows] == [first * MS, (first + 1) * MS]


async def test_longer_intervals_aggregate_the_minutes(facade, t0_ms):
    _, minutes = await _klines(facade, startTime=0, limit=1000)
    for interval, n in (("3m", 3), ("5m", 5), ("1h", 60)):
        status, rows = await _klines(facade, interval=interval, startTime=0, limit=1000)
        assert status == 200
        expected = {}
        for row in minutes:
            key = row[0] // (n * MS) * (n * MS)
            expected.setdefault(key, []).append(row)
        assert [row[0] for row in rows] == sorted(expected)
        for row in rows:
            parts = expected[row[0]]
            assert row[6] == row[0] + n * MS - 1
            assert row[1] == parts[0][1] and row[4] == parts[-1][4]
            assert D(row[2]) == max(D(p[2]) for p in parts) and D(row[3]) == min(D(p[3]) for p in parts)
            assert D(row[5]) == sum(D(p[5]) for p in parts) and row[8] == sum(p[8] for p in parts)


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"symbol": "DOGEUSDT"}, -1121, "Invalid symbol."),
        ({"interval": "2m"}, -1120, "Invalid interval."),
        ({"interval": "1M"}, -1120, "Invalid interval."),
        ({"interval": ""}, -1102, MANDATORY.format("interval")),
        ({"symbol": ""}, -1102, MANDATORY.format("symbol")),
        ({"startTime": 2000, "endTime": 1000}, -1023, "Start time is greater than end time."),
        ({"limit": 1001}, -1100, "Parameter 'limit' is out of range."),
        ({"startTime": "soon"}, -1100, "Illegal characters found in parameter 'startTime'."),
    ],
)
async def test_bad_requests_get_binance_errors(facade, params, code, msg):
    status, body = await _klines(facade, **params)
    assert (status, body) == (400, {"code": code, "msg": msg})
