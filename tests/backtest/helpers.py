"""A fixed quoting model for the fast backtest tests (event files: tests/kit/replay_rows.py)."""

from __future__ import annotations

import numpy as np


class FixedOrders:
    """Wants the same orders at every wake-up; remembers what it saw."""

    def __init__(self, orders: list[tuple[int, int, int]]) -> None:
        self.orders = orders
        self.seen: list[tuple[int, int, int, int]] = []

    def quotes(self, now_ns: int, best_bid: int, best_ask: int, position: int, out: np.ndarray) -> int:
        self.seen.append((now_ns, best_bid, best_ask, position))
        for k, row in enumerate(self.orders):
            out[k] = row
        return len(self.orders)
