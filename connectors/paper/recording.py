"""What a paper session saw of one market, as L2 event files (connectors/replay/events.py).

The rows are those the simulated matching applied, in the order and at the simulation times it
applied them (their exchange time: the simulation's exchange is the feed as received), plus a
SNAPSHOT row wherever the bot was shown the book. Their local time is when the bot took them in:
the start of the event loop's next pass after the venue handed them on (`taken_in`), where the
bot's requote loop, woken by them, reads its clock; on a busy loop that is milliseconds later,
and a replay then shows the bot each row when the session's bot acted on it. `mmbot backtest
--data` on a file then replays the session: with the same order latency, each request meets the
rows it met live.
A file is closed after `rotate_rows` rows and the next starts with the whole book, so each
replays alone.
"""

from __future__ import annotations

import time
from array import array
from pathlib import Path

import numpy as np

from bot.core.domain import Market
from connectors.replay.events import DEPTH, DataMeta, make_event_data, save_events


class MarketRecording:
    def __init__(self, out_dir: Path, market: Market, rotate_rows: int) -> None:
        self.out_dir, self.market, self.rotate_rows = out_dir, market, rotate_rows
        self.files: list[Path] = []
        self._stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self._cols = self._empty()
        self._not_taken_in: int | None = None  # the first row the bot has not taken in yet

    @staticmethod
    def _empty() -> list[array[int]]:
        return [array("q") for _ in range(6)]

    def add(self, kind: int, side: int, ts_ns: int, price_ticks: int, lots: int) -> None:
        if self._not_taken_in is None:
            self._not_taken_in = len(self._cols[0])
        for col, value in zip(self._cols, (kind, side, ts_ns, ts_ns, price_ticks, lots), strict=True):
            col.append(value)

    def taken_in(self, local_ns: int) -> None:
        """The rows added since the last call reached the bot's requote loop at `local_ns`."""
        first, self._not_taken_in = self._not_taken_in, None
        local = self._cols[3]
        for k in range(len(local) if first is None else first, len(local)):
            local[k] = max(local[k], local_ns)

    def rotate_if_full(self, book: dict[int, dict[int, int]], ts_ns: int) -> None:
        """After a whole update: a full file is written and the next one starts with `book`."""
        if len(self._cols[0]) < self.rotate_rows:
            return
        self.save()
        for side, levels in book.items():
            for price, lots in levels.items():
                self.add(DEPTH, side, ts_ns, price, lots)

    def save(self) -> Path | None:
        cols, self._cols = self._cols, self._empty()
        self._not_taken_in = None  # rows saved before the bot took them in keep their own time
        if not cols[0]:
            return None
        m = self.market
        meta = DataMeta(m.venue, m.symbol, m.tick_size, m.lot_size)
        names = ("kind", "side", "exch_ts_ns", "local_ts_ns", "price_ticks", "size_lots")
        data = make_event_data(
            meta, **{n: np.frombuffer(c, dtype=np.int64) for n, c in zip(names, cols, strict=True)}
        )
        name = f"{m.venue}-{m.symbol.replace('/', '-')}-{self._stamp}-{len(self.files):04d}.npz"
        path = save_events(self.out_dir / name, data)
        self.files.append(path)
        return path
