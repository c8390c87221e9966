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

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bot.backtest.data.rows import rows_of
from bot.backtest.data.symbols import file_for, unified_symbol
from bot.backtest.data.writer import EventWriter, WriteSummary
from connectors.replay.events import ASK, BID, DEPTH, RESYNC, TRADE, EventFileError

EXP = 8  # Binance prints 8 decimals at most; every value is kept as an integer of 1e-8
_FLUSH_ROWS = 1 << 16
_MAX_WAITING = 100_000  # diffs held for a snapshot; beyond, the oldest are dropped (counted)


def units(text: str) -> int:
    """A decimal string as an exact integer of 1e-8."""
    whole, _, frac = text.partition(".")
    if len(frac) > EXP:
        frac = frac.rstrip("0")
        if len(frac) > EXP:
            raise ValueError(f"{text}: more than {EXP} decimals")
    return int(whole + frac.ljust(EXP, "0"))


@dataclass(slots=True)
class _Market:
    symbol: str
    writer: EventWriter
    rows: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    book: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    synced: bool = False
    last_u: int = 0
    waiting: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    had_book: bool = False
    notes: dict[str, int] = field(
        default_factory=lambda: {
            "gaps": 0,
            "resyncs": 0,
            "crossed_books": 0,
            "dropped_diffs": 0,
            "stale_snapshots": 0,
        }
    )
    crossed: bool = False

    def flush(self) -> None:
        if not self.rows:
            return
        a = np.array(self.rows, dtype=np.int64)
        self.rows.clear()
        rows_of(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], EXP, a[:, 5], EXP).write_to(self.writer)

    def set_level(self, side: int, price: int, size: int, exch: int, local: int) -> None:
        levels = self.book[0 if side == BID else 1]
        if size:
            levels[price] = size
        elif levels.pop(price, None) is None:
            return  # deleting a level the book does not have: nothing to write
        self.rows.append((DEPTH, side, exch, local, price, size))

    def judge(self) -> None:
        """Counts the book becoming crossed, between updates."""
        bids, asks = self.book
        crossed = bool(bids and asks and max(bids) >= min(asks))
        if crossed and not self.crossed:
            self.notes["crossed_books"] += 1
        self.crossed = crossed


class _Converter:
    def __init__(self, pattern: str, venue: str, names: dict[str, str], several: bool, ticks, lots) -> None:
        self.pattern, self.venue, self.names, self.several = pattern, venue, names, several
        self.ticks, self.lots = ticks, lots
        self.markets: dict[str, _Market] = {}

    def market(self, raw: str) -> _Market:
        m = self.markets.get(raw)
        if m is None:
            symbol = unified_symbol(raw, self.names)
            tick = self.ticks[1].get(raw, self.ticks[0])
            lot = self.lots[1].get(raw, self.lots[0])
            path = file_for(self.pattern, symbol, self.several)
            m = self.markets[raw] = _Market(
                symbol, EventWriter(path, self.venue, symbol, tick_size=tick, lot_size=lot)
            )
        return m

    def line(self, local: int, msg: dict[str, Any], stream: str) -> None:
        if "lastUpdateId" in msg:
            raw = (msg.get("symbol") or msg.get("s") or stream.partition("@")[0] or self._only()).upper()
            self.snapshot(self.market(raw), local, msg)
            return
        event = msg.get("e")
        if event == "trade" or event == "aggTrade":
            m = self.market(msg["s"])
            side = ASK if msg["m"] else BID
            m.rows.append((TRADE, side, int(msg["T"]) * 1_000_000, local, units(msg["p"]), units(msg["q"])))
        elif event == "depthUpdate":
            m = self.market(msg["s"])
            if m.synced:
                self.diff(m, local, msg)
            else:
                m.waiting.append((local, msg))
                if len(m.waiting) > _MAX_WAITING:
                    del m.waiting[0]
                    m.notes["dropped_diffs"] += 1
        else:
            return
        if len(m.rows) >= _FLUSH_ROWS:
            m.flush()

    def _only(self) -> str:
        if len(self.markets) == 1:
            return next(iter(self.markets))
        raise KeyError("symbol")

    def diff(self, m: _Market, local: int, msg: dict[str, Any]) -> None:
        u = int(msg["u"])
        if u <= m.last_u:
            return  # already in the book
        if not _chains(m.last_u, msg):
            m.notes["gaps"] += 1
            m.synced = False
            m.waiting.append((local, msg))
            return
        self.apply(m, local, msg, local)

    def apply(self, m: _Market, local: int, msg: dict[str, Any], at: int) -> None:
        exch = int(msg["E"]) * 1_000_000
        for side, key in ((BID, "b"), (ASK, "a")):
            for price, size in msg[key]:
                m.set_level(side, units(price), units(size), exch, at)
        m.last_u = int(msg["u"])
        m.judge()

    def snapshot(self, m: _Market, local: int, msg: dict[str, Any]) -> None:
        last_id = int(msg["lastUpdateId"])
        if m.synced and last_id <= m.last_u:
            m.notes["stale_snapshots"] += 1
            return
        exch = int(msg.get("E", msg.get("T", local // 1_000_000))) * 1_000_000
        if m.had_book and not m.synced:
            m.rows.append((RESYNC, BID, exch, local, units((msg["bids"] or msg["asks"])[0][0]), 0))
            m.notes["resyncs"] += 1
        for side, key in ((BID, "bids"), (ASK, "asks")):
            new = {units(p): units(q) for p, q in msg[key]}
            for price in [p for p in m.book[0 if side == BID else 1] if p not in new]:
                m.set_level(side, price, 0, exch, local)
            for price, size in new.items():
                if m.book[0 if side == BID else 1].get(price) != size or not m.synced:
                    m.set_level(side, price, size, exch, local)
        m.had_book, m.synced, m.last_u = True, True, last_id
        pending = [(t, d) for t, d in m.waiting if int(d["u"]) > last_id]
        m.waiting = []
        for k, (_, d) in enumerate(pending):
            # the first diff must straddle the snapshot; the next ones chain as usual
            if not (int(d["U"]) <= last_id + 1 if k == 0 else _chains(m.last_u, d)):
                m.notes["gaps"] += 1
                m.synced = False
                m.waiting = pending[k:]
                break
            self.apply(m, local, d, local)
        m.judge()


def _chains(last_u: int, msg: dict[str, Any]) -> bool:
    return int(msg["pu"]) == last_u if "pu" in msg else int(msg["U"]) == last_u + 1


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
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                ts, _, text = raw.partition(b" ")
                try:
                    obj = json.loads(text)
                    data = obj.get("data", obj) if isinstance(obj, dict) else obj
                    conv.line(int(ts), data, obj.get("stream", ""))
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    raise EventFileError(f"{path}: line {n}: not a Binance message ({exc!r})") from None
        out = []
        for m in conv.markets.values():
            m.flush()
            out.append(
                m.writer.close({"source": "binance-ws", **m.notes, "unsynced_at_end": int(not m.synced)})
            )
        return out
    except BaseException:
        for m in conv.markets.values():
            m.writer.abort()
        raise
