"""Candles of any whole number of minutes from the mock exchange's 1-minute bars, and the closes a
`PriceHistorySource` serves (the mock venue's; the facade's klines use the candles).

A candle of k minutes opens at a multiple of k minutes since the epoch, as Binance's do; a week
opens on a Monday (the epoch was a Thursday). It aggregates the 1-minute bars it spans: the first
one's open, the last one's close, the extremes, the sums. The first candle of a market may cover
only the minutes since the exchange started.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from bot.core.history import HistoryUnavailable, PriceHistory
from connectors.mock.bars import (
    CLOSE,
    HIGH,
    LOW,
    MINUTE_NS,
    N_COLUMNS,
    OPEN,
    QUOTE,
    TAKER_BUY,
    TAKER_BUY_QUOTE,
    TRADES,
    VOLUME,
    BarRecorder,
)
from connectors.mock.exchange import MockExchange

WEEK_MINUTES = 7 * 24 * 60
_MONDAY_OFFSET = 4 * 24 * 60  # 1970-01-05, the first Monday after the epoch
_SUMS = (VOLUME, QUOTE, TRADES, TAKER_BUY, TAKER_BUY_QUOTE)


def _offset(minutes_per: int) -> int:
    return _MONDAY_OFFSET if minutes_per == WEEK_MINUTES else 0


def align_down(minute: int, minutes_per: int) -> int:
    """Open minute of the candle of `minutes_per` minutes that contains `minute`."""
    offset = _offset(minutes_per)
    return (minute - offset) // minutes_per * minutes_per + offset


def align_up(minute: int, minutes_per: int) -> int:
    """Open minute of the first candle opening at `minute` or later."""
    return align_down(minute + minutes_per - 1, minutes_per)


@dataclass(frozen=True, slots=True)
class Candles:
    minutes_per: int
    open_minute: np.ndarray
    """Each candle's open time in minutes since the epoch (int64)."""
    columns: np.ndarray
    """Rows as in connectors.mock.bars (OPEN ... TAKER_BUY_QUOTE), one column per candle."""

    def __len__(self) -> int:
        return len(self.open_minute)


def candles(
    recorder: BarRecorder, symbol: str, minutes_per: int, first_open: int, last_open: int, now_minute: int
) -> Candles:
    """Candles of `symbol` opening in [first_open, last_open] (aligned open minutes), none after the
    one containing `now_minute` (that one is open: its close is the price now)."""
    minutes, cols = recorder.read(symbol, first_open, min(last_open + minutes_per - 1, now_minute))
    if minutes_per == 1 or len(minutes) == 0:
        return Candles(minutes_per, minutes, cols)
    offset = _offset(minutes_per)
    keys = (minutes - offset) // minutes_per * minutes_per + offset
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.concatenate((starts[1:], [len(minutes)])) - 1
    out = np.empty((N_COLUMNS, len(starts)))
    out[OPEN] = cols[OPEN, starts]
    out[CLOSE] = cols[CLOSE, ends]
    out[HIGH] = np.maximum.reduceat(cols[HIGH], starts)
    out[LOW] = np.minimum.reduceat(cols[LOW], starts)
    for row in _SUMS:
        out[row] = np.add.reduceat(cols[row], starts)
    return Candles(minutes_per, keys[starts], out)


def exact(value: float) -> Decimal:
    """A bar's figure as the decimal it holds: whole ticks or lots, or a mid's half tick, exactly."""
    return Decimal(repr(float(value)))


def price_history(
    exchange: MockExchange, symbol: str, since_ns: int, interval_s: int, now_ns: int
) -> PriceHistory:
    """The finished candles' closes at their close times in [since_ns, now_ns], oldest first."""
    where = f"{exchange.venue}: price history of {symbol}"
    market = exchange.markets.get(symbol)
    if market is None:
        raise HistoryUnavailable(f"{where}: unknown market")
    if interval_s <= 0 or interval_s % 60:
        raise HistoryUnavailable(f"{where}: no {interval_s}s candles (whole minutes only)")
    k = interval_s // 60
    now_minute = now_ns // MINUTE_NS
    first_open = align_up(-(-since_ns // MINUTE_NS) - k, k)  # its close is at since_ns or later
    last_open = align_down(now_minute - k, k)  # closed by now
    found = candles(exchange.bars, symbol, k, first_open, last_open, now_minute)
    ts = tuple(int(m + k) * MINUTE_NS for m in found.open_minute)
    price = tuple(float(exact(t) * market.tick_size) for t in found.columns[CLOSE].tolist())
    return PriceHistory(interval_s, ts, price)
