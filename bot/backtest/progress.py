"""A progress line for long backtests on stderr: rows replayed of the total, rows/s, ETA.

Checked once per simulated second (a timer on the virtual clock costs nothing per row), redrawn at
most every `interval_s` of wall time; the caller turns it off when stderr is not a terminal.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressLine:
    def __init__(
        self,
        total_rows: int,
        rows_done: Callable[[], int],
        *,
        stream: TextIO = sys.stderr,
        interval_s: float = 0.5,
    ) -> None:
        self.total_rows = total_rows
        self.rows_done = rows_done
        self.stream = stream
        self.interval_s = interval_s
        self._t0 = time.perf_counter()
        self._last_draw = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._tick()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.draw()
        self.stream.write("\n")
        self.stream.flush()

    def _tick(self) -> None:
        if time.perf_counter() - self._last_draw >= self.interval_s:
            self.draw()
        self._handle = asyncio.get_running_loop().call_later(1.0, self._tick)

    def draw(self) -> None:
        self._last_draw = now = time.perf_counter()
        self.stream.write("\r" + self.line(self.rows_done(), now - self._t0))
        self.stream.flush()

    def line(self, done: int, elapsed_s: float) -> str:
        total = max(self.total_rows, 1)
        rate = done / elapsed_s if elapsed_s > 0 else 0.0
        eta = f"{(total - done) / rate:,.0f} s" if rate > 0 else "?"
        width = 30
        filled = min(width, width * done // total)
        bar = "#" * filled + "-" * (width - filled)
        share = 100 * done / total
        return f"backtest [{bar}] {done:,}/{total:,} rows {share:5.1f}%  {rate:,.0f} rows/s  ETA {eta}  "
