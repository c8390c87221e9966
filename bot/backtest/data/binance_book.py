"""The binance-ws converter's compiled part: the levels of depth diffs and the prints of trades,
read from the messages' own bytes, applied to the book and written as rows, a block at a time.

Python decides which messages apply and when (the update-id sync, binance_ws.py); this applies a
block of them in order without Python per level: each message's `"b"` then `"a"` arrays (a
trade's `"p"` and `"q"`) are parsed from the JSON text as exact integers of 1e-8, each level is
set in the book (a deletion of a level the book lacks writes nothing, as before), and the book is
judged crossed after each diff.

The book is an open-addressing hash table per side in numpy arrays (price -> size; 0 empty, -1 a
deleted slot), with the best price kept and searched for again only after the best is deleted.
"""

from __future__ import annotations

import numpy as np

from bot.backtest.data.json_bytes import key_value, skip_ws, string_end
from connectors.replay.events import ASK, BID, DEPTH, TRADE
from connectors.replay.jit import njit

EXP = 8  # Binance prints 8 decimals at most; every value is kept as an integer of 1e-8
# st: live levels, used slots (live + deleted) per side, best per side, best stale per side,
# crossed now, crossed episodes
_LIVE, _USED, _BEST, _STALE, _CROSSED, _EPISODES = 0, 2, 4, 6, 8, 9
MSG_DIFF, MSG_TRADE = 0, 1
_MIN_SLOTS = 1 << 8


@njit
def _slot(price: int, mask: int) -> int:
    return ((price * 0x9E3779B1) >> 16) & mask


@njit
def _find(keys: np.ndarray, r: int, price: int) -> int:
    mask = keys.shape[1] - 1
    i = _slot(price, mask)
    while keys[r, i] != 0:
        if keys[r, i] == price:
            return i
        i = (i + 1) & mask
    return -1


@njit
def _set(keys: np.ndarray, vals: np.ndarray, st: np.ndarray, r: int, price: int, size: int) -> bool:
    """Set one level (size 0 deletes it); False when it deletes a level the book lacks."""
    i = _find(keys, r, price)
    if size == 0:
        if i < 0:
            return False
        keys[r, i] = -1
        st[_LIVE + r] -= 1
        if st[_BEST + r] == price:
            st[_STALE + r] = 1
        return True
    if i < 0:
        mask = keys.shape[1] - 1
        i = _slot(price, mask)
        while keys[r, i] > 0:
            i = (i + 1) & mask
        if keys[r, i] == 0:
            st[_USED + r] += 1
        keys[r, i] = price
        st[_LIVE + r] += 1
        best = st[_BEST + r]
        if st[_STALE + r] == 0 and (best == 0 or (price > best if r == 0 else price < best)):
            st[_BEST + r] = price
    vals[r, i] = size
    return True


@njit
def judge(keys: np.ndarray, st: np.ndarray) -> None:
    """Count the book becoming crossed (best bid >= best ask), between updates."""
    for r in range(2):
        if st[_STALE + r]:
            best = 0
            for k in keys[r]:
                if k > 0 and (best == 0 or (k > best if r == 0 else k < best)):
                    best = k
            st[_BEST + r] = best
            st[_STALE + r] = 0
    crossed = st[_BEST] != 0 and st[_BEST + 1] != 0 and st[_BEST] >= st[_BEST + 1]
    if crossed and st[_CROSSED] == 0:
        st[_EPISODES] += 1
    st[_CROSSED] = 1 if crossed else 0


@njit
def _key(buf: np.ndarray, pos: int, end: int, name: int) -> int:
    """Where the value of the one-letter key `name` starts, or -1."""
    while pos < end:
        if buf[pos] != 34:
            pos += 1
            continue
        close = string_end(buf, pos, end)
        if close == pos + 2 and buf[pos + 1] == name:
            value = key_value(buf, close, end)
            if value >= 0:
                return value
        pos = close + 1
    return -1


@njit
def _decimal(buf: np.ndarray, pos: int, end: int) -> tuple[int, int, bool]:
    """A decimal (quoted or not) as an exact integer of 1e-8: (position after it, value, ok)."""
    pos = skip_ws(buf, pos, end)
    quoted = pos < end and buf[pos] == 34
    pos += 1 if quoted else 0
    value = 0
    digits = 0
    decs = -1
    ok = True
    while pos < end:
        c = buf[pos]
        if 48 <= c <= 57:
            if decs < EXP:
                value = value * 10 + (c - 48)
                decs += 0 if decs < 0 else 1
            elif c != 48:
                ok = False  # a non-zero digit past the 8th decimal
            digits += 1
        elif c == 46 and decs < 0:
            decs = 0
        else:
            break
        pos += 1
    if quoted:
        if pos >= end or buf[pos] != 34:
            ok = False
        pos += 1
    for _ in range(EXP - max(decs, 0)):
        value *= 10
    return pos, value, ok and digits > 0


