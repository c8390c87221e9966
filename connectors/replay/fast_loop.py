"""The fast backtest's whole replay in one jitted call: the grid market maker quotes inside the loop.

Same rows, same order of events and the same exchange-side and local-side functions as
`core.run_until` driving a Python strategy (tests/backtest/test_fast_grid.py holds the two fill
for fill). What makes it faster (benchmarks/backtest_throughput.py, 2 M rows: 0.5 s -> 0.1 s CPU):
- the grid (`grid_quotes`) answers each wake-up in place, instead of one Python call per wake-up;
- the loop reads EventData's columns as they are (no packed int64 copy), keeps its cursors and
  the channels' next times in locals, and re-reads a channel only when an event may change it;
- each market row is classified against our resting orders (`_row_reach`): most only move the
  book (`set_level` compiled into the loop), a depth row at one of our prices moves those
  orders' queues through a price index (`_index_resting`), and only a row that may fill us goes
  through `ex_row`, which scans every resting order.
"""

from __future__ import annotations

import math

import numpy as np

from connectors.replay.book import set_level
from connectors.replay.core import _record_sample
from connectors.replay.exchange_side import ex_request, ex_row
from connectors.replay.jit import inlined, njit
from connectors.replay.layout import (
    B_EX,
    B_LO,
    C_EXCH,
    C_KIND,
    C_LOCAL,
    C_PRICE,
    C_SIDE,
    C_SIZE,
    F_QPOWER,
    INF_NS,
    O_INFLIGHT,
    O_PRICE,
    O_SIDE,
    Q_AHEAD,
    Q_TRADED,
    R_END,
    R_FILLS_FULL,
    R_SAMPLES_FULL,
    RESP_FILL,
    RING,
    S_BASE,
    S_BEST,
    S_EXCUR,
    S_EXNOW,
    S_LOCUR,
    S_LONOW,
    S_LOPOS,
    S_NACT,
    S_NEXTWAKE,
    S_NFILLS,
    S_NSAMPLES,
    S_QMODEL,
    S_REQ_HEAD,
    S_REQ_TAIL,
    S_RESP_HEAD,
    S_RESP_TAIL,
    S_WAKE_INTERVAL,
    S_WAKE_ON_FILL,
)
from connectors.replay.local_side import apply_targets, lo_response, maybe_free_slot
from connectors.replay.queue_model import on_depth

_set_level = inlined(set_level)
_ex_row = inlined(ex_row)
_on_depth = inlined(on_depth)


@njit
def grid_quotes(
    levels: int,
    half_spread_ticks: int,
    spacing_ticks: int,
    skew_ticks_per_lot: float,
    size_lots: int,
    max_position_lots: int,
    best_bid_ticks: int,
    best_ask_ticks: int,
    position_lots: int,
    out: np.ndarray,
) -> int:
    """`levels` orders a side, `spacing_ticks` apart, around a reservation price skewed against
    the position, none that would take the position past ±max_position_lots, never crossing the
    local book; rows (side, price_ticks, size_lots) into `out`, returns how many."""
    if best_bid_ticks <= 0 or best_ask_ticks <= 0 or best_bid_ticks >= best_ask_ticks:
        return 0
    reservation = 0.5 * (best_bid_ticks + best_ask_ticks) - skew_ticks_per_lot * position_lots
    top_bid = min(math.floor(reservation - half_spread_ticks), best_ask_ticks - 1)
    top_ask = max(math.ceil(reservation + half_spread_ticks), best_bid_ticks + 1)
    n = 0
    cap = out.shape[0]
    for level in range(levels):
        if position_lots + (level + 1) * size_lots <= max_position_lots and n < cap:
            out[n, 0], out[n, 1], out[n, 2] = 1, top_bid - level * spacing_ticks, size_lots
            n += 1
        if position_lots - (level + 1) * size_lots >= -max_position_lots and n < cap:
            out[n, 0], out[n, 1], out[n, 2] = -1, top_ask + level * spacing_ticks, size_lots
            n += 1
    return n


@inlined
def _ring_time(ring: np.ndarray, head: int, tail: int) -> int:
    return int(ring[head % RING, 0]) if head < tail else INF_NS


@inlined
def _index_resting(
    st: np.ndarray, oi: np.ndarray, act: np.ndarray, heads: np.ndarray, nxt: np.ndarray, marks: np.ndarray
) -> tuple[int, int, int, int, bool]:
    """Index our orders resting at the exchange by side and price: `heads[row * width + column]`
    is the first one's slot + 1 at that book row and column (0: none), `nxt[slot]` the next
    one's; `marks` remembers the entries set, to clear them next time. Returns (lowest bid,
    highest bid, lowest ask, highest ask, every order is inside the book window)."""
    width = heads.shape[0] // 2
    for k in range(marks[0]):
        heads[marks[1 + k]] = 0
    marks[0] = 0
    base = st[S_BASE]
    bid_lo, bid_hi, ask_lo, ask_hi = INF_NS, -INF_NS, INF_NS, -INF_NS
    inside = True
    for k in range(st[S_NACT]):
        slot = act[k]
        px = oi[slot, O_PRICE]
        if oi[slot, O_SIDE] == 1:
            bid_lo, bid_hi = min(bid_lo, px), max(bid_hi, px)
            at = px - base
        else:
            ask_lo, ask_hi = min(ask_lo, px), max(ask_hi, px)
            at = width + px - base
        if 0 <= px - base < width:
            nxt[slot] = heads[at]
            heads[at] = slot + 1
            marks[1 + marks[0]] = at
            marks[0] += 1
        else:
            inside = False
    return bid_lo, bid_hi, ask_lo, ask_hi, inside


