"""Prints at known prices in known minutes on the facade's exchange (the klines tests' data).

The facade's flow is off, so prices move only by these prints. They are stamped in minutes ahead of
the wall clock (the exchange's clock jumps to them), so every candle's figures are known exactly.
"""

from __future__ import annotations

from bot.core.domain import Side
from connectors.mock.facade import FacadeHandle

MIN = 60 * 10**9
BTC = "BTC/USDT"


def trade(facade: FacadeHandle, price_ticks: int, ts_ns: int) -> None:
    """One print of 1 lot at `price_ticks` (inside the spread): a background seller rests there, a
    background buyer takes it."""
    engine = facade.exchange
    engine.background_place(BTC, Side.SELL, price_ticks, 1, ts_ns)
    assert engine.background_take(BTC, Side.BUY, 1, ts_ns, price_ticks) == 1


def four_minutes(facade: FacadeHandle) -> int:
    """Prints in the four minutes from a minute boundary t0 ahead of the exchange's clock; returns t0.

    The quiet book of tests/ccxt/conftest.py is bid 59970.0 / ask 60030.1: mid 60000.05.
      minute 0: prints 60010.0, 60020.0, 60005.0       close 60005.0
      minute 1: print 59990.0                          close 59990.0
      minute 2: no print; a bid at 60010.0 rests       mid 60000.05 -> 60020.05
      minute 3: print 60025.0 (the exchange's clock stays in it: the open minute)
    """
    engine = facade.exchange
    assert (engine.book(BTC).best_bid(), engine.book(BTC).best_ask()) == (599700, 600301)
    t0 = (max(facade.core.now_ns(), engine.now_ns) // MIN + 2) * MIN
    for second, price in ((1, 600100), (20, 600200), (59, 600050)):
        trade(facade, price, t0 + second * 10**9)
    trade(facade, 599900, t0 + MIN + 30 * 10**9)
    engine.background_place(BTC, Side.BUY, 600100, 1, t0 + 2 * MIN + 10**9)
    trade(facade, 600250, t0 + 3 * MIN + 10**9)
    return t0