@njit
def _levels(
    buf: np.ndarray, pos: int, end: int, r: int, exch: int, at: int,
    keys: np.ndarray, vals: np.ndarray, st: np.ndarray, out: np.ndarray, n: int,
) -> tuple[int, bool]:  # fmt: skip
    """Apply one side's `[[price, size], ...]`; returns (rows written so far, ok)."""
    if buf[pos] != 91:  # [
        return n, False
    pos = skip_ws(buf, pos + 1, end)
    while pos < end and buf[pos] != 93:  # ]
        if buf[pos] != 91:
            return n, False
        pos, price, ok = _decimal(buf, pos + 1, end)
        pos = skip_ws(buf, pos, end)
        if not ok or pos >= end or buf[pos] != 44:
            return n, False
        pos, size, ok = _decimal(buf, pos + 1, end)
        pos = skip_ws(buf, pos, end)
        if not ok or pos >= end or buf[pos] != 93:
            return n, False
        if _set(keys, vals, st, r, price, size):
            out[0, n], out[1, n], out[2, n] = DEPTH, BID if r == 0 else ASK, exch
            out[3, n], out[4, n], out[5, n] = at, price, size
            n += 1
        pos = skip_ws(buf, pos + 1, end)
        if pos < end and buf[pos] == 44:
            pos = skip_ws(buf, pos + 1, end)
    return n, pos < end


@njit
def apply_block(
    buf: np.ndarray, los: np.ndarray, his: np.ndarray, kind: np.ndarray, side: np.ndarray,
    exch: np.ndarray, at: np.ndarray, keys: np.ndarray, vals: np.ndarray, st: np.ndarray, out: np.ndarray,
) -> tuple[int, int]:  # fmt: skip
    """Apply messages buf[los[k]:his[k]] in order; returns (rows written, -1), or (rows, k) when
    message k could not be read, or (rows, -2 - k) when the book must grow (`HashBook.grow`)
    before message k."""
    n = 0
    for k in range(len(kind)):
        lo, hi = los[k], his[k]
        if max(st[_USED], st[_USED + 1]) + (hi - lo) // 7 > keys.shape[1] // 2:
            return n, -2 - k  # the book needs more room (at most a level per 7 bytes): from k on
        if kind[k] == MSG_TRADE:
            p = _key(buf, lo, hi, 112)  # "p"
            q = _key(buf, lo, hi, 113)  # "q"
            if p < 0 or q < 0:
                return n, k
            _, price, ok_p = _decimal(buf, p, hi)
            _, size, ok_q = _decimal(buf, q, hi)
            if not (ok_p and ok_q):
                return n, k
            out[0, n], out[1, n], out[2, n] = TRADE, side[k], exch[k]
            out[3, n], out[4, n], out[5, n] = at[k], price, size
            n += 1
            continue
        for r in range(2):
            v = _key(buf, lo, hi, 98 if r == 0 else 97)  # "b" then "a"
            if v < 0:
                return n, k
            n, ok = _levels(buf, v, hi, r, exch[k], at[k], keys, vals, st, out, n)
            if not ok:
                return n, k
        judge(keys, st)
    return n, -1


@njit
def _rehash(
    old_keys: np.ndarray, old_vals: np.ndarray, keys: np.ndarray, vals: np.ndarray, st: np.ndarray
) -> None:
    for r in range(2):
        st[_LIVE + r] = st[_USED + r] = 0
        for i in range(old_keys.shape[1]):
            if old_keys[r, i] > 0:
                _set(keys, vals, st, r, old_keys[r, i], old_vals[r, i])


class HashBook:
    """Both sides of one market's book (prices and sizes in 1e-8), for the compiled block pass."""

    def __init__(self) -> None:
        self.keys = np.zeros((2, _MIN_SLOTS), dtype=np.int64)
        self.vals = np.zeros((2, _MIN_SLOTS), dtype=np.int64)
        self.st = np.zeros(10, dtype=np.int64)

    def grow(self, levels: int) -> None:
        """Room for `levels` more levels per side, the table at most half full (deleted slots
        dropped)."""
        live = int(max(self.st[_LIVE], self.st[_LIVE + 1]))
        slots = _MIN_SLOTS
        while live + levels > slots // 4:
            slots *= 2
        old_keys, old_vals = self.keys, self.vals
        self.keys = np.zeros((2, slots), dtype=np.int64)
        self.vals = np.zeros((2, slots), dtype=np.int64)
        self.st[_BEST : _STALE + 2] = (0, 0, 1, 1)
        _rehash(old_keys, old_vals, self.keys, self.vals, self.st)

    def side(self, side: int) -> dict[int, int]:
        """One side's levels (+1 bids, -1 asks): price -> size."""
        r = 0 if side == BID else 1
        live = self.keys[r] > 0
        return dict(zip(self.keys[r][live].tolist(), self.vals[r][live].tolist(), strict=True))

    def replace(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        """The book becomes these levels (a snapshot)."""
        slots = _MIN_SLOTS
        while max(len(bids), len(asks)) > slots // 4:
            slots *= 2
        self.keys = np.zeros((2, slots), dtype=np.int64)
        self.vals = np.zeros((2, slots), dtype=np.int64)
        self.st[:_CROSSED] = 0
        for r, levels in enumerate((bids, asks)):
            for price, size in levels.items():
                _set(self.keys, self.vals, self.st, r, price, size)

    def judge(self) -> None:
        judge(self.keys, self.st)

    @property
    def crossed_episodes(self) -> int:
        return int(self.st[_EPISODES])
