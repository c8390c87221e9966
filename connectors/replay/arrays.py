"""Jitted helpers the replay venue adds around the replay core: the same book, queue-model and
matching code (connectors/replay/exchange_side.py, local_side.py), driven one timeline at a time by
the asyncio venue instead of by `core.run_until`."""

from __future__ import annotations

import numpy as np

from connectors.replay import layout
from connectors.replay.exchange_side import ex_row
from connectors.replay.jit import njit
from connectors.replay.local_side import lo_row

R_LOCAL_TS = 6  # extra answer column: local time of the row that caused it (0: caused by a request)
RESP_COLUMNS = 7


@njit
def ex_advance_stamped(
    until_ns: int,
    data: np.ndarray,
    ex_order: np.ndarray,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
) -> int:
    """Apply exchange rows stamped at or before `until_ns`; returns the next row's time (or INF).

    Each answer a market row causes (a fill of a resting order) is stamped with that row's local
    time: our own-order stream reaches us with the market data."""
    n = data.shape[1]
    while st[layout.S_EXCUR] < n:
        i = ex_order[st[layout.S_EXCUR]]
        if data[layout.C_EXCH, i] > until_ns:
            return data[layout.C_EXCH, i]
        tail = st[layout.S_RESP_TAIL]
        ex_row(data, i, books, st, fst, oi, of, act, resp, fills)
        st[layout.S_EXCUR] += 1
        for k in range(tail, st[layout.S_RESP_TAIL]):
            resp[k % layout.RING, R_LOCAL_TS] = data[layout.C_LOCAL, i]
    return layout.INF_NS


@njit
def lo_advance(until_ns: int, data: np.ndarray, books: np.ndarray, st: np.ndarray) -> int:
    """Apply local rows received at or before `until_ns`; returns the next row's local time (or INF)."""
    n = data.shape[1]
    while st[layout.S_LOCUR] < n:
        i = st[layout.S_LOCUR]
        if data[layout.C_LOCAL, i] > until_ns:
            return data[layout.C_LOCAL, i]
        lo_row(data, i, books, st)
        st[layout.S_LOCUR] = i + 1
    return layout.INF_NS


@njit
def lo_skip_before(exch_ns: int, data: np.ndarray, books: np.ndarray, st: np.ndarray) -> int:
    """Apply local rows up to the first one the exchange made at or after `exch_ns`; returns how many."""
    n = data.shape[1]
    first = st[layout.S_LOCUR]
    while st[layout.S_LOCUR] < n:
        i = st[layout.S_LOCUR]
        if data[layout.C_EXCH, i] >= exch_ns:
            break
        lo_row(data, i, books, st)
        st[layout.S_LOCUR] = i + 1
    return st[layout.S_LOCUR] - first


@njit
def top_book(
    books: np.ndarray, st: np.ndarray, depth: int, lot_ratio: int, out: np.ndarray
) -> tuple[int, int]:
    """The local book's best `depth` non-empty levels of each side, best first, sizes in trading
    lots rounded up: bid prices, bid sizes, ask prices, ask sizes in out[0..3, :n]; returns the
    number of bid and ask levels. One call and one row per column, so the venue turns them into
    pairs with a single `tolist` (the snapshot's Python objects cost more than the scan)."""
    base = st[layout.S_BASE]
    width = books.shape[1]
    n_bids = 0
    for side in range(2):
        row = layout.B_LO + side
        best = st[layout.S_BEST + row]
        step = -1 if row % 2 == 0 else 1
        i = best - base
        n = 0
        while best != 0 and 0 <= i < width and n < depth:
            lots = books[row, i]
            if lots > 0:
                out[2 * side, n] = base + i
                out[2 * side + 1, n] = (lots + lot_ratio - 1) // lot_ratio  # finer than a lot: still shown
                n += 1
            i += step
        if side == 0:
            n_bids = n
        else:
            return n_bids, n
    return n_bids, 0
