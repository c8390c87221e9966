"""A market's recent candle closes from a ccxt exchange (`fetch_ohlcv`): connectors.base.PriceHistorySource.

The closes whose time (a candle's open time + its interval) lies in [since_ns, now], oldest first.
Pages go forward from the first candle wanted until the exchange has nothing newer (Binance serves
at most 1000 candles a call); requests go through the session's RestCaller, so ccxt's rate limiter,
our retries and the error mapping are the same as for every other REST read. The still-open last
candle is dropped: its close is only the latest price, not a close. So is a candle that traded
nothing and closed where the one before it did: Binance fills a minute without trades with the last
trade's price, which did not stand still; the next traded close carries the move over the whole
gap, and σ̂ weighs a return by its time (an illiquid market read minute by minute otherwise shows
runs of zero returns, and σ̂ reads low). A zero-volume candle whose close moved is kept.
"""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any

from bot.core.clock import NS_PER_S
from bot.core.history import HistoryUnavailable, PriceHistory
from connectors.base import VenueError
from connectors.ccxt.convert import NS_PER_MS
from connectors.ccxt.session import CcxtSession

log = logging.getLogger("mmbot.ccxt")

PAGE = 1000
"""Candles asked for per call: Binance spot's maximum."""
MAX_PAGES = 50
"""Bound on the calls of one history (50,000 one-minute candles: about 35 days); a longer span
asked for is cut to its most recent part."""
# Calendar months and years have no fixed length: open time + interval would not be the close.
_CALENDAR_UNITS = ("M", "y")


async def price_history(session: CcxtSession, symbol: str, since_ns: int, interval_s: int) -> PriceHistory:
    """Closes every `interval_s` from `since_ns` until the last finished candle; HistoryUnavailable
    names the venue, the market and the cause when the exchange cannot serve them."""
    where = f"{session.name}: price history of {symbol}"
    try:
        exchange, rest = session.connected()
    except VenueError as exc:
        raise HistoryUnavailable(f"{where}: {exc}") from exc
    if symbol not in session.markets:
        raise HistoryUnavailable(f"{where}: unknown market (not among the loaded spot markets)")
    if not exchange.has.get("fetchOHLCV"):
        raise HistoryUnavailable(f"{where}: {session.params.exchange} serves no candles (fetchOHLCV)")
    timeframe = _timeframe(exchange, interval_s, where)
    interval_ns = interval_s * NS_PER_S
    now_ns = session.clock.now_ns()
    # The earliest candle wanted closes at since_ns or later; a span longer than the pages can
    # carry keeps its most recent part.
    first_open_ns = max(since_ns - interval_ns, now_ns - MAX_PAGES * PAGE * interval_ns)
    rows: list[list[Any]] = []
    next_ms = -(-first_open_ns // NS_PER_MS)  # ceil: Binance serves open times >= startTime
    for _ in range(MAX_PAGES):
        try:
            page: list[list[Any]] = await rest.call(
                f"fetch_ohlcv {symbol} {timeframe}",
                partial(exchange.fetch_ohlcv, symbol, timeframe, next_ms, PAGE),
            )
        except VenueError as exc:
            raise HistoryUnavailable(f"{where}: {exc}") from exc
        fresh = [row for row in page if isinstance(row[0], int) and row[0] >= next_ms]
        if not fresh:
            break  # empty, or nothing past what we have: the exchange has no newer candle
        rows.extend(fresh)
        last_open_ms = max(row[0] for row in fresh)
        next_ms = last_open_ms + interval_s * 1000
        if next_ms * NS_PER_MS > now_ns:
            break  # the candle just read is the open one
    else:
        log.warning("%s: stopped after %d pages of %d candles", where, MAX_PAGES, PAGE)
    return _closes(rows, interval_s, since_ns, now_ns, where)


def _timeframe(exchange: Any, interval_s: int, where: str) -> str:
    """The exchange's timeframe of `interval_s` seconds (60 -> "1m", 3600 -> "1h")."""
    timeframes = dict(exchange.timeframes or {})
    for name in timeframes:
        if name.endswith(_CALENDAR_UNITS):
            continue
        if exchange.parse_timeframe(name) == interval_s:
            return str(name)
    offered = ", ".join(timeframes) or "none"
    raise HistoryUnavailable(f"{where}: no {interval_s}s candles (timeframes offered: {offered})")


def _closes(rows: list[list[Any]], interval_s: int, since_ns: int, now_ns: int, where: str) -> PriceHistory:
    """Finished candles' closes at their close time, oldest first, each candle once, without the
    repeated closes of candles that did not trade."""
    interval_ns = interval_s * NS_PER_S
    by_close: dict[int, tuple[float, Any]] = {}
    bad = 0
    for row in rows:
        close_ns = row[0] * NS_PER_MS + interval_ns
        if close_ns < since_ns or close_ns > now_ns:
            continue  # before the span, or still open
        price = row[4] if len(row) > 4 else None
        if not isinstance(price, int | float) or not (math.isfinite(price) and price > 0):
            bad += 1
            continue
        by_close[close_ns] = (float(price), row[5] if len(row) > 5 else None)
    if bad:
        log.warning("%s: dropped %d candles without a positive close", where, bad)
    ts: list[int] = []
    last = math.nan
    for close_ns in sorted(by_close):
        price, volume = by_close[close_ns]
        if not (volume == 0 and price == last):
            ts.append(close_ns)
        last = price
    if len(ts) < len(by_close):
        log.info(
            "%s: %d candles without trades repeat the close before them: left out",
            where,
            len(by_close) - len(ts),
        )
    return PriceHistory(interval_s, tuple(ts), tuple(by_close[t][0] for t in ts))
