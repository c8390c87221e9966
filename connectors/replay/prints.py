"""Public trades of the replayed file as the bot receives them."""

from __future__ import annotations

import numpy as np

from bot.core.domain import Market, Side
from bot.core.events import PublicTrade
from connectors.replay import layout


def public_trades(market: Market, rows: np.ndarray, rows_at: np.ndarray, lot_ratio: int) -> list[PublicTrade]:
    """The prints of these TRADE rows (`rows`: the core's packed columns), in trading lots rounded
    up: a print finer than a lot still shows."""
    if len(rows_at) == 0:
        return []
    venue, symbol, buy, sell = market.venue, market.symbol, Side.BUY, Side.SELL
    cols = rows[:, rows_at].tolist()
    which = (layout.C_SIDE, layout.C_EXCH, layout.C_LOCAL, layout.C_PRICE, layout.C_SIZE)
    return [
        PublicTrade(venue, symbol, buy if s > 0 else sell, price, -(-lots // lot_ratio), exch, local)
        for s, exch, local, price, lots in zip(*[cols[c] for c in which], strict=True)
    ]
