"""`GET /api/v3/klines`: Binance's candles of a market, from the mock exchange's 1-minute bars
(connectors/mock/bars.py says which prices make them).

As on Binance: candles are named by their open time; with `startTime` the first `limit` opening
at or after it, else the last `limit` opening at or before `endTime` (default: now); the candle
containing now is included, still open. Its close time is the next candle's open time - 1 ms.
Numbers are decimal strings, the trade count an integer. Intervals of seconds (`1s`) and calendar
months (`1M`) are valid on Binance but not served here: the bars have whole minutes, and a month
has no fixed length; both are answered as an invalid interval.
"""

from __future__ import annotations

from typing import Any

from bot.core.domain import Market
from connectors.mock.bars import (
    CLOSE,
    HIGH,
    LOW,
    MINUTE_NS,
    OPEN,
    QUOTE,
    TAKER_BUY,
    TAKER_BUY_QUOTE,
    TRADES,
    VOLUME,
)
from connectors.mock.candles import Candles, align_down, align_up, candles, exact
from connectors.mock.exchange import MockExchange
from connectors.mock.facade.codec import BinanceError, decimal_str, missing_param
from connectors.mock.facade.param_rules import int_param

MINUTES = {
    "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30,
    "1h": 60, "2h": 120, "4h": 240, "6h": 360, "8h": 480, "12h": 720,
    "1d": 1440, "3d": 4320, "1w": 10080,
}  # fmt: skip
"""Binance's kline intervals the facade serves, in minutes."""
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
_MS_PER_MINUTE = MINUTE_NS // 1_000_000


def klines(exchange: MockExchange, market: Market, params: dict[str, str], now_ns: int) -> list[list[Any]]:
    """The answer to one klines request for `market` (its symbol already checked)."""
    interval = params.get("interval")
    if not interval:
        raise missing_param("interval")
    k = MINUTES.get(interval)
    if k is None:
        raise BinanceError(400, -1120, "Invalid interval.")
    limit = int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    start_ms = int_param(params, "startTime", None, 0, None)
    end_ms = int_param(params, "endTime", None, 0, None)
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise BinanceError(400, -1023, "Start time is greater than end time.")
    # Time as the exchange sees it: a test may have driven it past the wall clock.
    now_minute = max(now_ns, exchange.now_ns) // MINUTE_NS
    last = align_down(now_minute, k)
    if end_ms is not None:
        last = min(last, align_down(end_ms // _MS_PER_MINUTE, k))
    if start_ms is not None:
        first = align_up(-(-start_ms // _MS_PER_MINUTE), k)
        kept_from = exchange.bars.bars(market.symbol).first_minute
        if kept_from >= 0:  # the first `limit` that exist, not `limit` slots before the first bar
            first = max(first, align_down(kept_from, k))
        last = min(last, first + (limit - 1) * k)
    else:
        first = last - (limit - 1) * k
    return _rows(market, candles(exchange.bars, market.symbol, k, first, last, now_minute))


def _rows(market: Market, found: Candles) -> list[list[Any]]:
    step_ms = found.minutes_per * _MS_PER_MINUTE
    tick, lot = market.tick_size, market.lot_size
    units = ((OPEN, tick), (HIGH, tick), (LOW, tick), (CLOSE, tick), (VOLUME, lot))
    quote_units = ((QUOTE, tick * lot), (TRADES, None), (TAKER_BUY, lot), (TAKER_BUY_QUOTE, tick * lot))
    out: list[list[Any]] = []
    for i, column in enumerate(found.columns.T.tolist()):
        open_ms = int(found.open_minute[i]) * _MS_PER_MINUTE
        row: list[Any] = [open_ms]
        row += [decimal_str(exact(column[r]) * unit) for r, unit in units]
        row.append(open_ms + step_ms - 1)
        row += [int(column[r]) if u is None else decimal_str(exact(column[r]) * u) for r, u in quote_units]
        row.append("0")
        out.append(row)
    return out
