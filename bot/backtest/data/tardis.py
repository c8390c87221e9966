"""Tardis CSV exports (incremental_book_L2 and trades, µs timestamps) to the L2 event format,
streamed block by block: memory stays at a few blocks whatever the file's size.

Book rows: exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount; trade rows:
exchange,symbol,timestamp,local_timestamp,id,side,price,amount (columns found by the header; one
market per file, as Tardis exports them). A snapshot that starts after other rows replaces the
book: a RESYNC row, then deletions of the live levels it lacks, then its levels. Prices must lie on
the tick (an error names the row); sizes are kept exactly, finer than the lot if need be.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np

from bot.backtest.data.booktrack import BookTracker
from bot.backtest.data.csvscan import BOOL, DEC, INT, SIDE, SKIP, Block, header_of, scan_blocks
from bot.backtest.data.rows import Rows, concat, merge_by_local_time, rows_of
from bot.backtest.data.writer import EventWriter, WriteSummary, decimal_parts, in_steps, off_step
from connectors.replay.events import DEPTH, RESYNC, TRADE, EventFileError

BOOK_COLUMNS = {
    "timestamp": INT,
    "local_timestamp": INT,
    "is_snapshot": BOOL,
    "side": SIDE,
    "price": DEC,
    "amount": DEC,
}
TRADE_COLUMNS = {"timestamp": INT, "local_timestamp": INT, "side": SIDE, "price": DEC, "amount": DEC}


def column_types(path: Path, wanted: dict[str, int]) -> tuple[list[int], dict[str, int]]:
    """Parser types for the file's columns (up to the last one wanted) and where each wanted one is."""
    header = header_of(path)
    if header is None:
        raise EventFileError(f"{path}: no header line")
    missing = [c for c in wanted if c not in header]
    if missing:
        raise EventFileError(f"{path}: missing columns {missing}")
    where = {c: header.index(c) for c in wanted}
    types = [SKIP] * (max(where.values()) + 1)
    for c, k in where.items():
        types[k] = wanted[c]
    return types, where


def prices_in_ticks(path: Path, block: Block, col: int, tick: Decimal) -> np.ndarray:
    """A block's price column in ticks; a price off the tick is an error naming its row."""
    price, exp = block.decimal(col)
    bad = off_step(price, exp, tick)
    if bad >= 0:
        value = Decimal(int(price[bad])).scaleb(-exp)
        raise EventFileError(
            f"{path}: row {block.first_row + bad} price: {value} is not a multiple of {tick}"
        )
    return in_steps(price, exp, tick)


def sides(path: Path, block: Block, col: int, names: str) -> np.ndarray:
    side = block.ints[:, col]
    if (side == 0).any():
        raise EventFileError(f"{path}: row {block.first_row + int(np.argmax(side == 0))} side: not {names}")
    return side


