"""Which price levels are live while a converter streams depth rows, and how often the book was
crossed, in one jitted pass per chunk.

Levels live on a window of prices (in ticks) centred on the first price seen; the rare level
outside it (a far-off order on a thin venue) is kept in a dict and never taken for the best. The
book is judged crossed (best bid >= best ask) only between updates: rows sharing one received time
are one update, and a book is briefly crossed inside most of them.
"""

from __future__ import annotations

import numpy as np

from connectors.replay.jit import njit

_WIDTH = 1 << 22
# st: best bid tick, best ask tick (0 = none), crossed episodes, crossed now, last update time
_BID, _ASK, _EPISODES, _CROSSED, _LAST = 0, 1, 2, 3, 4


@njit
def _judge(st: np.ndarray) -> None:
    crossed = st[_BID] != 0 and st[_ASK] != 0 and st[_BID] >= st[_ASK]
    if crossed and st[_CROSSED] == 0:
        st[_EPISODES] += 1
    st[_CROSSED] = 1 if crossed else 0


@njit
def _track(
    side: np.ndarray,
    ticks: np.ndarray,
    live_now: np.ndarray,
    ts: np.ndarray,
    live: np.ndarray,
    st: np.ndarray,
    base: int,
) -> int:
    """Apply rows from 0 on; returns the index of the first row outside the window (or len)."""
    width = live.shape[1]
    for i in range(len(side)):
        if ts[i] != st[_LAST]:
            _judge(st)
            st[_LAST] = ts[i]
        j = ticks[i] - base
        if j < 0 or j >= width:
            return i
        r = 0 if side[i] == 1 else 1
        on = live_now[i]
        live[r, j] = on
        best = st[r]
        if on:
            if best == 0 or (r == 0 and ticks[i] > best) or (r == 1 and ticks[i] < best):
                st[r] = ticks[i]
        elif ticks[i] == best:
            step = -1 if r == 0 else 1
            k = j + step
            while 0 <= k < width and live[r, k] == 0:
                k += step
            st[r] = base + k if 0 <= k < width else 0
    return len(side)


class BookTracker:
    def __init__(self, width: int = _WIDTH) -> None:
        self._width = width
        self._live = np.zeros((2, 0), dtype=np.int8)
        self._st = np.zeros(5, dtype=np.int64)
        self._st[_LAST] = -1
        self._base = 0
        self._far: dict[tuple[int, int], bool] = {}

    def apply(self, side: np.ndarray, ticks: np.ndarray, sizes: np.ndarray, local_ns: np.ndarray) -> None:
        """Depth rows in received order (size 0 deletes the level)."""
        if not len(side):
            return
        if self._live.shape[1] == 0:
            self._live = np.zeros((2, self._width), dtype=np.int8)
            self._base = max(int(ticks[0]) - self._width // 2, 1)
        on = (sizes != 0).astype(np.int8)
        i = 0
        while i < len(side):
            i += _track(side[i:], ticks[i:], on[i:], local_ns[i:], self._live, self._st, self._base)
            if i < len(side):
                key = (int(side[i]), int(ticks[i]))
                if on[i]:
                    self._far[key] = True
                else:
                    self._far.pop(key, None)
                i += 1

    def live_levels(self, side: int) -> np.ndarray:
        """Ticks of every live level on one side (+1 bids, -1 asks), ascending."""
        row = 0 if side == 1 else 1
        near = np.flatnonzero(self._live[row]) + self._base if self._live.shape[1] else np.zeros(0, np.int64)
        far = [p for s, p in self._far if s == side]
        return np.sort(np.concatenate([near.astype(np.int64), np.array(far, dtype=np.int64)]))

    @property
    def empty(self) -> bool:
        return self._st[_BID] == 0 and self._st[_ASK] == 0 and not self._far

    def crossed_episodes(self) -> int:
        """Times the book became crossed between updates (the last update judged too)."""
        st = self._st.copy()
        _judge(st)
        return int(st[_EPISODES])
