"""The replay's L2 book rows: absolute level sizes on a fixed price window, best price kept.

Four rows share one window of prices (see connectors/replay/layout.py): the exchange side's bid
and ask, and the local side's, each updated by the rows of its own timeline.
"""

from __future__ import annotations

import numpy as np

from connectors.replay.jit import njit
from connectors.replay.layout import (
    S_BASE,
    S_BEST,
)


@njit
def set_level(books: np.ndarray, st: np.ndarray, row: int, price: int, lots: int) -> int:
    """Set one level's absolute size, keep that book row's best price; returns the old size."""
    base = st[S_BASE]
    width = books.shape[1]
    i = price - base
    if i < 0 or i >= width:
        return 0
    prev = books[row, i]
    books[row, i] = lots
    b = S_BEST + row
    best = st[b]
    if row % 2 == 0:
        if lots > 0:
            if best == 0 or price > best:
                st[b] = price
        elif price == best:
            j = i - 1
            while j >= 0 and books[row, j] == 0:
                j -= 1
            st[b] = base + j if j >= 0 else 0
    else:
        if lots > 0:
            if best == 0 or price < best:
                st[b] = price
        elif price == best:
            j = i + 1
            while j < width and books[row, j] == 0:
                j += 1
            st[b] = base + j if j < width else 0
    return prev


@njit
def level_lots(books: np.ndarray, st: np.ndarray, row: int, price: int) -> int:
    i = price - st[S_BASE]
    if i < 0 or i >= books.shape[1]:
        return 0
    return books[row, i]
