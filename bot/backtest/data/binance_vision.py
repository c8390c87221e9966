"""Binance public data dumps (data.binance.vision) trades CSVs to the L2 event format, streamed.

Columns: id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match], with or without a header
(spot files have none, futures files have one); time in ms, or µs in newer spot files (told
apart per value). The dump has no receive times: a row is received when it was made. A trades
file alone carries no book, so a replay has no quotes to publish; it serves trade-flow studies and
merging with a book source.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np

from bot.backtest.data.csvscan import BOOL, DEC, INT, SKIP, header_of, scan_blocks
from bot.backtest.data.rows import rows_of
from bot.backtest.data.tardis import prices_in_ticks
from bot.backtest.data.writer import EventWriter, WriteSummary, decimal_parts
from connectors.replay.events import ASK, BID, TRADE

_TYPES = [INT, DEC, DEC, SKIP, INT, BOOL]  # id, price, qty, quote_qty, time, is_buyer_maker
_US_FROM = 10**14  # a time above this is in microseconds (ms reach it in the year 5138)


def convert_vision_trades(
    path: str | Path,
    out: str | Path,
    *,
    venue: str,
    symbol: str,
    tick_size: Decimal,
    lot_size: Decimal | None,
) -> WriteSummary:
    path = Path(path)
    tick_int, tick_exp = decimal_parts(tick_size)
    writer = EventWriter(out, venue, symbol, tick_size=tick_size, lot_size=lot_size)
    try:
        for block in scan_blocks(path, _TYPES, skip_header=header_of(path) is not None):
            ints = block.ints
            ticks = prices_in_ticks(path, block, 1, tick_size)
            size, size_exp = block.decimal(2)
            t = ints[:, 4]
            ts = np.where(t >= _US_FROM, t * 1_000, t * 1_000_000)
            side = np.where(ints[:, 5] == 1, ASK, BID)  # the buyer made: a seller took
            rows_of(TRADE, side, ts, ts, ticks * tick_int, tick_exp, size, size_exp).write_to(writer)
    except BaseException:
        writer.abort()
        raise
    return writer.close({"source": "binance-vision-trades", "gaps": 0, "crossed_books": 0})