BOOK_ONLY, QUEUES, FULL = 0, 1, 2


@inlined
def _row_reach(
    kind: int, side: int, price: int, lots: int, bid_lo: int, bid_hi: int, ask_lo: int, ask_hi: int,
    inside: bool,
) -> int:  # fmt: skip
    """What a market row can do to our resting orders: nothing (BOOK_ONLY: `ex_row` would scan
    them and find nothing to do), move the queue of those at its price (QUEUES), or anything
    (FULL: it may fill one; `ex_row` handles it)."""
    if kind == 1:
        if side == 1:
            crosses, queues = lots > 0 and price >= ask_lo, bid_lo <= price <= bid_hi
        else:
            crosses, queues = lots > 0 and price <= bid_hi, ask_lo <= price <= ask_hi
        if crosses or (queues and not inside):
            return FULL
        return QUEUES if queues else BOOK_ONLY
    if kind == 2 and (price >= ask_lo if side == 1 else price <= bid_hi):
        return FULL
    return BOOK_ONLY


@inlined
def _book_row(
    exch_ns: int, kind: int, side: int, price: int, lots: int, books: np.ndarray, st: np.ndarray
) -> int:
    """`ex_row` on a row that fills nothing: the exchange clock and book; returns the level's
    previous size (0 for a row that is not a depth row)."""
    if exch_ns > st[S_EXNOW]:
        st[S_EXNOW] = exch_ns
    if kind != 1:
        return 0
    return _set_level(books, st, B_EX + (0 if side == 1 else 1), price, lots)


