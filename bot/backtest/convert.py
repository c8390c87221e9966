"""Converts Tardis-style CSV exports (incremental_book_L2 + trades, µs timestamps) to the L2 event
format. Book rows: exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount;
trade rows: exchange,symbol,timestamp,local_timestamp,id,side,price,amount. A snapshot that
starts after incremental rows replaces the book: levels it lacks are written as deletions.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from connectors.replay.events import (
    ASK,
    BID,
    DEPTH,
    TRADE,
    DataMeta,
    EventData,
    EventFileError,
    make_event_data,
)


def _on_grid(value: str, step: Decimal, where: str) -> int:
    try:
        units = Decimal(value) / step
    except InvalidOperation:
        raise EventFileError(f"{where}: {value!r} is not a number") from None
    if units != units.to_integral_value():
        raise EventFileError(f"{where}: {value} is not a multiple of {step}")
    return int(units)


def _rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise EventFileError(f"{path}: missing columns {missing}")
        return list(reader)


def convert_tardis(book_csv: str | Path, trades_csv: str | Path | None, meta: DataMeta) -> EventData:
    out: list[tuple[int, int, int, int, int, int, int]] = []  # local, seq, exch, kind, side, px, lots
    book: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
    in_snapshot = False
    cols = ("timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")
    for n, row in enumerate(_rows(Path(book_csv), cols)):
        where = f"{book_csv}: row {n + 1}"
        exch, local = int(row["timestamp"]) * 1000, int(row["local_timestamp"]) * 1000
        snapshot = row["is_snapshot"].strip().lower() == "true"
        if snapshot and not in_snapshot:
            for book_side, levels in book.items():
                out.extend((local, len(out), exch, DEPTH, book_side, px, 0) for px in levels)
                levels.clear()
        in_snapshot = snapshot
        side = {"bid": BID, "buy": BID, "ask": ASK, "sell": ASK}.get(row["side"].strip().lower())
        if side is None:
            raise EventFileError(f"{where}: side {row['side']!r} is not bid/ask")
        px = _on_grid(row["price"], meta.tick_size, f"{where} price")
        lots = _on_grid(row["amount"], meta.lot_size, f"{where} amount")
        if lots:
            book[side][px] = lots
        else:
            book[side].pop(px, None)
        out.append((local, len(out), exch, DEPTH, side, px, lots))
    if trades_csv is not None:
        trade_cols = ("timestamp", "local_timestamp", "side", "price", "amount")
        for n, row in enumerate(_rows(Path(trades_csv), trade_cols)):
            where = f"{trades_csv}: row {n + 1}"
            side = {"buy": BID, "sell": ASK}.get(row["side"].strip().lower())
            if side is None:
                raise EventFileError(f"{where}: side {row['side']!r} is not buy/sell (aggressor)")
            px = _on_grid(row["price"], meta.tick_size, f"{where} price")
            lots = _on_grid(row["amount"], meta.lot_size, f"{where} amount")
            exch, local = int(row["timestamp"]) * 1000, int(row["local_timestamp"]) * 1000
            out.append((local, len(out), exch, TRADE, side, px, lots))
    out.sort()
    arr = np.array(out, dtype=np.int64).reshape(-1, 7)
    return make_event_data(
        meta,
        kind=arr[:, 3],
        side=arr[:, 4],
        exch_ts_ns=arr[:, 2],
        local_ts_ns=arr[:, 0],
        price_ticks=arr[:, 5],
        size_lots=arr[:, 6],
    )
