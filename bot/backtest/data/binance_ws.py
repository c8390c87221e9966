"""Binance raw websocket captures to L2 event files, one per symbol, in one streaming pass.

A capture is lines of `<local_ts_ns> <JSON>`: combined-stream messages ({"stream", "data"}) or bare
ones, carrying depthUpdate diffs (U/u sequence ids; futures also pu), trades (`m`: the buyer was
the maker, so the seller aggressed) and REST depth snapshots (lastUpdateId, bids, asks; symbol from
the stream name, a "symbol" key, or the only symbol of the capture).

Binance's documented book sync: diffs received before a snapshot wait for it; diffs with
u <= lastUpdateId are dropped; the first one applied must have U <= lastUpdateId + 1 <= u; each
next one must chain (U == previous u + 1; futures: pu == previous u). A diff that does not chain
is a gap: the book is unsynced, later diffs wait for the next snapshot, which is written as a
RESYNC row, deletions of the levels it lacks and its levels (diffs it was behind applied at its
time). Trades are written throughout. Gaps and crossed books are counted, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson

from bot.backtest.data.binance_book import EXP, MSG_DIFF, MSG_TRADE, HashBook, apply_block
from bot.backtest.data.binance_lines import (
    H_BODY,
    H_CODE,
    H_E,
    H_END,
    H_KIND,
    H_LAST_U,
    H_M,
    H_PU,
    H_SYM,
    H_SYM_END,
    H_T,
    H_TS,
    H_U,
    MALFORMED,
    SNAPSHOT_MSG,
    TRADE_MSG,
    blocks,
    sync_run,
)
from bot.backtest.data.rows import rows_of
from bot.backtest.data.symbols import file_for, unified_symbol
from bot.backtest.data.writer import EventWriter, WriteSummary
from connectors.replay.events import ASK, BID, DEPTH, RESYNC, EventFileError

_MAX_WAITING = 100_000  # diffs held for a snapshot; beyond, the oldest are dropped (counted)
_MAX_CODES = 4096  # distinct symbol spellings in one capture


def units(text: str) -> int:
    """A decimal string as an exact integer of 1e-8."""
    whole, _, frac = text.partition(".")
    if len(frac) > EXP:
        frac = frac.rstrip("0")
        if len(frac) > EXP:
            raise ValueError(f"{text}: more than {EXP} decimals")
    return int(whole + frac.ljust(EXP, "0"))


class _LineError(Exception):
    def __init__(self, line: int, what: str) -> None:
        self.line, self.what = line, what


class _Diff(NamedTuple):
    """A depth diff held for a snapshot: its line, received time, E (ms), U, u, pu (-1: none), text."""

    line: int
    local: int
    exch_ms: int
    first_u: int
    last_u: int
    pu: int
    text: bytes


@dataclass(slots=True)
class _Market:
    """One symbol's file, book and sync (synced flag and last u in the converter's `state` row j)."""

    symbol: str
    writer: EventWriter
    j: int
    state: np.ndarray
    book: HashBook = field(default_factory=HashBook)
    waiting: list[_Diff] = field(default_factory=list)
    had_book: bool = False
    notes: dict[str, int] = field(
        default_factory=lambda: {"gaps": 0, "resyncs": 0, "dropped_diffs": 0, "stale_snapshots": 0}
    )

    @property
    def synced(self) -> bool:
        return bool(self.state[self.j, 0])

    @property
    def last_u(self) -> int:
        return int(self.state[self.j, 1])

    def set_sync(self, synced: bool, last_u: int | None = None) -> None:
        self.state[self.j, 0] = synced
        if last_u is not None:
            self.state[self.j, 1] = last_u

    def apply(self, buf: np.ndarray, cols: tuple[np.ndarray, ...], lines: np.ndarray) -> None:
        """Apply messages (cols: start, end, kind, trade side, exchange and applied times) in
        order and write their rows; `lines` names them in errors."""
        levels = int(np.count_nonzero(buf[cols[0][0] : cols[1][-1]] == 91)) if len(lines) else 0
        out = np.empty((6, levels + len(lines)), dtype=np.int64)  # a "[" per level at least
        b, f, n = self.book, 0, 0
        while f < len(lines):
            lo, hi, kind, side, exch, at = (c[f:] for c in cols)
            written, stop = apply_block(buf, lo, hi, kind, side, exch, at, b.keys, b.vals, b.st, out[:, n:])
            n += written
            if stop == -1:
                break
            if stop >= 0:
                raise _LineError(int(lines[f + stop]), "its levels or price")
            f += -2 - stop
            b.grow(int(cols[1][f] - cols[0][f]) // 7)
        self.write(out[:, :n])

    def write(self, rows: np.ndarray) -> None:
        if rows.shape[1]:
            rows_of(rows[0], rows[1], rows[2], rows[3], rows[4], EXP, rows[5], EXP).write_to(self.writer)


class _Converter:
    def __init__(self, pattern: str, venue: str, names: dict[str, str], several: bool, ticks, lots) -> None:
        self.pattern, self.venue, self.names, self.several = pattern, venue, names, several
        self.ticks, self.lots = ticks, lots
        self.markets: dict[str, _Market] = {}
        self.state = np.zeros((_MAX_CODES, 2), dtype=np.int64)  # per market: synced, last u
        self.codes = np.zeros((0, 2), dtype=np.int64)  # per symbol spelling: its code, its market

    def market(self, raw: str) -> _Market:
        m = self.markets.get(raw)
        if m is None:
            symbol = unified_symbol(raw, self.names)
            tick = self.ticks[1].get(raw, self.ticks[0])
            lot = self.lots[1].get(raw, self.lots[0])
            path = file_for(self.pattern, symbol, self.several)
            writer = EventWriter(path, self.venue, symbol, tick_size=tick, lot_size=lot)
            m = self.markets[raw] = _Market(symbol, writer, len(self.markets), self.state)
        return m

    def block(self, data: bytes, heads: np.ndarray, first_line: int) -> None:
        """One block of lines, in order: runs the compiled sync decides, each other line here."""
        buf = np.frombuffer(data, dtype=np.uint8)
        take = np.empty((len(heads), 2), dtype=np.int64)
        i = 0
        while i < len(heads):
            stop, n = sync_run(heads, i, self.codes, self.state, take, 0)
            self._apply_taken(buf, heads, take[:n], first_line)
            if stop < len(heads):
                self._line(data, heads[stop], first_line + stop)
            i = stop + 1

    def _apply_taken(self, buf: np.ndarray, heads: np.ndarray, take: np.ndarray, first_line: int) -> None:
        for m in self.markets.values():
            taken = take[:, 0] if len(self.markets) == 1 else take[take[:, 1] == m.j, 0]
            if not len(taken):
                continue
            h = heads[taken]
            trade = h[:, H_KIND] == TRADE_MSG
            kind = np.where(trade, MSG_TRADE, MSG_DIFF)
            side = np.where(h[:, H_M] == 1, ASK, BID)
            exch = np.where(trade, h[:, H_T], h[:, H_E]) * 1_000_000
            m.apply(buf, (h[:, H_BODY], h[:, H_END], kind, side, exch, h[:, H_TS]), taken + first_line)

    def _line(self, data: bytes, h: np.ndarray, n: int) -> None:
        """A line the compiled sync left to Python."""
        kind, ts = int(h[H_KIND]), int(h[H_TS])
        if kind < 0:
            raise _LineError(
                n, "not <local_ts_ns> <JSON>" if kind == MALFORMED else "a field it needs is missing"
            )
        text = data[h[H_BODY] : h[H_END]]
        if kind == SNAPSHOT_MSG:
            try:
                obj = orjson.loads(text)
                msg, stream = obj.get("data", obj), obj.get("stream", "")
                raw = (msg.get("symbol") or msg.get("s") or stream.partition("@")[0] or self._only()).upper()
                self.snapshot(self.market(raw), ts, msg, n)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                raise _LineError(n, repr(exc)) from None
            return
        m = self.market(data[h[H_SYM] : h[H_SYM_END]].decode())
        if int(h[H_CODE]) not in self.codes[:, 0]:
            self.codes = np.vstack([self.codes, [[h[H_CODE], m.j]]])
            self._line_again(data, h, n)  # now known: decided as the compiled sync would
            return
        self.diff(m, _Diff(n, ts, int(h[H_E]), int(h[H_U]), int(h[H_LAST_U]), int(h[H_PU]), text))

    def _line_again(self, data: bytes, h: np.ndarray, n: int) -> None:
        heads = h[None, :].copy()
        take = np.empty((1, 2), dtype=np.int64)
        stop, k = sync_run(heads, 0, self.codes, self.state, take, 0)
        buf = np.frombuffer(data, dtype=np.uint8)
        self._apply_taken(buf, heads, take[:k], n)
        if stop == 0:
            self._line(data, h, n)

    def _only(self) -> str:
        if len(self.markets) == 1:
            return next(iter(self.markets))
        raise KeyError("symbol")

    def diff(self, m: _Market, d: _Diff) -> None:
        """A diff the compiled sync did not take: its market is unsynced, or it does not chain."""
        if m.synced:
            m.notes["gaps"] += 1
            m.set_sync(False)
        m.waiting.append(d)
        if len(m.waiting) > _MAX_WAITING:
            del m.waiting[0]
            m.notes["dropped_diffs"] += 1

    def snapshot(self, m: _Market, local: int, msg: dict[str, Any], n: int) -> None:
        last_id = int(msg["lastUpdateId"])
        if m.synced and last_id <= m.last_u:
            m.notes["stale_snapshots"] += 1
            return
        exch = int(msg.get("E", msg.get("T", local // 1_000_000))) * 1_000_000
        rows: list[tuple[int, int, int, int, int, int]] = []
        if m.had_book and not m.synced:
            rows.append((RESYNC, BID, exch, local, units((msg["bids"] or msg["asks"])[0][0]), 0))
            m.notes["resyncs"] += 1
        sides = []
        for side, key in ((BID, "bids"), (ASK, "asks")):
            old = m.book.side(side)
            new = {units(p): units(q) for p, q in msg[key]}
            rows += [(DEPTH, side, exch, local, price, 0) for price in old if price not in new]
            rows += [
                (DEPTH, side, exch, local, price, size)
                for price, size in new.items()
                if old.get(price) != size or not m.synced
            ]
            sides.append(new)
        m.write(np.array(rows, dtype=np.int64).reshape(-1, 6).T)
        m.book.replace(sides[0], sides[1])
        m.had_book = True
        m.set_sync(True, last_id)
        self._pending(m, local, last_id)

    def _pending(self, m: _Market, local: int, last_id: int) -> None:
        """The diffs a fresh snapshot was behind, applied at its time while they chain."""
        pending = [d for d in m.waiting if d.last_u > last_id]
        m.waiting = []
        applied: list[_Diff] = []
        for k, d in enumerate(pending):
            # the first diff must straddle the snapshot; the next ones chain as usual
            if not (d.first_u <= last_id + 1 if k == 0 else _chains(m.last_u, d)):
                m.notes["gaps"] += 1
                m.set_sync(False)
                m.waiting = pending[k:]
                break
            applied.append(d)
            m.set_sync(True, d.last_u)
        if not applied:
            m.book.judge()  # else the last diff applied judges the book
            return
        data = b"".join(d.text for d in applied)
        ends = np.cumsum([len(d.text) for d in applied])
        count = len(applied)
        zeros = np.zeros(count, dtype=np.int64)
        exch = np.array([d.exch_ms for d in applied], dtype=np.int64) * 1_000_000
        cols = (ends - [len(d.text) for d in applied], ends, zeros + MSG_DIFF, zeros, exch, zeros + local)
        m.apply(np.frombuffer(data, dtype=np.uint8), cols, np.array([d.line for d in applied]))


def _chains(last_u: int, d: _Diff) -> bool:
    return d.pu == last_u if d.pu >= 0 else d.first_u == last_u + 1


def convert_binance_ws(
    capture: str | Path,
    out_pattern: str | Path,
    *,
    venue: str = "binance",
    names: dict[str, str] | None = None,
    tick_size: tuple[Decimal | None, dict[str, Decimal]] | Decimal | None = None,
    lot_size: tuple[Decimal | None, dict[str, Decimal]] | Decimal | None = None,
    several: bool = True,
) -> list[WriteSummary]:
    ticks = tick_size if isinstance(tick_size, tuple) else (tick_size, {})
    lots = lot_size if isinstance(lot_size, tuple) else (lot_size, {})
    conv = _Converter(str(out_pattern), venue, names or {}, several, ticks, lots)
    path = Path(capture)
    try:
        first_line = 1
        try:
            for data, heads in blocks(path):
                conv.block(data, heads, first_line)
                first_line += len(heads)
        except _LineError as exc:
            raise EventFileError(f"{path}: line {exc.line}: not a Binance message ({exc.what})") from None
        out = []
        keys = ("gaps", "resyncs", "crossed_books", "dropped_diffs", "stale_snapshots", "unsynced_at_end")
        for m in conv.markets.values():
            notes = dict(m.notes, crossed_books=m.book.crossed_episodes, unsynced_at_end=int(not m.synced))
            out.append(m.writer.close({"source": "binance-ws", **{k: notes[k] for k in keys}}))
        return out
    except BaseException:
        for m in conv.markets.values():
            m.writer.abort()
        raise