@inlined
def _move_queues(
    side: int, price: int, lots: int, prev: int, st: np.ndarray, fst: np.ndarray, of: np.ndarray,
    heads: np.ndarray, nxt: np.ndarray,
) -> None:  # fmt: skip
    """`ex_row`'s queue update for our orders at a depth row's price (indexed: no scan)."""
    at = price - st[S_BASE] + (0 if side == 1 else heads.shape[0] // 2)
    s = heads[at]
    while s > 0:
        slot = s - 1
        of[slot, Q_AHEAD] = _on_depth(
            st[S_QMODEL], fst[F_QPOWER], of[slot, Q_AHEAD], of[slot, Q_TRADED], prev, lots
        )
        of[slot, Q_TRADED] = 0.0
        s = nxt[slot]


@njit
def _finish(st: np.ndarray, fst: np.ndarray, samples: np.ndarray) -> int:
    """Both timelines are done: the last sample, as `core.run_until` records it."""
    if samples.shape[0] - st[S_NSAMPLES] < 1:
        return R_SAMPLES_FULL
    _record_sample(st, fst, samples, st[S_LONOW])
    return R_END


@inlined
def _request_arrives(
    t_req: int,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    req: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
) -> None:
    """The oldest request reaches the exchange (as `core.run_until` does it)."""
    k = st[S_REQ_HEAD] % RING
    st[S_REQ_HEAD] += 1
    if t_req > st[S_EXNOW]:
        st[S_EXNOW] = t_req
    slot = req[k, 2]
    oi[slot, O_INFLIGHT] -= 1
    ex_request(req[k, 1], slot, books, st, fst, oi, of, act, resp, fills)
    maybe_free_slot(oi, slot)


@inlined
def _quote(
    st: np.ndarray, oi: np.ndarray, req: np.ndarray, lat: np.ndarray, targets: np.ndarray, grid: np.ndarray,
    skew_ticks_per_lot: float, wakes: np.ndarray,
) -> None:  # fmt: skip
    wakes[0] += 1
    n = grid_quotes(
        grid[0], grid[1], grid[2], skew_ticks_per_lot, grid[3], grid[4],
        st[S_BEST + B_LO], st[S_BEST + B_LO + 1], st[S_LOPOS], targets,
    )  # fmt: skip
    apply_targets(st, oi, req, lat, targets, n)


@njit
def run_grid(
    kind: np.ndarray,
    side: np.ndarray,
    exch: np.ndarray,
    local: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    ex_order: np.ndarray,
    ex_in_order: bool,
    books: np.ndarray,
    st: np.ndarray,
    fst: np.ndarray,
    oi: np.ndarray,
    of: np.ndarray,
    act: np.ndarray,
    req: np.ndarray,
    resp: np.ndarray,
    fills: np.ndarray,
    samples: np.ndarray,
    lat: np.ndarray,
    targets: np.ndarray,
    grid: np.ndarray,
    skew_ticks_per_lot: float,
    wakes: np.ndarray,
) -> int:
    """Replay the event columns (EventData's, unpacked) until the data ends (R_END) or a buffer
    must grow (R_FILLS_FULL, R_SAMPLES_FULL: grow it and call again). Exchange rows go in
    `ex_order`, or in file order when `ex_in_order`. `grid` holds (levels, half_spread, spacing,
    size, max_position) in ticks and lots; `wakes[0]` counts the grid's wake-ups across calls."""
    n = kind.shape[0]
    room = oi.shape[0] + 1
    excur, locur = st[S_EXCUR], st[S_LOCUR]
    t_ex = exch[excur if ex_in_order else ex_order[excur]] if excur < n else INF_NS
    t_lo = local[locur] if locur < n else INF_NS
    one = np.zeros((6, 1), dtype=np.int64)  # the row `ex_row` is given: it reads only row i
    t_req = _ring_time(req, st[S_REQ_HEAD], st[S_REQ_TAIL])
    t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
    heads = np.zeros(2 * books.shape[1], dtype=np.int64)
    nxt = np.zeros(oi.shape[0], dtype=np.int64)
    marks = np.zeros(oi.shape[0] + 1, dtype=np.int64)
    bid_lo, bid_hi, ask_lo, ask_hi, inside = _index_resting(st, oi, act, heads, nxt, marks)
    code = 0
    while code == 0:
        t_wake = st[S_NEXTWAKE]
        if t_ex == INF_NS and t_lo == INF_NS:
            code = _finish(st, fst, samples)
        elif t_ex <= t_req and t_ex <= t_lo and t_ex <= t_resp and t_ex <= t_wake:
            i = excur if ex_in_order else ex_order[excur]
            k, sd, px, lots = kind[i], side[i], price[i], size[i]
            reach = _row_reach(k, sd, px, lots, bid_lo, bid_hi, ask_lo, ask_hi, inside)
            if reach != FULL:
                prev = _book_row(t_ex, k, sd, px, lots, books, st)
                if reach == QUEUES:
                    _move_queues(sd, px, lots, prev, st, fst, of, heads, nxt)
            elif fills.shape[0] - st[S_NFILLS] < room:
                code = R_FILLS_FULL
                break
            else:
                n_fills = st[S_NFILLS]
                one[C_KIND, 0], one[C_SIDE, 0], one[C_EXCH, 0] = k, sd, t_ex
                one[C_LOCAL, 0], one[C_PRICE, 0], one[C_SIZE, 0] = local[i], px, lots
                _ex_row(one, 0, books, st, fst, oi, of, act, resp, fills)
                if st[S_NFILLS] != n_fills:  # a fill may have ended an order and sent an answer
                    bid_lo, bid_hi, ask_lo, ask_hi, inside = _index_resting(st, oi, act, heads, nxt, marks)
                    t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
            excur += 1
            t_ex = exch[excur if ex_in_order else ex_order[excur]] if excur < n else INF_NS
        elif t_req <= t_lo and t_req <= t_resp and t_req <= t_wake:
            if fills.shape[0] - st[S_NFILLS] < room:
                code = R_FILLS_FULL
                break
            _request_arrives(t_req, books, st, fst, oi, of, act, req, resp, fills)
            t_req = _ring_time(req, st[S_REQ_HEAD], st[S_REQ_TAIL])
            t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
            bid_lo, bid_hi, ask_lo, ask_hi, inside = _index_resting(st, oi, act, heads, nxt, marks)
        elif t_lo <= t_resp and t_lo <= t_wake:
            st[S_LONOW] = t_lo
            if kind[locur] == 1:  # lo_row, with set_level compiled in
                side_row = B_LO + (0 if side[locur] == 1 else 1)
                _set_level(books, st, side_row, price[locur], size[locur])
            locur += 1
            t_lo = local[locur] if locur < n else INF_NS
        elif t_resp <= t_wake:
            st[S_LONOW] = t_resp
            answer = lo_response(st, oi, resp)
            t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
            if answer == RESP_FILL and st[S_WAKE_ON_FILL]:
                _quote(st, oi, req, lat, targets, grid, skew_ticks_per_lot, wakes)
                t_req = _ring_time(req, st[S_REQ_HEAD], st[S_REQ_TAIL])
        elif samples.shape[0] - st[S_NSAMPLES] < 1:
            code = R_SAMPLES_FULL
        else:
            st[S_LONOW] = t_wake
            _record_sample(st, fst, samples, t_wake)
            st[S_NEXTWAKE] = t_wake + st[S_WAKE_INTERVAL]
            _quote(st, oi, req, lat, targets, grid, skew_ticks_per_lot, wakes)
            t_req = _ring_time(req, st[S_REQ_HEAD], st[S_REQ_TAIL])
    st[S_EXCUR], st[S_LOCUR] = excur, locur
    return code


@njit
def exchange_in_order(exch_ts_ns: np.ndarray) -> bool:
    """True when the rows are already in exchange-time order (no reordering needed)."""
    n = exch_ts_ns.shape[0]
    i = 1
    while i < n and exch_ts_ns[i] >= exch_ts_ns[i - 1]:
        i += 1
    return i >= n
