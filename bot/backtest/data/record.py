"""`mmbot data record`: a ccxt venue's public book and trade streams into rotating event files.

One book task and one trade task per symbol (ccxt.pro watch_order_book / watch_trades), each kept
alive by the Supervisor with its backoff. A book task that died (a dropped connection, ccxt's own
sequence check) starts again on a fresh book: the file gets a RESYNC row, deletions of the levels
the new book lacks and every level of it. Book updates become depth rows for the levels that
changed. A file is closed and a new one started after `rotate_rows` rows or `rotate_s` seconds; each
file starts with the whole book, so it replays alone. Prices and sizes are kept exactly (ccxt's
floats are the venue's decimal strings, read back by their shortest repr).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt

from bot.backtest.data.writer import EventWriter, WriteSummary, decimal_parts
from bot.core.supervision import RestartPolicy, Supervisor
from connectors.ccxt.convert import precision_step
from connectors.ccxt.session import exchange_class
from connectors.ccxt.urls import rewrite_api_urls
from connectors.replay.events import ASK, BID, DEPTH, RESYNC, TRADE

log = logging.getLogger("mmbot.data.record")
_FLUSH_ROWS = 4096


@dataclass(frozen=True, slots=True)
class RecordParams:
    exchange: str
    symbols: tuple[str, ...]
    out_dir: Path
    rotate_rows: int = 5_000_000
    rotate_s: float = 3600.0
    depth: int = 100
    duration_s: float | None = None
    urls: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _exact(x: float) -> tuple[int, int]:
    return decimal_parts(Decimal(repr(float(x))))


class SymbolRecorder:
    """The rows of one market, into one file after another."""

    def __init__(
        self, venue: str, symbol: str, tick: Decimal | None, lot: Decimal | None, params: RecordParams
    ) -> None:
        self.venue, self.symbol, self.tick, self.lot, self.params = venue, symbol, tick, lot, params
        self.book: tuple[dict[float, float], dict[float, float]] = ({}, {})
        self.files: list[WriteSummary] = []
        self.notes = {"resyncs": 0, "crossed_books": 0, "gaps": 0}
        self._crossed = False
        self._rows: list[tuple[int, int, int, int, float, float]] = []
        self._writer: EventWriter | None = None
        self._file_rows = 0
        self._file_start = 0.0

    # ---- stream callbacks ----------------------------------------------------------------------

    def on_book(self, ob: dict[str, Any], fresh: bool) -> None:
        local = time.time_ns()
        exch = min(int(ob.get("timestamp") or local // 1_000_000) * 1_000_000, local)
        if fresh and (self.book[0] or self.book[1]):
            price = (ob["bids"] or ob["asks"] or [[next(iter(self.book[0] or self.book[1]))]])[0][0]
            self._rows.append((RESYNC, BID, exch, local, price, 0.0))
            self.notes["resyncs"] += 1
            self.notes["gaps"] += 1
        for side, key, levels in ((BID, "bids", self.book[0]), (ASK, "asks", self.book[1])):
            new = {float(p): float(q) for p, q, *_ in ob[key][: self.params.depth]}
            for price in [p for p in levels if p not in new]:
                del levels[price]
                self._rows.append((DEPTH, side, exch, local, price, 0.0))
            for price, size in new.items():
                if fresh or levels.get(price) != size:
                    levels[price] = size
                    self._rows.append((DEPTH, side, exch, local, price, size))
        bids, asks = self.book
        crossed = bool(bids and asks and max(bids) >= min(asks))
        self.notes["crossed_books"] += int(crossed and not self._crossed)
        self._crossed = crossed
        self._maybe_flush()

    def on_trades(self, trades: list[dict[str, Any]]) -> None:
        local = time.time_ns()
        for t in trades:
            exch = min(int(t.get("timestamp") or local // 1_000_000) * 1_000_000, local)
            side = BID if t.get("side") == "buy" else ASK
            self._rows.append((TRADE, side, exch, local, float(t["price"]), float(t["amount"])))
        self._maybe_flush()

    # ---- files ---------------------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if len(self._rows) >= _FLUSH_ROWS or self._rotation_due():
            self.flush()

    def _rotation_due(self) -> bool:
        if self._writer is None:
            return False
        age = time.monotonic() - self._file_start
        return self._file_rows + len(self._rows) >= self.params.rotate_rows or age >= self.params.rotate_s

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            self._write(rows)
        if self._rotation_due():
            self.close()
            # the next file starts with the whole book, so it replays alone
            now = time.time_ns()
            book = [
                (DEPTH, s, now, now, p, q)
                for s, lv in ((BID, self.book[0]), (ASK, self.book[1]))
                for p, q in lv.items()
            ]
            if book:
                self._write(book)

    def _write(self, rows: list[tuple[int, int, int, int, float, float]]) -> None:
        import numpy as np

        if self._writer is None:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            name = f"{self.venue}-{self.symbol.replace('/', '-')}-{stamp}-{len(self.files):04d}.npz"
            self._writer = EventWriter(
                self.params.out_dir / name, self.venue, self.symbol, tick_size=self.tick, lot_size=self.lot,
                strict_tick=False,
            )  # fmt: skip
            self._file_rows, self._file_start = 0, time.monotonic()
        prices = [_exact(r[4]) for r in rows]
        sizes = [_exact(r[5]) for r in rows]
        pe, se = max(e for _, e in prices), max(e for _, e in sizes)
        cols = np.array([r[:4] for r in rows], dtype=np.int64)
        self._writer.add(
            cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3],
            np.array([m * 10 ** (pe - e) for m, e in prices], dtype=np.int64), pe,
            np.array([m * 10 ** (se - e) for m, e in sizes], dtype=np.int64), se,
        )  # fmt: skip
        self._file_rows += len(rows)

    def close(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            self._write(rows)
        if self._writer is not None:
            self.files.append(self._writer.close({"source": f"record:{self.venue}", **self.notes}))
            self._writer = None


async def _book_task(exchange: Any, rec: SymbolRecorder, depth: int) -> None:
    fresh = True  # every (re)start of this task begins on a fresh book
    while True:
        ob = await exchange.watch_order_book(rec.symbol, depth)
        rec.on_book(ob, fresh)
        fresh = False


async def _trade_task(exchange: Any, rec: SymbolRecorder) -> None:
    while True:
        rec.on_trades(await exchange.watch_trades(rec.symbol))


async def record(
    params: RecordParams, stop: asyncio.Event, exchange: Any | None = None
) -> list[SymbolRecorder]:
    """Records until `stop` is set; closes every file; returns the recorders (their `files`)."""
    if exchange is None:
        exchange = exchange_class(params.exchange)({"enableRateLimit": True, "options": dict(params.options)})
        if params.urls is not None:
            exchange.urls["api"] = rewrite_api_urls(exchange.urls["api"], params.urls)
    params.out_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor()
    policy = RestartPolicy(base_s=0.2, max_s=10.0, expected=(ccxt.NetworkError, ccxt.ExchangeError))
    recorders: list[SymbolRecorder] = []
    tasks = []
    try:
        markets = await exchange.load_markets()
        mode = exchange.precisionMode
        for symbol in params.symbols:
            if symbol not in markets:
                raise ValueError(f"symbol {symbol}: not a market of {params.exchange}")
            precision = markets[symbol].get("precision", {})
            rec = SymbolRecorder(
                params.exchange, symbol, precision_step(precision.get("price"), mode),
                precision_step(precision.get("amount"), mode), params,
            )  # fmt: skip
            recorders.append(rec)
            book = functools.partial(_book_task, exchange, rec, params.depth)
            trades = functools.partial(_trade_task, exchange, rec)
            tasks.append(supervisor.spawn(f"book-{symbol}", book, policy))
            tasks.append(supervisor.spawn(f"trades-{symbol}", trades, policy))
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for rec in recorders:
            rec.close()
        with contextlib.suppress(Exception):
            await exchange.close()
    return recorders


def record_command(params: RecordParams) -> int:
    async def main() -> list[SymbolRecorder]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if params.duration_s is not None:
            loop.call_later(params.duration_s, stop.set)
        return await record(params, stop)

    for rec in asyncio.run(main()):
        for f in rec.files:
            print(f"{f.path}: {f.rows:,} rows; " + ", ".join(f"{k}={v}" for k, v in sorted(f.notes.items())))
    return 0