class _BookStream:
    """The book file's rows, with snapshot resets written out, and what was seen on the way."""

    def __init__(self, path: Path, tick: Decimal, tracker: BookTracker) -> None:
        self.path, self.tick, self.tracker = path, tick, tracker
        self.tick_int, self.tick_exp = decimal_parts(tick)
        self.resyncs = 0

    def __iter__(self) -> Iterator[Rows]:
        types, at = column_types(self.path, BOOK_COLUMNS)
        carry: tuple[Rows, np.ndarray] | None = None
        for block in scan_blocks(self.path, types, skip_header=True):
            ints = block.ints
            size, size_exp = block.decimal(at["amount"])
            ticks = prices_in_ticks(self.path, block, at["price"], self.tick)
            rows = rows_of(
                DEPTH, sides(self.path, block, at["side"], "bid/ask"), ints[:, at["timestamp"]] * 1000,
                ints[:, at["local_timestamp"]] * 1000, ticks, 0, size, size_exp,
            )  # fmt: skip
            snap = ints[:, at["is_snapshot"]].astype(bool)
            if carry is not None:
                rows, snap = concat([carry[0], rows]), np.concatenate([carry[1], snap])
                carry = None
            if snap[-1]:  # a snapshot may go on in the next block: keep it whole
                last_plain = np.flatnonzero(~snap)
                cut = int(last_plain[-1]) + 1 if len(last_plain) else 0
                carry = (rows.take(slice(cut, None)), snap[cut:])
                rows, snap = rows.take(slice(0, cut)), snap[:cut]
            if len(rows):
                yield self._with_resets(rows, snap)
        if carry is not None:
            yield self._with_resets(*carry)

    def _with_resets(self, rows: Rows, snap: np.ndarray) -> Rows:
        starts = np.flatnonzero(snap & ~np.concatenate(([False], snap[:-1])))
        bounds = [0, *starts.tolist(), len(rows)]
        parts: list[Rows] = []
        for a, b in itertools.pairwise(bounds):
            if a == b:
                continue
            seg = rows.take(slice(a, b))
            if snap[a]:
                parts.extend(self._reset(seg, snap[a:b]))
            self.tracker.apply(seg.side, seg.price, seg.size, seg.local_ns)
            parts.append(seg)
        out = concat(parts)
        # prices went through as ticks (exponent 0); the writer wants them as decimals
        return Rows(
            out.kind, out.side, out.exch_ns, out.local_ns,
            out.price * self.tick_int, self.tick_exp, out.size, out.size_exp,
        )  # fmt: skip

    def _reset(self, seg: Rows, snap: np.ndarray) -> list[Rows]:
        """RESYNC and deletions before a snapshot that finds a book already there."""
        if self.tracker.empty:
            return []
        run = seg.take(snap.astype(bool) & (seg.size > 0))
        exch, local = seg.exch_ns[:1], seg.local_ns[:1]
        out = [rows_of(RESYNC, np.ones(1), exch, local, seg.price[:1], 0, np.zeros(1), 0)]
        self.resyncs += 1
        for side in (1, -1):
            gone = np.setdiff1d(self.tracker.live_levels(side), run.price[run.side == side])
            n = len(gone)
            dels = rows_of(
                DEPTH, np.full(n, side), np.repeat(exch, n), np.repeat(local, n), gone, 0, np.zeros(n), 0
            )
            self.tracker.apply(dels.side, dels.price, dels.size, dels.local_ns)
            out.append(dels)
        return out


def _trade_stream(path: Path, tick: Decimal) -> Iterator[Rows]:
    types, at = column_types(path, TRADE_COLUMNS)
    tick_int, tick_exp = decimal_parts(tick)
    for block in scan_blocks(path, types, skip_header=True):
        ints = block.ints
        size, size_exp = block.decimal(at["amount"])
        ticks = prices_in_ticks(path, block, at["price"], tick)
        yield rows_of(
            TRADE, sides(path, block, at["side"], "buy/sell (aggressor)"), ints[:, at["timestamp"]] * 1000,
            ints[:, at["local_timestamp"]] * 1000, ticks * tick_int, tick_exp, size, size_exp,
        )  # fmt: skip


def convert_tardis_files(
    book_csv: Path,
    trades_csv: Path | None,
    out: Path,
    *,
    venue: str,
    symbol: str,
    tick_size: Decimal,
    lot_size: Decimal | None,
) -> WriteSummary:
    tracker = BookTracker()
    book = _BookStream(Path(book_csv), tick_size, tracker)
    sources: list = [book]
    if trades_csv is not None:
        sources.append(_trade_stream(Path(trades_csv), tick_size))
    writer = EventWriter(out, venue, symbol, tick_size=tick_size, lot_size=lot_size)
    try:
        for rows in merge_by_local_time(sources):
            rows.write_to(writer)
    except BaseException:
        writer.abort()
        raise
    notes = {
        "source": "tardis",
        "resyncs": book.resyncs,
        "gaps": book.resyncs,
        "crossed_books": tracker.crossed_episodes(),
    }
    return writer.close(notes)
