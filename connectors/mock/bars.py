"""One-minute OHLC bars of each market of the mock exchange since it started, in bounded memory.

Which price makes a bar:
- the prints (trades) of the minute, as a real venue's klines;
- a minute without a print runs from the book mid as the minute began to the mid as it ended
  (open and close; high and low are the larger and smaller of the two, so a mid that moved away
  and back within the minute is not seen); the mid may fall on a half tick;
- a minute in which nothing reached the exchange is flat at the mid (the book did not change).
The mid is read when the exchange's clock first passes a minute boundary, before that call
changes any book: once per minute, not once per book change, which costs a simulation nothing.
A book without both sides has no mid: such a minute keeps the previous close, and bars start
at the first minute that has a price.
The latent fair price of the simulated flow is not used: the exchange does not know it (a backtest
or the facade may drive the exchange without a flow), and the mid is what a client could see.

Memory: a fixed number of minutes per market (`capacity`, the open minute included), as the
columns of one float64 array used as a ring (minute m lives in slot m % capacity); the open minute
is scalars, so a print allocates nothing. Prices are in ticks, sizes in lots: the venue edges
convert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from bot.core.clock import NS_PER_S
from bot.core.domain import Side
from connectors.mock.matching import OrderBook

MINUTE_NS = 60 * NS_PER_S
DEFAULT_CAPACITY = 10_000  # about a week of minutes

# Rows of MinuteBars.columns (and of what `read` returns).
OPEN, HIGH, LOW, CLOSE, VOLUME, QUOTE, TRADES, TAKER_BUY, TAKER_BUY_QUOTE = range(9)
N_COLUMNS = 9
"""VOLUME and TAKER_BUY in lots; QUOTE and TAKER_BUY_QUOTE in ticks x lots."""

Bar = tuple[float, float, float, float, float, float, float, float, float]


def _flat(price: float) -> Bar:
    return (price, price, price, price, 0.0, 0.0, 0.0, 0.0, 0.0)


class MinuteBars:
    """One market's bars. Minutes only move forward (the exchange's clock never runs backwards)."""

    __slots__ = (
        "_buy",
        "_buy_quote",
        "_last_close",
        "_n",
        "_open_mid",
        "_quote",
        "_t_close",
        "_t_high",
        "_t_low",
        "_t_open",
        "_volume",
        "capacity",
        "columns",
        "minute",
        "oldest",
    )

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError(f"MinuteBars.capacity must be at least 2, not {capacity}")
        self.capacity = capacity
        self.columns = np.zeros((N_COLUMNS, capacity))
        """Finished minutes by slot (read them with `read`)."""
        self.minute = -1
        """The open minute (minutes since the epoch); -1 before the first roll."""
        self.oldest = -1
        """The oldest minute kept; -1 while no minute had a price."""
        self._last_close = math.nan
        self._open_mid = math.nan
        self._clear_trades()

    # ---- recording -----------------------------------------------------------------------------

    def roll(self, minute: int, mid_ticks: float) -> None:
        """Minute `minute` begins and the book's mid is `mid_ticks` (NaN: no two-sided book): close
        the open minute with it, make the quiet minutes between flat, and open `minute`."""
        if minute <= self.minute:
            return
        capacity = self.capacity
        if self.minute >= 0:
            bar = self._bar(mid_ticks)
            if not math.isnan(bar[CLOSE]):
                self._store(self.minute, bar)
                self._last_close = bar[CLOSE]
            quiet = mid_ticks if not math.isnan(mid_ticks) else self._last_close
            gap_lo = max(self.minute + 1, minute - capacity + 1)
            if gap_lo < minute and not math.isnan(quiet):
                if self.oldest < 0:
                    self.oldest = gap_lo
                slots = np.arange(gap_lo, minute) % capacity
                self.columns[:, slots] = np.array(_flat(quiet)).reshape(N_COLUMNS, 1)
            if self.oldest >= 0:
                self.oldest = max(self.oldest, minute - capacity + 1)
        self.minute = minute
        self._open_mid = mid_ticks
        self._clear_trades()

    def on_print(self, price_ticks: float, size_lots: int, taker_buys: bool, ts_ns: int) -> None:
        """One trade; the minute it falls in must have been rolled to (a late one joins the open bar)."""
        if ts_ns // MINUTE_NS > self.minute:
            self.roll(ts_ns // MINUTE_NS, math.nan)  # no book known here: the exchange rolls first
        if self._n == 0:
            self._t_open = self._t_high = self._t_low = price_ticks
        elif price_ticks > self._t_high:
            self._t_high = price_ticks
        elif price_ticks < self._t_low:
            self._t_low = price_ticks
        self._t_close = price_ticks
        self._n += 1
        self._volume += size_lots
        self._quote += price_ticks * size_lots
        if taker_buys:
            self._buy += size_lots
            self._buy_quote += price_ticks * size_lots

    # ---- reading -------------------------------------------------------------------------------

    @property
    def first_minute(self) -> int:
        """The oldest minute `read` may return (the open one while none is stored); -1 before any."""
        return self.oldest if self.oldest >= 0 else self.minute

    def read(self, first_minute: int, last_minute: int, mid_ticks: float) -> tuple[np.ndarray, np.ndarray]:
        """(minutes, columns) of the kept minutes in [first_minute, last_minute]; `mid_ticks` is the
        mid now (the open minute's close when it has no print, and the price of the minutes after
        it, in which nothing happened yet). Copies, never views of the ring."""
        open_bar = self._bar(mid_ticks) if self.minute >= 0 else _flat(math.nan)
        lo = first_minute
        if self.oldest >= 0:
            lo = max(lo, self.oldest)
        elif not math.isnan(open_bar[CLOSE]):
            lo = max(lo, self.minute)
        else:
            return np.empty(0, dtype=np.int64), np.empty((N_COLUMNS, 0))
        hi = last_minute
        if hi < lo:
            return np.empty(0, dtype=np.int64), np.empty((N_COLUMNS, 0))
        parts = []
        stored_hi = min(hi, self.minute - 1)
        if stored_hi >= lo:
            parts.append(self.columns[:, np.arange(lo, stored_hi + 1) % self.capacity])
        if lo <= self.minute <= hi:
            parts.append(np.array(open_bar).reshape(N_COLUMNS, 1))
        quiet_lo = max(lo, self.minute + 1)
        if hi >= quiet_lo:
            quiet = mid_ticks if not math.isnan(mid_ticks) else open_bar[CLOSE]
            parts.append(np.repeat(np.array(_flat(quiet)).reshape(N_COLUMNS, 1), hi - quiet_lo + 1, axis=1))
        return np.arange(lo, hi + 1, dtype=np.int64), np.concatenate(parts, axis=1)

    # ---- internals -----------------------------------------------------------------------------

    def _clear_trades(self) -> None:
        self._n = self._volume = self._buy = 0
        self._t_open = self._t_high = self._t_low = self._t_close = math.nan
        self._quote = self._buy_quote = 0.0

    def _bar(self, close_mid: float) -> Bar:
        """The open minute's bar if it ended with the book's mid at `close_mid`."""
        if self._n:
            return (
                self._t_open, self._t_high, self._t_low, self._t_close,
                float(self._volume), self._quote, float(self._n), float(self._buy), self._buy_quote,
            )  # fmt: skip
        start = self._open_mid if not math.isnan(self._open_mid) else self._last_close
        end = close_mid if not math.isnan(close_mid) else start
        if math.isnan(start):
            start = end
        return (start, max(start, end), min(start, end), end, 0.0, 0.0, 0.0, 0.0, 0.0)

    def _store(self, minute: int, bar: Bar) -> None:
        if self.oldest < 0:
            self.oldest = minute
        self.columns[:, minute % self.capacity] = bar


class BarRecorder:
    """The mock exchange's bars of every market. The exchange calls `on_time` before a call that
    passes `next_minute_ns` changes anything, and `on_print` for each execution."""

    def __init__(self, books: Mapping[str, OrderBook], capacity: int = DEFAULT_CAPACITY) -> None:
        self._markets = {symbol: (book, MinuteBars(capacity)) for symbol, book in books.items()}
        self.next_minute_ns = 0
        """The exchange's clock reaching this calls `on_time` (a comparison per call, not a call)."""

    def bars(self, symbol: str) -> MinuteBars:
        """KeyError for a market the exchange does not list."""
        return self._markets[symbol][1]

    def on_time(self, ts_ns: int) -> None:
        """The exchange's clock reached `ts_ns`, and no book has changed yet at that time."""
        minute = ts_ns // MINUTE_NS
        for book, bars in self._markets.values():
            bars.roll(minute, mid_ticks(book))
        self.next_minute_ns = (minute + 1) * MINUTE_NS

    def on_print(self, symbol: str, taker_side: Side, price_ticks: int, size_lots: int, ts_ns: int) -> None:
        self._markets[symbol][1].on_print(price_ticks, size_lots, taker_side is Side.BUY, ts_ns)

    def read(self, symbol: str, first_minute: int, last_minute: int) -> tuple[np.ndarray, np.ndarray]:
        """`MinuteBars.read` of `symbol` with the book's mid now; KeyError for an unknown market."""
        book, bars = self._markets[symbol]
        return bars.read(first_minute, last_minute, mid_ticks(book))


def mid_ticks(book: OrderBook) -> float:
    """The book's mid in ticks; NaN without both sides."""
    bid, ask = book.best_bid(), book.best_ask()
    return math.nan if bid is None or ask is None else (bid + ask) / 2
