"""Jitted look-ahead of the replay venue's conflated feed (`book_feed = "top_moves"`): the market
rows between two moments the bot must see something are consumed here, without a Python object
per row.

- `lo_scan` applies local rows (what the bot would receive) until the best bid or ask has moved by
  more than a tolerance since the last book shown to the bot, or until a deadline: the book that
  stops it is the next one the bot sees. Public trades met on the way are noted for delivery.
- `ex_next_fill_ns` looks ahead on the exchange timeline, without applying anything, for the first
  row that could fill one of our resting orders, so the venue wakes up in time to apply it and
  deliver the fill when the exchange made it.
"""

from __future__ import annotations

import numpy as np

from connectors.replay import layout
from connectors.replay.events import TRADE
from connectors.replay.jit import njit
from connectors.replay.local_side import lo_row

# fs: the scan's int64 state (kept across calls)
F_SHOWN_BID, F_SHOWN_ASK = 0, 1  # best prices of the last book shown to the bot
F_PENDING_NS = 2  # local time of the first change (book row or print) not shown yet; 0: none
F_CHANGED = 3  # 1: a book row was applied since the last book shown
F_NTRADES = 4  # row indices of prints not delivered yet, in trades[:n]
F_STOP_ROW = 5  # the last row applied (a book that moved: the row whose time it is shown at)
F_BOOK_ROW = 6  # the last publication row applied (its exchange time is the book's)
N_FS = 8

SCAN_MOVED, SCAN_DEADLINE, SCAN_FULL, SCAN_END = 1, 2, 3, 4


@njit
def _moved(shown: int, best: int, tolerance_ticks: int) -> bool:
    if shown == 0 or best == 0:
        return shown != best  # a side appearing or vanishing always shows
    d = best - shown
    return d > tolerance_ticks or -d > tolerance_ticks


@njit
def lo_scan(
    data: np.ndarray,
    books: np.ndarray,
    st: np.ndarray,
    fs: np.ndarray,
    trades: np.ndarray,
    book_kind: int,
    tolerance_ticks: int,
    max_delay_ns: int,
) -> int:
    """Apply local rows until the bot must see the book: returns SCAN_MOVED (the row in
    fs[F_STOP_ROW], rows received at its very time included, moved a best price), SCAN_DEADLINE
    (max_delay_ns after the first change not shown, rows up to then applied; fs[F_STOP_ROW] is the
    last applied), SCAN_FULL (the print buffer is full) or SCAN_END (no rows left).

    `book_kind`: the rows where the venue published its book (SNAPSHOT rows in a file that has them,
    else DEPTH rows): only there can the bot see a new book."""
    n = data.shape[1]
    best_bid = layout.S_BEST + layout.B_LO
    while st[layout.S_LOCUR] < n:
        i = st[layout.S_LOCUR]
        t = data[layout.C_LOCAL, i]
        pending = fs[F_PENDING_NS]
        if pending != 0 and t > pending + max_delay_ns:
            return SCAN_DEADLINE
        kind = data[layout.C_KIND, i]
        if kind == TRADE:
            if fs[F_NTRADES] >= trades.shape[0]:
                return SCAN_FULL
            trades[fs[F_NTRADES]] = i
            fs[F_NTRADES] += 1
        lo_row(data, i, books, st)
        st[layout.S_LOCUR] = i + 1
        fs[F_STOP_ROW] = i
        if kind in (TRADE, book_kind):
            if pending == 0:
                fs[F_PENDING_NS] = t
            if kind == book_kind:
                fs[F_CHANGED] = 1
                fs[F_BOOK_ROW] = i
                if _moved(fs[F_SHOWN_BID], st[best_bid], tolerance_ticks) or _moved(
                    fs[F_SHOWN_ASK], st[best_bid + 1], tolerance_ticks
                ):
                    # the rest of this instant's rows too: the bot sees the book as of a time
                    while st[layout.S_LOCUR] < n and data[layout.C_LOCAL, st[layout.S_LOCUR]] == t:
                        j = st[layout.S_LOCUR]
                        if data[layout.C_KIND, j] == TRADE:
                            if fs[F_NTRADES] >= trades.shape[0]:
                                return SCAN_MOVED  # the print waits for the next delivery
                            trades[fs[F_NTRADES]] = j
                            fs[F_NTRADES] += 1
                        elif data[layout.C_KIND, j] == book_kind:
                            fs[F_BOOK_ROW] = j
                        lo_row(data, j, books, st)
                        st[layout.S_LOCUR] = j + 1
                        fs[F_STOP_ROW] = j
                    return SCAN_MOVED
    return SCAN_END


@njit
def _reaches(o_side: int, o_px: int, kind: int, side: int, price: int, lots: int) -> bool:
    """Whether this market row can fill a resting order of ours (exchange_side.ex_row's rules)."""
    if kind == TRADE:
        return side == -o_side and (o_px - price) * side <= 0
    if kind == 1:  # depth resting at or through our price on the other side
        return side == -o_side and lots > 0 and (price - o_px) * o_side <= 0
    return False


@njit
def ex_next_fill_ns(
    data: np.ndarray, ex_order: np.ndarray, st: np.ndarray, oi: np.ndarray, act: np.ndarray, until_ns: int
) -> int:
    """Exchange time of the first row not applied yet, stamped at or before `until_ns`, that could
    fill one of our resting orders (INF_NS if none). Nothing is applied: a request reaching the
    exchange before that row still sees the book of its own arrival."""
    n_act = st[layout.S_NACT]
    if n_act == 0:
        return layout.INF_NS
    n = data.shape[1]
    k = st[layout.S_EXCUR]
    while k < n:
        i = ex_order[k]
        t = data[layout.C_EXCH, i]
        if t > until_ns:
            return layout.INF_NS
        kind, side = data[layout.C_KIND, i], data[layout.C_SIDE, i]
        price, lots = data[layout.C_PRICE, i], data[layout.C_SIZE, i]
        for a in range(n_act):
            slot = act[a]
            if _reaches(oi[slot, layout.O_SIDE], oi[slot, layout.O_PRICE], kind, side, price, lots):
                return t
        k += 1
    return layout.INF_NS
