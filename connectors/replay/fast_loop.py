"""The fast backtest's whole replay in one jitted call: the grid market maker quotes inside the loop.

Same rows, same order of events and the same exchange-side and local-side functions as
`core.run_until` driving a Python strategy (a test holds the two fill for fill); three things make
it faster on a 2 M-row file (benchmarks/backtest_throughput.py):
- the grid (`grid_quotes`) answers each wake-up in place, instead of one Python call per wake-up;
- the loop keeps its cursors and the channels' next times in locals, re-reading a channel only
  when an event may have changed it;
- a market row that cannot touch one of our resting orders (not at one of their prices, not at or
  through the other side's) only moves the book, with `set_level` compiled into the loop;
  `ex_row` would scan every resting order for it and find nothing to do.
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
    INF_NS,
    O_INFLIGHT,
    O_PRICE,
    O_SIDE,
    R_END,
    R_FILLS_FULL,
    R_SAMPLES_FULL,
    RESP_FILL,
    RING,
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
    S_REQ_HEAD,
    S_REQ_TAIL,
    S_RESP_HEAD,
    S_RESP_TAIL,
    S_WAKE_INTERVAL,
    S_WAKE_ON_FILL,
)
from connectors.replay.local_side import apply_targets, lo_response, maybe_free_slot

_set_level = inlined(set_level)
_ex_row = inlined(ex_row)


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
def _resting_ranges(st: np.ndarray, oi: np.ndarray, act: np.ndarray) -> tuple[int, int, int, int]:
    """(lowest bid, highest bid, lowest ask, highest ask) of our orders resting at the exchange."""
    bid_lo, bid_hi, ask_lo, ask_hi = INF_NS, -INF_NS, INF_NS, -INF_NS
    for k in range(st[S_NACT]):
        slot = act[k]
        px = oi[slot, O_PRICE]
        if oi[slot, O_SIDE] == 1:
            bid_lo, bid_hi = min(bid_lo, px), max(bid_hi, px)
        else:
            ask_lo, ask_hi = min(ask_lo, px), max(ask_hi, px)
    return bid_lo, bid_hi, ask_lo, ask_hi


@inlined
def _may_touch_ours(data: np.ndarray, i: int, bid_lo: int, bid_hi: int, ask_lo: int, ask_hi: int) -> bool:
    """False only when `ex_row` would find none of our resting orders to queue-update or fill."""
    kind = data[C_KIND, i]
    side = data[C_SIDE, i]
    price = data[C_PRICE, i]
    if kind == 1:
        if side == 1:
            return bid_lo <= price <= bid_hi or (data[C_SIZE, i] > 0 and price >= ask_lo)
        return ask_lo <= price <= ask_hi or (data[C_SIZE, i] > 0 and price <= bid_hi)
    if kind == 2:
        return price >= ask_lo if side == 1 else price <= bid_hi
    return False


@inlined
def _book_only_row(data: np.ndarray, i: int, books: np.ndarray, st: np.ndarray) -> None:
    """What `ex_row` does to a row that touches none of our orders."""
    if data[C_EXCH, i] > st[S_EXNOW]:
        st[S_EXNOW] = data[C_EXCH, i]
    if data[C_KIND, i] == 1:
        _set_level(books, st, B_EX + (0 if data[C_SIDE, i] == 1 else 1), data[C_PRICE, i], data[C_SIZE, i])


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
    data: np.ndarray,
    ex_order: np.ndarray,
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
    """Replay until the data ends (R_END) or a buffer must grow (R_FILLS_FULL, R_SAMPLES_FULL:
    grow it and call again). `grid` holds (levels, half_spread, spacing, size, max_position)
    in ticks and lots; `wakes[0]` counts the grid's wake-ups across calls."""
    n = data.shape[1]
    room = oi.shape[0] + 1
    excur, locur = st[S_EXCUR], st[S_LOCUR]
    t_ex = data[C_EXCH, ex_order[excur]] if excur < n else INF_NS
    t_lo = data[C_LOCAL, locur] if locur < n else INF_NS
    t_req = _ring_time(req, st[S_REQ_HEAD], st[S_REQ_TAIL])
    t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
    bid_lo, bid_hi, ask_lo, ask_hi = _resting_ranges(st, oi, act)
    code = 0
    while code == 0:
        t_wake = st[S_NEXTWAKE]
        if t_ex == INF_NS and t_lo == INF_NS:
            if samples.shape[0] - st[S_NSAMPLES] < 1:
                code = R_SAMPLES_FULL
            else:
                _record_sample(st, fst, samples, st[S_LONOW])
                code = R_END
        elif t_ex <= t_req and t_ex <= t_lo and t_ex <= t_resp and t_ex <= t_wake:
            i = ex_order[excur]
            if not _may_touch_ours(data, i, bid_lo, bid_hi, ask_lo, ask_hi):
                _book_only_row(data, i, books, st)
            elif fills.shape[0] - st[S_NFILLS] < room:
                code = R_FILLS_FULL
                break
            else:
                n_fills = st[S_NFILLS]
                _ex_row(data, i, books, st, fst, oi, of, act, resp, fills)
                if st[S_NFILLS] != n_fills:  # a fill may have ended an order and sent an answer
                    bid_lo, bid_hi, ask_lo, ask_hi = _resting_ranges(st, oi, act)
                    t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
            excur += 1
            t_ex = data[C_EXCH, ex_order[excur]] if excur < n else INF_NS
        elif t_req <= t_lo and t_req <= t_resp and t_req <= t_wake:
            if fills.shape[0] - st[S_NFILLS] < room:
                code = R_FILLS_FULL
                break
            _request_arrives(t_req, books, st, fst, oi, of, act, req, resp, fills)
            t_req = _ring_time(req, st[S_REQ_HEAD], st[S_REQ_TAIL])
            t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
            bid_lo, bid_hi, ask_lo, ask_hi = _resting_ranges(st, oi, act)
        elif t_lo <= t_resp and t_lo <= t_wake:
            st[S_LONOW] = t_lo
            if data[C_KIND, locur] == 1:  # lo_row, with set_level compiled in
                side_row = B_LO + (0 if data[C_SIDE, locur] == 1 else 1)
                _set_level(books, st, side_row, data[C_PRICE, locur], data[C_SIZE, locur])
            locur += 1
            t_lo = data[C_LOCAL, locur] if locur < n else INF_NS
        elif t_resp <= t_wake:
            st[S_LONOW] = t_resp
            kind = lo_response(st, oi, resp)
            t_resp = _ring_time(resp, st[S_RESP_HEAD], st[S_RESP_TAIL])
            if kind == RESP_FILL and st[S_WAKE_ON_FILL]:
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
